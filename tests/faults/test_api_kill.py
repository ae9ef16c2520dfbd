"""kill -9 of the central Sentinel (the API that edge collectors ship to) in the middle of ingest.

The collector keeps every batch in its disk queue until the central answered
with counts; a batch whose answer was lost with the killed process is sent
again and the store drops it by ``event.id``. So after the restart every line
is stored exactly once, without anyone intervening.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from nodes import Processes, access_lines, count, distinct_paths, free_port, kill9, wait_for

N = 12_000


def test_central_killed_then_collector_killed_while_it_is_down_every_line_stored_once(
    tmp_path: Path, procs: Processes
) -> None:
    log = tmp_path / "access.log"
    log.write_text(access_lines(N))
    central_dir, edge_dir = tmp_path / "central", tmp_path / "edge"
    db = central_dir / "sentinel.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    central_log, edge_log = tmp_path / "central.out", tmp_path / "edge.out"
    status = edge_dir / "collect" / "status" / "web.json"
    args = ["file", str(log), "--once", "--name", "web", "--to", url]

    central = procs.central(central_dir, port, central_log)
    edge = procs.collector(args, edge_dir, edge_log)
    # 1. kill -9 the central while batches are arriving
    wait_for(lambda: count(db) >= 2000, 90, "the first stored events", edge, edge_log)
    kill9(central)
    stored = count(db)
    assert 0 < stored < N, f"the kill must land in the middle of the ingest ({stored} of {N})"

    # 2. the collector keeps everything on disk and retries; then it is killed too
    def queued() -> bool:
        doc = orjson.loads(status.read_bytes()) if status.exists() else {}
        return doc.get("retries", 0) > 0 and doc.get("queue_depth", 0) > 0

    wait_for(queued, 60, "the collector to queue and retry while the central is down", edge, edge_log)
    kill9(edge)

    # 3. both come back by themselves: the queue drains where it stopped
    procs.central(central_dir, port, central_log)
    edge = procs.collector(args, edge_dir, edge_log)
    assert edge.wait(180) == 0, edge_log.read_text()[-3000:]

    assert count(db) == N, f"{count(db)} events stored for {N} lines"
    assert distinct_paths(db) == N
    final = orjson.loads(status.read_bytes())
    assert final["queue_depth"] == 0 and final["dropped"] == 0  # (this run's counters: the retries were the first's)
