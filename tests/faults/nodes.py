"""Real processes for the fault tests: a central Sentinel, edge collectors, and ways to wait on and count them."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

REPO = Path(__file__).resolve().parents[2]
TOKEN = "fault-test-ingest-token-42"
LINE = '10.1.4.{n} - - [01/Jul/2026:10:00:00 +0700] "GET /dvc/{i} HTTP/1.1" 200 12 "-" "k6"\n'


def access_lines(n: int, start: int = 0) -> str:
    """``n`` distinct access-log lines (path ``/dvc/<i>`` tells them apart)."""
    return "".join(LINE.format(i=i, n=i % 250) for i in range(start, start + n))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SENTINEL_DATA_DIR": str(data_dir), "SENTINEL_INGEST_TOKEN": TOKEN}
    env.pop("SENTINEL_ES_URL", None)
    return {**env, **extra}


class Processes:
    """The processes a test started; whatever still runs at the end is killed (by pid, nothing else)."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, *args], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=REPO
        )
        self.started.append(proc)
        return proc

    def collector(self, args: list[str], data_dir: Path, log: Path, **extra: str) -> subprocess.Popen[bytes]:
        return self.start(["-m", "sentinel.cli.main", "collect", *args], env_for(data_dir, **extra), log)

    def central(self, data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
        """Start a central Sentinel on ``port`` and wait until it answers."""
        proc = self.start([str(Path(__file__).with_name("central_node.py")), str(data_dir), str(port)],
                          env_for(data_dir), log)  # fmt: skip
        url = f"http://127.0.0.1:{port}/api/collect/status"

        def up() -> bool:
            try:
                return httpx.get(url, timeout=1).status_code < 500
            except httpx.HTTPError:
                return False

        wait_for(up, 90, "the central Sentinel to answer", proc, log)
        return proc

    def kill_all(self) -> None:
        for p in self.started:
            if p.poll() is None:
                p.kill()
                p.wait(10)


def wait_for(
    cond: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"process exited with {proc.returncode} while waiting for {what}\n{tail}")
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


def kill9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout)


def count(db: Path, sql: str = "SELECT COUNT(*) FROM events") -> int:
    """A count from a SQLite store read by a separate connection (0 before the table exists)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def distinct_paths(db: Path) -> int:
    return count(db, "SELECT COUNT(DISTINCT json_extract(doc, '$.url.original')) FROM events")


def edge_definition(tmp_path: Path, log: Path) -> Path:
    """A collector that retries fast and reports often, storing without detection (the faults are in the writes)."""
    path = tmp_path / "edge.yaml"
    path.write_text(
        f"name: edge\nsources:\n  - type: file\n    name: web\n    paths: ['{log}']\n"
        "output:\n  type: store\n  detect: false\nretry:\n  initial: 0.1\n  max: 0.5\nstatus_interval: 0.2\n"
        "ship_batch: 500\n"
    )
    return path


def edge_status(data_dir: Path) -> dict:
    """The edge collector's last status file ({} before the first)."""
    path = data_dir / "collect" / "status" / "edge.json"
    return orjson.loads(path.read_bytes()) if path.exists() else {}
