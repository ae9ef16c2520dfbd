"""Session-wide checks: a test run leaves no thread, child process, stray file or temporary folder behind.

A non-daemon thread left running keeps the interpreter from exiting (the run prints its summary and
never returns), and a leftover process or daemon thread keeps sockets, files and CPU. At the end
of the session every thread but the main one and every child process must have ended; whatever
is still there after a short grace is named and the run fails. A file a test writes into the
checkout (instead of its own temporary folder) fails the run too: it gets committed by accident.

Temporary files and folders the run makes (``tempfile`` in the tests and in child processes, through
``TMPDIR``) go to one folder of the run's own; what a test left there is named and the run fails, then
the folder is removed. pytest's own ``tmp_path`` folders stay under the system's temporary folder,
where pytest keeps the last few runs' for inspection.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

GRACE_SECONDS = 5.0
# threads that libraries keep for the whole process, by name prefix, and that end with it
PROCESS_WIDE = ("asyncio_", "ThreadPoolExecutor-", "AnyIO worker thread")
# child processes multiprocessing keeps for the whole process (they exit with it)
PROCESS_WIDE_CHILDREN = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")
# kept in the temporary folder on purpose: pySigma's ATT&CK cache (detect/attack_data.py), and the folder
# multiprocessing keeps for the whole process once a pool has started (removed when the process exits)
KEPT_TEMPORARY = ("sentinel-attack-", "pymp-")

_run_temp: Path | None = None
_before: tuple[str | None, str | None, str | None] = (None, None, None)


def pytest_configure(config: pytest.Config) -> None:
    global _run_temp, _before
    _before = (tempfile.tempdir, os.environ.get("TMPDIR"), os.environ.get("PYTEST_DEBUG_TEMPROOT"))
    system = tempfile.gettempdir()
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", system)  # pytest's tmp_path folders, pruned by pytest
    _run_temp = Path(tempfile.mkdtemp(prefix="sentinel-test-run-", dir=system))
    _run_temp.chmod(0o711)  # others may pass through, not list: PostgreSQL runs as its own user in a folder here
    os.environ["TMPDIR"] = str(_run_temp)  # child processes
    tempfile.tempdir = str(_run_temp)  # this process


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the run's temporary folder and give the process its own back (pytest may run again in it)."""
    global _run_temp
    if _run_temp is not None:
        shutil.rmtree(_run_temp, ignore_errors=True)
        _run_temp = None
    tempfile.tempdir = _before[0]
    for name, value in (("TMPDIR", _before[1]), ("PYTEST_DEBUG_TEMPROOT", _before[2])):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def temporary_leftovers(folder: Path) -> list[str]:
    """Entries a test left in the run's temporary folder."""
    return sorted(f"temporary {p}" for p in folder.iterdir() if not p.name.startswith(KEPT_TEMPORARY))


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
    if _run_temp is not None and _run_temp.is_dir():
        left += temporary_leftovers(_run_temp)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "tests left these behind (end or remove them in the test or its fixture):\n  " + "\n  ".join(left)
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
