"""The operator's first minutes, through the installed command in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from sentinel.cli.main import COMMANDS

REPO = Path(__file__).resolve().parents[2]


def _sentinel(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    return subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_every_command_without_importing_them(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from sentinel.cli.main import main\n"
        "sys.argv = ['sentinel', '--help']\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('sentinel.cli.') and m != 'sentinel.cli.main')\n"
        "heavy = sorted(m for m in ('pydantic', 'presidio_analyzer', 'sigma', 'fastapi') if m in sys.modules)\n"
        "print('LOADED', loaded, heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "LOADED [] []" in done.stdout
    flat = " ".join(done.stdout.split())  # help lines may wrap on a narrow terminal
    for name, (_, line) in COMMANDS.items():
        assert f" {name} {line}" in flat, name


def test_every_command_in_the_table_resolves_to_a_command() -> None:
    from sentinel.cli.main import LazyGroup, cli

    assert isinstance(cli, LazyGroup)
    ctx = click.Context(cli)
    for name, (_, line) in COMMANDS.items():
        assert isinstance(cli.get_command(ctx, name), click.Command), name
        assert 0 < len(line) <= 80, name


def test_a_read_only_command_refuses_a_missing_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "nowhere"
    done = _sentinel("search", "sqlmap", cwd=tmp_path, env={"SENTINEL_DATA_DIR": str(data)})
    assert done.returncode == 2
    assert str(data) in done.stderr and "SENTINEL_DATA_DIR" in done.stderr
    assert not data.exists() and not (tmp_path / "data").exists()  # nothing created, here or there


def test_info_shows_where_things_are_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "state"
    done = _sentinel("info", cwd=tmp_path, env={"SENTINEL_DATA_DIR": str(data), "SENTINEL_CONTENT_DIR": str(REPO)})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"data directory  {data}  (does not exist yet)" in out
    assert "embedded SQLite" in out and "not created yet" in out
    assert "rules" in out and str(REPO / "rules") in out and str(REPO / "classifiers") in out
    assert "accounts" in out and "none" in out
    assert not data.exists()


def test_a_configuration_mistake_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "sentinel.yaml"
    config.write_text("api:\n  port: eighty\n  hots: x\nbatch_size: 0\n", encoding="utf-8")
    done = _sentinel("--config", str(config), "search", "x", cwd=tmp_path)
    assert done.returncode == 2
    problems = [line for line in done.stderr.splitlines() if str(config) in line]
    assert len(problems) == 3, done.stderr
    assert "Traceback" not in done.stderr


def _portal_log(tmp_path: Path, lines: int) -> Path:
    path = tmp_path / "access.log"
    row = '203.0.113.{n} - - [01/Jul/2026:10:00:{s:02d} +0700] "GET /dvc/{i} HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'
    path.write_text("".join(row.format(n=i % 250, s=i % 60, i=i) for i in range(lines)), encoding="utf-8")
    return path


def _on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run ``sentinel`` with its standard error on a pseudo-terminal; return the exit code and what it drew."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentinel.cli.main", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        drawn += chunk
    out = proc.communicate(timeout=300)[0].decode()
    os.close(leader)
    return proc.returncode, drawn.decode(errors="replace") + out


def test_ingest_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    log = _portal_log(tmp_path, 30_000)
    base = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env = {**base, "SENTINEL_DATA_DIR": str(tmp_path / "a"), "SENTINEL_CONTENT_DIR": str(REPO), "TERM": "xterm"}
    code, drawn = _on_a_terminal(["ingest", "--no-detect", str(log)], env, tmp_path)
    assert code == 0, drawn
    assert "ingest" in drawn and "bytes/s" in drawn  # the live bar, with its rate
    assert "read 30,000" in drawn and "lines/s" in drawn  # the summary line

    env["SENTINEL_DATA_DIR"] = str(tmp_path / "b")
    code, drawn = _on_a_terminal(["ingest", "--no-detect", "--quiet", str(log)], env, tmp_path)
    assert code == 0 and "bytes/s" not in drawn and "read 30,000" in drawn

    piped = _sentinel(
        "ingest", "--no-detect", str(log), cwd=tmp_path, env={**env, "SENTINEL_DATA_DIR": str(tmp_path / "c")}
    )
    assert piped.returncode == 0 and "bytes/s" not in piped.stderr and "read 30,000" in piped.stdout
    forced = _sentinel(
        "ingest", "--no-detect", str(log), cwd=tmp_path,
        env={**env, "SENTINEL_DATA_DIR": str(tmp_path / "d"), "SENTINEL_PROGRESS": "1"},
    )  # fmt: skip
    assert forced.returncode == 0 and "ingest: " in forced.stderr and "bytes" in forced.stderr


def test_policy_check_reports_progress_in_files_when_asked(tmp_path: Path) -> None:
    tree = tmp_path / "repo"
    tree.mkdir()
    for i in range(3):
        (tree / f"t{i}.csv").write_text("ma_ho_so,trang_thai\nHS-001,da_nhan\n", encoding="utf-8")
    env = {"SENTINEL_DATA_DIR": str(tmp_path / "d"), "SENTINEL_CONTENT_DIR": str(REPO)}
    quiet = _sentinel("policy", "check", str(tree), "--jobs", "1", cwd=tmp_path, env=env)
    loud = _sentinel("policy", "check", str(tree), "--jobs", "1", cwd=tmp_path, env={**env, "SENTINEL_PROGRESS": "1"})
    assert quiet.returncode == loud.returncode == 0, quiet.stderr + loud.stderr
    assert "policy check: 1 of 3 files" in loud.stderr
    assert "policy check:" not in quiet.stderr
    # the report itself is the same (its last line carries the time taken)
    assert quiet.stdout.splitlines()[:-1] == loud.stdout.splitlines()[:-1]
