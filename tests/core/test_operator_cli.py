"""The operator's first minutes, through the installed command in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

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


READ_ONLY = [
    ["search", "sqlmap"],
    ["classify", "scan", "events:"],
    ["audit", "verify"],
    ["audit", "show"],
    ["users", "list"],
    ["tokens", "list"],
    ["respond", "report"],
    ["respond", "suppressions"],
    ["playbooks", "show-run", "run-1"],
]


@pytest.mark.parametrize("args", READ_ONLY, ids=[" ".join(a[:2]) for a in READ_ONLY])
def test_a_read_only_command_refuses_a_missing_data_directory(tmp_path: Path, args: list[str]) -> None:
    data = tmp_path / "nowhere"
    done = _sentinel(*args, cwd=tmp_path, env={"SENTINEL_DATA_DIR": str(data)})
    assert done.returncode == 2
    assert str(data) in done.stderr and "SENTINEL_DATA_DIR" in done.stderr and len(done.stderr.splitlines()) == 1
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


def test_shell_completion_for_bash_and_zsh_knows_the_lazy_commands(tmp_path: Path) -> None:
    """What the README tells operators to put in ~/.bashrc or ~/.zshrc, through the entry point (named sentinel)."""
    script = [sys.executable, "-m", "sentinel.cli.main"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}

    def complete(env: dict[str, str]) -> str:
        done = subprocess.run(script, env={**base, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "_sentinel_completion()" in complete({"_SENTINEL_COMPLETE": "bash_source"})
    assert complete({"_SENTINEL_COMPLETE": "zsh_source"}).startswith("#compdef sentinel")
    words = {"_SENTINEL_COMPLETE": "bash_complete", "COMP_WORDS": "sentinel classify s", "COMP_CWORD": "2"}
    assert complete(words).split() == ["plain,scan"]  # a subcommand of a group loaded only when asked
    assert "plain,classify" in complete({**words, "COMP_WORDS": "sentinel cl", "COMP_CWORD": "1"}).split()
