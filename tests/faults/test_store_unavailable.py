"""The store unavailable, then back: Elasticsearch unreachable, and the SQLite store locked by another process.

Nothing may be lost or duplicated and the collector must resume by itself:
events wait in its disk queue while the store refuses them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

from nodes import Processes, access_lines, count, distinct_paths, edge_definition, edge_status, free_port, wait_for

from sentinel.store.sqlite import SQLiteStore
from tests.store.es_sim import MiniCluster, _Handler

N = 4000


def test_elasticsearch_unreachable_events_wait_then_arrive_once(tmp_path: Path, procs: Processes) -> None:
    log = tmp_path / "access.log"
    log.write_text(access_lines(N))
    data = tmp_path / "data"
    port = free_port()
    out = tmp_path / "edge.out"
    edge = procs.collector(["--config", str(edge_definition(tmp_path, log)), "--once"], data, out,
                           SENTINEL_ES_URL=f"http://127.0.0.1:{port}")  # fmt: skip

    def waiting() -> bool:
        s = edge_status(data)
        return s.get("retries", 0) >= 3 and s.get("queue_depth") == N and not s.get("sink_ok", True)

    wait_for(waiting, 90, "every event queued while Elasticsearch is unreachable", edge, out)
    # the cluster comes up on the address the collector was given (a scripted one: no cluster can run here)
    cluster = MiniCluster()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    httpd.cluster = cluster  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        assert edge.wait(120) == 0, out.read_text()[-3000:]
    finally:
        httpd.shutdown()
        httpd.server_close()
    ids = [i for stream in cluster.streams for _, i in cluster.stream_docs(stream)]
    assert len(ids) == N and len(set(ids)) == N
    final = edge_status(data)
    assert final["stored"] == N and final["queue_depth"] == 0 and final["retries"] >= 3


def test_sqlite_store_locked_by_another_process_waits_then_stores_once(tmp_path: Path, procs: Processes) -> None:
    log = tmp_path / "access.log"
    log.write_text(access_lines(N))
    data = tmp_path / "data"
    data.mkdir()
    db = data / "sentinel.db"
    SQLiteStore(db).close()
    # another process (a backup tool, an operator's sqlite3 shell) takes the write lock until told to let go
    release = tmp_path / "release"
    holder = procs.start(["-c", (
        "import pathlib, sqlite3, time\n"
        f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True)\n"
        f"end = time.monotonic() + 120\nwhile not pathlib.Path({str(release)!r}).exists() and time.monotonic() < end:\n"
        "    time.sleep(0.05)\n"
        "c.execute('COMMIT')\n"
    )], {}, tmp_path / "holder.out")  # fmt: skip
    wait_for(lambda: "locked" in (tmp_path / "holder.out").read_text(), 30, "the lock", holder)
    out = tmp_path / "edge.out"
    edge = procs.collector(["--config", str(edge_definition(tmp_path, log)), "--once"], data, out)
    wait_for(lambda: edge_status(data).get("queue_depth", 0) == N, 90, "every event queued while the store is locked",
             edge, out)  # fmt: skip
    time.sleep(1.0)
    assert count(db) == 0 and edge.poll() is None, "events wait in the queue while the store is locked"
    release.touch()
    assert edge.wait(120) == 0, out.read_text()[-3000:]
    assert holder.wait(10) == 0
    assert count(db) == N and distinct_paths(db) == N
    try:
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
