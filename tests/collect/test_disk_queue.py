"""The disk queue: FIFO, at-least-once across restarts, bounded with backpressure, dead letters."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from sentinel.ingest.queue import DiskQueue


def _batch(start: int, n: int) -> list[dict]:
    return [{"event": {"id": f"e{i}"}, "n": i} for i in range(start, start + n)]


def test_fifo_and_ack(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.db")
    q.put(_batch(0, 3))
    q.put(_batch(3, 2))
    assert q.depth == 5
    lease = q.peek(100)
    assert lease is not None
    assert [e["n"] for e in lease.events] == [0, 1, 2, 3, 4]
    # peek does not remove: the same rows come back until acknowledged
    again = q.peek(100)
    assert again is not None and again.seqs == lease.seqs
    q.ack(lease)
    assert q.depth == 0 and q.peek(100) is None


def test_peek_limits_events_but_returns_at_least_one_batch(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.db")
    q.put(_batch(0, 10))
    q.put(_batch(10, 10))
    lease = q.peek(5)
    assert lease is not None and len(lease.events) == 10  # one whole batch even if larger than asked
    lease = q.peek(15)
    assert lease is not None and len(lease.events) == 10
    lease = q.peek(20)
    assert lease is not None and len(lease.events) == 20


def test_unacknowledged_batches_survive_a_restart(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.db")
    q.put(_batch(0, 4))
    q.put(_batch(4, 4))
    first = q.peek(4)
    assert first is not None
    q.ack(first)
    q.put(_batch(8, 1))
    q.peek(100)  # handed out but never acknowledged: the shipper "crashed"
    q.close()
    q2 = DiskQueue(tmp_path / "q.db")
    assert q2.depth == 5
    lease = q2.peek(100)
    assert lease is not None
    # read back from disk (not from the in-memory copy) with the same content
    assert [e["n"] for e in lease.events] == [4, 5, 6, 7, 8]
    assert lease.events[0] == {"event": {"id": "e4"}, "n": 4}


def test_disk_copy_equals_memory_copy(tmp_path: Path) -> None:
    events = [{"event": {"id": "x"}, "s": "Phường Ba Đình", "f": 1.5, "l": [1, {"a": None}]}]
    q = DiskQueue(tmp_path / "q.db")
    q.put(events)
    hot = q.peek(10)
    cold = DiskQueue(tmp_path / "q.db", hot_limit=0).peek(10)
    assert hot is not None and cold is not None
    assert hot.events == cold.events == events


def test_full_queue_blocks_then_times_out(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.db", max_events=10)
    assert q.put(_batch(0, 8))
    t0 = time.monotonic()
    assert q.put(_batch(8, 5), timeout=0.3) is False
    assert time.monotonic() - t0 >= 0.25
    assert q.depth == 8
    # force (collector health events) ignores the bound
    assert q.put(_batch(100, 1), force=True)
    assert q.depth == 9


def test_full_queue_resumes_when_acked(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.db", max_events=10)
    q.put(_batch(0, 8))
    done = threading.Event()

    def producer() -> None:
        q.put(_batch(8, 5), timeout=5)
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    time.sleep(0.2)
    assert not done.is_set()  # backpressure: the producer waits
    lease = q.peek(100)
    assert lease is not None
    q.ack(lease)
    t.join(5)
    assert done.is_set() and q.depth == 5


def test_batch_larger_than_bound_goes_into_an_empty_queue(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.db", max_events=10)
    assert q.put(_batch(0, 50), timeout=0.1)


def test_dead_letters_are_kept(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.db")
    q.put_dead(_batch(0, 2), "rejected: mapping conflict")
    assert q.dead_count() == 1
    q.close()
    row = sqlite3.connect(tmp_path / "q.db").execute("SELECT reason FROM dead").fetchone()
    assert row == ("rejected: mapping conflict",)


def test_byte_bound(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.db", max_bytes=2000)
    big = [{"event": {"id": str(i)}, "pad": "x" * 500} for i in range(3)]
    assert q.put(big)
    assert q.put(big, timeout=0.05) is False
    assert q.size_bytes > 1500
