"""Session-wide checks: a test run leaves no thread, child process or stray file behind.

A non-daemon thread left running keeps the interpreter from exiting (the run prints its summary and
never returns), and a leftover process or daemon thread keeps sockets, files and CPU. At the end
of the session every thread but the main one and every child process must have ended; whatever
is still there after a short grace is named and the run fails. A file a test writes into the
checkout (instead of its own temporary folder) fails the run too: it gets committed by accident.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

GRACE_SECONDS = 5.0
# threads that libraries keep for the whole process, by name prefix, and that end with it
PROCESS_WIDE = ("asyncio_", "ThreadPoolExecutor-", "AnyIO worker thread")
# child processes multiprocessing keeps for the whole process (they exit with it)
PROCESS_WIDE_CHILDREN = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _children() -> list[str]:
    """Live (not zombie) child processes of this one, as 'pid command'."""
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name_end = text.rfind(")")
        fields = text[name_end + 2 :].split()
        if len(fields) > 1 and fields[1] == me and fields[0] != "Z":
            try:
                command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                command = text[text.find("(") + 1 : name_end]
            if not any(helper in command for helper in PROCESS_WIDE_CHILDREN):
                found.append(f"{stat.parent.name} {command.strip()[:200]}")
    return found


def _threads() -> list[str]:
    return [
        f"{t.name} ({'daemon' if t.daemon else 'non-daemon'})"
        for t in threading.enumerate()
        if t is not threading.main_thread() and t.is_alive() and not t.name.startswith(PROCESS_WIDE)
    ]


def leftovers(grace: float = GRACE_SECONDS) -> list[str]:
    """What is still running after up to ``grace`` seconds; empty when the run cleaned up."""
    deadline = time.monotonic() + grace
    while True:
        left = [f"thread {t}" for t in _threads()] + [f"process {p}" for p in _children()]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def checkout_changes() -> set[str] | None:
    """Untracked and changed files of the checkout (``git status``), or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=Path(__file__).parent.parent,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(out.stdout.splitlines()) if out.returncode == 0 else None


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_CHECKOUT] = checkout_changes()


_CHECKOUT = pytest.StashKey[set[str] | None]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.path.isdir("/proc") or session.config.getoption("collectonly"):
        return
    before = session.config.stash.get(_CHECKOUT, None)
    after = checkout_changes()
    if before is not None and after is not None and after - before:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "tests wrote into the checkout (use tmp_path):\n  " + "\n  ".join(sorted(after - before))
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    left = leftovers()
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "tests left these running (end them in the test or its fixture):\n  " + "\n  ".join(left)
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
