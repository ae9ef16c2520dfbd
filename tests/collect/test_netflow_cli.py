"""``sentinel collect netflow`` as a process: receives on 127.0.0.1, stores, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import netgen

from sentinel.store.base import EventQuery
from sentinel.store.sqlite import SQLiteStore


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stored_flows(db: Path) -> int:
    """Count from a read-only connection: opening the store would race the collector creating its schema."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM events WHERE dataset = 'netflow.flow'").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_netflow_command_receives_stores_and_stops(tmp_path):
    port = _free_udp_port()
    env = {**os.environ, "SENTINEL_DATA_DIR": str(tmp_path / "data")}
    cmd = [sys.executable, "-m", "sentinel.cli.main", "collect", "netflow"]
    cmd += ["--listen", f"udp://127.0.0.1:{port}", "--no-detect"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rec = dict(IPV4_SRC_ADDR="10.3.0.1", IPV4_DST_ADDR="203.113.0.9", PROTOCOL=6, IN_BYTES=4096, IN_PKTS=4)
    export = netgen.netflow_v9([rec, {**rec, "IPV4_SRC_ADDR": "10.3.0.2"}], seq=77)
    db = tmp_path / "data" / "sentinel.db"
    stored = 0
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            deadline = time.monotonic() + 60
            # Resend until stored: the same export always gets the same ids, so repeats add nothing.
            while time.monotonic() < deadline and proc.poll() is None:
                s.sendto(export, ("127.0.0.1", port))
                time.sleep(0.3)
                stored = _stored_flows(db)
                if stored:
                    break
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert stored == 2, out
    assert proc.returncode == 0, out
    assert "netflow: read" in out
    with SQLiteStore(db) as store:
        events = store.search_events(EventQuery(filters={"observer.ip": ["127.0.0.1"]})).events
    assert sorted(e["source"]["ip"] for e in events) == ["10.3.0.1", "10.3.0.2"]
