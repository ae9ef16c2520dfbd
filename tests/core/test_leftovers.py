"""The session-end check names a thread, child process or temporary folder a test left behind, and nothing else."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# the session-wide conftest, loaded by path: every test folder has a module named conftest
_spec = importlib.util.spec_from_file_location("session_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
_session = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_session)
leftovers = _session.leftovers


def test_a_leftover_thread_and_process_are_named_then_gone():
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, name="forgotten-server")
    t.start()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = leftovers(grace=0.2)
        assert any("forgotten-server (non-daemon)" in f for f in found)
        assert any(f.startswith(f"process {child.pid} ") for f in found)
    finally:
        stop.set()
        t.join()
        child.kill()
        child.wait()
    assert not [f for f in leftovers(grace=2) if "forgotten-server" in f or str(child.pid) in f]


def test_a_file_written_into_the_checkout_is_seen_then_gone():
    before = _session.checkout_changes()
    if before is None:
        import pytest

        pytest.skip("not a git checkout")
    stray = Path(__file__).resolve().parents[2] / "stray-written-by-a-test.db"
    stray.write_bytes(b"")
    try:
        after = _session.checkout_changes()
        assert after - before == {"?? stray-written-by-a-test.db"}
    finally:
        stray.unlink()
    assert _session.checkout_changes() == before


def test_a_leftover_temporary_folder_is_named_then_gone():
    run_temp = Path(tempfile.gettempdir())
    assert run_temp.name.startswith("sentinel-test-run-")  # the run's own folder, in this process
    child = subprocess.run([sys.executable, "-c", "import tempfile; print(tempfile.gettempdir())"], capture_output=True)
    assert child.stdout.decode().strip() == str(run_temp)  # and in the processes it starts
    left = Path(tempfile.mkdtemp(prefix="forgotten-"))
    try:
        assert f"temporary {left}" in _session.temporary_leftovers(run_temp)
    finally:
        left.rmdir()
    assert not [f for f in _session.temporary_leftovers(run_temp) if "forgotten-" in f]
