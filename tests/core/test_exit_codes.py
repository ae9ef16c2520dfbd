"""Every command's exit codes through the installed ``sentinel`` script, as a shell or a CI job sees them.

Click's test runner is not the real entry point: ``main()`` runs the group with
``standalone_mode=False`` and maps errors itself, so a code or message is only known
once a real process has exited. The convention (``sentinel/cli/main.py``): 0 done, 1 a
finding that should fail a CI job, 2 the user's mistake (one line saying what to fix), 70
a bug (one line naming a report file with the traceback).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("sentinel")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "sentinel.cli.main"]
CCCD = "001099012345"  # a valid shape, no real person


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "tmp").mkdir()
    return tmp_path


def sentinel(home: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    """Run the installed command in ``home`` with its own data folder and temp folder (crash reports land there)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    clean |= {
        "SENTINEL_DATA_DIR": str(home / "data"),
        "SENTINEL_CONTENT_DIR": str(ROOT),
        "TMPDIR": str(home / "tmp"),
        **(env or {}),
    }
    return subprocess.run(
        [*COMMAND, *args], cwd=home, env=clean, input=stdin, capture_output=True, text=True, timeout=120
    )


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


# (arguments, expected code, a phrase the one-line message must contain): a user's typical mistakes
MISTAKES = [
    (["no-such-command"], "No such command"),
    (["--config", "missing.yml", "search", "x"], "missing.yml: file not found"),
    (["search", "x", "--since", "yesterday"], "ISO 8601"),
    (["search", "source.ip:(1.2.3.4"], "is never closed"),
    (["ingest", "missing.log"], "missing.log: no such file"),
    (["detect", "missing.log"], "missing.log: no such file"),
    (["anonymize", "rows.csv"], "give INPUT and --purpose"),
    (["classify", "scan", "missing.csv"], "missing.csv: no such file"),
    (["classify", "text", "--threshold", "2"], "--threshold"),
    (["audit", "show", "--last", "many"], "--last"),
    (["rules", "convert", "missing-rules"], "does not exist"),
    (["rules", "test", "--only", "no-such-rule", str(ROOT / "rules")], "no rule's file, title or id contains"),
    (["rules", "schedule", "--once"], "SENTINEL_ES_URL"),
    (["policy", "check", "missing-dir"], "does not exist"),
    (["policy", "reveal", "pe-not-a-token", "--reason", "case 12"], "pe-not-a-token"),
    (["collect"], "give --config collectors/NAME.yaml"),
    (["collect", "netflow", "--listen", "bogus://here"], "bogus"),
    (["users", "add", "lan", "--role", "emperor", "--password-stdin"], "--role"),
    (["users", "disable", "nobody"], "nobody"),
    (["tokens", "revoke", "nothing"], "nothing"),
    (["playbooks", "show-run", "no-such-run"], "no playbook run with id no-such-run"),
    (["playbooks", "run", "playbook--no-such", "alert-1"], "playbook--no-such"),
    (["respond", "suppress", "--hours", "2", "--reason", "everything"], "cannot mute everything"),
    (["escalate", "--interval", "0"], "--interval"),
    (["serve", "--port", "http"], "--port"),
    (["demo", "--seed", "x"], "--seed"),
    (["es", "check"], "SENTINEL_ES_URL"),
    (["es", "setup"], "or use --print"),
    (["es", "dead-letter", "replay"], "SENTINEL_ES_URL"),
    (["es", "dead-letter", "list", "--limit", "all"], "--limit"),
    (["info", "--verbose"], "No such option '--verbose'"),
    (["tokens", "create", "edge-01", "--role", "emperor"], "--role"),
    (["tokens", "list", "--all"], "No such option '--all'"),
    (["users", "list", "--role", "dpo"], "No such option '--role'"),
    (["audit", "head", "--json"], "No such option '--json'"),
    (["audit", "verify", "extra"], "unexpected extra argument"),
    (["rules", "check"], "Missing argument 'PATHS...'"),
    (["rules", "check", "missing-rules"], "does not exist"),
    (["rules", "lint", "missing-rules"], "does not exist"),
    (["classify", "entities", "--format", "json"], "No such option '--format'"),
    (["collect", "file", "--start-at", "middle", "x.log"], "--start-at"),
    (["collect", "syslog", "--listen", "udp://0.0.0.0:99999"], "give a host and a port"),
    (["collect", "pcap", "missing.pcap", "--once"], "missing.pcap' does not exist"),
    (["collect", "live", "--interface", "eth0"], "Did you mean"),
    (["policy", "validate", "--policy", "missing.yaml"], "missing.yaml: no such file"),
    (["policy", "field-access", "--policy", "missing.yaml"], "missing.yaml: file not found"),
    (["anonymize", "--check", "missing.csv"], "missing.csv: no such file"),
    (["playbooks", "validate", "missing-folder"], "'missing-folder' does not exist"),
    (["playbooks", "list", "--folder", "x"], "No such option '--folder'"),
    (["playbooks", "decide", "no-such-run", "--version", "1", "--approve"], "no playbook run with id no-such-run"),
    (["respond", "report", "--days", "0"], "--days"),
    (["respond", "suppressions", "--expired"], "No such option '--expired'"),
    (["respond", "check-config"], "unknown channel(s) nowhere"),
]


@pytest.mark.parametrize(("args", "phrase"), MISTAKES, ids=[" ".join(a[:3]) for a, _ in MISTAKES])
def test_a_mistake_exits_2_with_one_line_saying_what_to_fix(home: Path, args: list[str], phrase: str) -> None:
    (home / "data").mkdir(mode=0o700)  # an installation: the mistake is the only thing wrong
    (home / "rows.csv").write_text("id,so_cccd\n1,001099012345\n", encoding="utf-8")
    respond = home / "respond.yml"  # a route to a channel never defined: what check-config is for
    respond.write_text("routes:\n  - channels: [nowhere]\n", encoding="utf-8")
    env = {"SENTINEL_RESPOND_CONFIG": str(respond)} if args[:2] == ["respond", "check-config"] else {}
    result = sentinel(home, *args, stdin="", env=env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    if args[0] == "search" and "(" in args[1]:  # the line, then the query with a caret
        first, query, caret = result.stderr.splitlines()
        assert phrase in first and query.strip() == args[1] and caret.strip() == "^"
    else:
        assert phrase in one_line(result.stderr), result.stderr
    assert not list((home / "tmp").iterdir())  # no crash report: a mistake is not a bug


def test_an_invalid_configuration_names_the_file_and_line(home: Path) -> None:
    config = home / "sentinel.yml"
    config.write_text("data_dir: ./data\ntimezone: Mars/Olympus_Mons\n", encoding="utf-8")
    result = sentinel(home, "--config", str(config), "search", "x")
    assert result.returncode == 2
    assert f"{config}:2" in one_line(result.stderr) and "Mars/Olympus_Mons" in result.stderr


def test_info_exits_0_and_creates_nothing(home: Path) -> None:
    result = sentinel(home, "info")
    assert result.returncode == 0, result.stderr
    assert "does not exist yet" in result.stdout and not (home / "data").exists()


def test_a_duplicate_user_is_a_mistake_not_a_finding(home: Path) -> None:
    first = sentinel(
        home, "users", "add", "lan", "--role", "soc_analyst", "--password-stdin", stdin="a long passphrase 1\n"
    )
    assert first.returncode == 0, first.stderr
    again = sentinel(home, "users", "add", "lan", "--role", "soc_analyst", "--password-stdin", stdin="another one 22\n")
    assert again.returncode == 2 and "lan" in one_line(again.stderr)


def test_a_broken_audit_chain_exits_1_and_names_the_record(home: Path) -> None:
    for name in ("an", "binh", "chi"):
        made = sentinel(home, "tokens", "create", name, "--role", "collector")
        assert made.returncode == 0, made.stderr
    assert sentinel(home, "audit", "verify").returncode == 0
    log = home / "data" / "audit.log"
    lines = log.read_bytes().splitlines(keepends=True)
    record = orjson.loads(lines[1])
    record["object"] = "someone-else"
    lines[1] = orjson.dumps(record) + b"\n"
    log.write_bytes(b"".join(lines))
    broken = sentinel(home, "audit", "verify")
    assert broken.returncode == 1 and "record 2" in broken.stdout + broken.stderr


def test_a_policy_violation_exits_1_and_a_clean_tree_0(home: Path) -> None:
    (home / "clean").mkdir()
    (home / "clean" / "notes.csv").write_text("id,status\n1,open\n2,closed\n", encoding="utf-8")
    assert sentinel(home, "policy", "check", "clean").returncode == 0
    (home / "dirty").mkdir()
    (home / "dirty" / "rows.csv").write_text(f"ma_kh,so_cccd\n1,{CCCD}\n", encoding="utf-8")
    found = sentinel(home, "policy", "check", "dirty")
    assert found.returncode == 1 and "PD002" in found.stdout and CCCD not in found.stdout + found.stderr


def test_a_failing_rule_exits_1_in_test_and_lint(home: Path) -> None:
    broken = home / "web_scanner_user_agent.yml"
    shutil.copy(ROOT / "rules" / "web" / "web_scanner_user_agent.yml", broken)
    broken.write_text(broken.read_text(encoding="utf-8").replace("- 'sqlmap'", "- 'sqlmapx'"), encoding="utf-8")
    assert sentinel(home, "rules", "test", str(broken)).returncode == 1
    lint = sentinel(home, "rules", "lint", str(broken))
    assert lint.returncode == 1 and "match case 1" in lint.stdout + lint.stderr
    assert sentinel(home, "rules", "lint", str(ROOT / "rules" / "web" / "web_scanner_user_agent.yml")).returncode == 0


def test_a_corrupt_store_is_one_line_not_a_traceback(home: Path) -> None:
    (home / "data").mkdir(mode=0o700)
    (home / "data" / "sentinel.db").write_bytes(b"this is not an SQLite database" * 100)
    result = sentinel(home, "search", "x")
    assert result.returncode == 2 and "sentinel.db" in one_line(result.stderr)


# A bug cannot be typed on purpose (each one found is fixed): this process registers a command that fails the way
# a bug does, then runs the real entry point.
CRASH = """
import sys, click
from sentinel.cli import main as entry
@click.command()
def crash():
    {}.get("x").upper()
entry.COMMANDS["crash"] = ("__main__:crash", "a command with a bug in it")
sys.argv = ["sentinel", "crash"]
entry.main()
"""


def test_a_bug_exits_70_with_one_line_naming_the_report(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")} | {"TMPDIR": str(home / "tmp")}
    result = subprocess.run(
        [sys.executable, "-c", CRASH], cwd=home, env=env, capture_output=True, text=True, timeout=60
    )
    line = one_line(result.stderr)
    assert result.returncode == 70 and line.startswith("internal error: AttributeError")
    reports = list((home / "tmp").glob("sentinel-crash-*.txt"))
    assert len(reports) == 1 and str(reports[0]) in line
    text = reports[0].read_text(encoding="utf-8")
    assert "Traceback" in text and "upper" in text
