"""Running ``sentinel`` as an operator does: on a terminal, with ``--quiet``, and piped into another program.

Progress is drawn only when standard error is a terminal, so it is tested through a pseudo-terminal
(:mod:`pty`) in a real process; standard output stays a pipe, as when a result is redirected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BAR = "━"  # what rich draws a progress bar with, whether its total is known or not


def sentinel_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without its ``SENTINEL_*`` settings, plus the given data directory and these."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    return {**base, "SENTINEL_DATA_DIR": str(data_dir), "SENTINEL_CONTENT_DIR": str(REPO), "TERM": "xterm", **extra}


def on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run ``sentinel`` with standard error on a pseudo-terminal: exit code, what it drew there, standard output."""
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
    return proc.returncode, drawn.decode(errors="replace"), out


def piped(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass
class ThreeWays:
    """What a command showed on a terminal, on a terminal with ``--quiet``, and with standard error piped."""

    terminal: str
    quiet: str
    piped: str


def three_ways(
    args: list[str], env: dict[str, str], cwd: Path, prepare: Callable[[], None] = lambda: None
) -> ThreeWays:
    """Run the command three times (``prepare`` before each: a run may consume its input); each must succeed."""
    prepare()
    code, drawn, out = on_a_terminal(args, env, cwd)
    assert code == 0, drawn + out
    terminal = drawn + out
    prepare()
    code, drawn, out = on_a_terminal([*args, "--quiet"], env, cwd)
    assert code == 0, drawn + out
    quiet = drawn + out
    prepare()
    done = piped(args, env, cwd)
    assert done.returncode == 0, done.stderr
    return ThreeWays(terminal, quiet, done.stderr + done.stdout)


def assert_progress_only_on_a_terminal(seen: ThreeWays, label: str, summary: str) -> None:
    """The bar (with its label) on the terminal only; the closing summary line every time."""
    assert BAR in seen.terminal and label in seen.terminal, seen.terminal
    assert BAR not in seen.quiet and BAR not in seen.piped
    for text in (seen.terminal, seen.quiet, seen.piped):
        assert summary in text, text
