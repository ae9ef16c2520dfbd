"""The disk-backed queue between collection and shipping.

Commune links drop for minutes or hours, so a collector must keep what it read
until the store (or the central Sentinel) has accepted it. Per-item disk queues
commit once per message and manage a few thousand messages a second; here a
whole source batch is one row (an orjson array) in a SQLite database in WAL
mode, so one transaction carries thousands of events.

Delivery is at-least-once: :meth:`DiskQueue.peek` returns the oldest rows
without removing them and :meth:`DiskQueue.ack` deletes them once the sink has
accepted them. A crash between the two delivers the rows again; deterministic
``event.id`` values make the store drop the repeats.

The queue is bounded (events and bytes). :meth:`DiskQueue.put` blocks while it
is full (backpressure) and tells the caller when the wait timed out, so the
runner can raise an alert; ``force=True`` writes regardless (used only for the
collector's own small health events, never for bulk data).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from sentinel.errors import Unavailable
from sentinel.localdb import connect, migrate

MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY, n INTEGER NOT NULL, size INTEGER NOT NULL, body BLOB);
CREATE TABLE IF NOT EXISTS dead (seq INTEGER PRIMARY KEY, at REAL NOT NULL, reason TEXT NOT NULL, body BLOB);
"""
]


class QueueError(Unavailable):
    """The queue file cannot be opened or written (disk full, corrupt, permissions)."""


@dataclass(frozen=True)
class Lease:
    """Rows handed to the shipper; acknowledge them with :meth:`DiskQueue.ack`."""

    seqs: tuple[int, ...]
    events: list[dict[str, Any]]


class DiskQueue:
    """A bounded FIFO of event batches in one SQLite file, safe to share between threads.

    ``sync="full"`` makes every put survive a power cut (fsync of the WAL per
    batch); ``"normal"`` survives a killed process but not a power cut.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_events: int = 2_000_000,
        max_bytes: int = 2 << 30,
        sync: Literal["full", "normal"] = "full",
        hot_limit: int = 100_000,
    ) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.max_bytes = max_bytes
        try:
            self._db = connect(self.path, "the collector queue", synchronous=sync.upper(), error=QueueError)
            migrate(self._db, MIGRATIONS, str(self.path), QueueError)
            n, size = self._db.execute("SELECT COALESCE(SUM(n), 0), COALESCE(SUM(size), 0) FROM batches").fetchone()
        except (OSError, sqlite3.DatabaseError) as exc:
            raise QueueError(f"cannot open the collector queue {self.path}: {exc}") from None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._events = int(n)
        self._bytes = int(size)
        # Batches put in this process are also kept decoded in memory (up to hot_limit events), so
        # the shipper skips decoding what it just wrote; after a restart it reads the disk copy.
        self.hot_limit = hot_limit
        self._hot: dict[int, list[dict[str, Any]]] = {}
        self._hot_events = 0

    # -- producer side ---------------------------------------------------------
    def put(self, events: list[dict[str, Any]], *, timeout: float | None = None, force: bool = False) -> bool:
        """Append one batch durably. Returns False if the queue stayed full for ``timeout`` seconds.

        ``timeout=None`` waits as long as it takes. A batch larger than the
        whole bound is accepted once the queue is empty, so it cannot wait forever.
        """
        if not events:
            return True
        body = orjson.dumps(events, option=orjson.OPT_NON_STR_KEYS)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not force and not self._fits(len(events), len(body)):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining if remaining is not None else 1.0)
            seq = self._write("INSERT INTO batches(n, size, body) VALUES (?, ?, ?)", (len(events), len(body), body))
            if self._hot_events + len(events) <= self.hot_limit:
                self._hot[seq] = events
                self._hot_events += len(events)
            self._events += len(events)
            self._bytes += len(body)
            self._changed.notify_all()
        return True

    def _fits(self, n: int, size: int) -> bool:
        if self._events == 0:
            return True
        return self._events + n <= self.max_events and self._bytes + size <= self.max_bytes

    # -- consumer side ---------------------------------------------------------
    def peek(self, max_events: int) -> Lease | None:
        """The oldest batches, up to about ``max_events`` (at least one batch), left in the queue."""
        with self._lock:
            rows = self._db.execute("SELECT seq, n, body FROM batches ORDER BY seq LIMIT 64").fetchall()
            hot = dict(self._hot)
        seqs: list[int] = []
        events: list[dict[str, Any]] = []
        for seq, n, body in rows:
            if seqs and len(events) + n > max_events:
                break
            seqs.append(seq)
            cached = hot.get(seq)
            events.extend(cached if cached is not None else orjson.loads(body))
        return Lease(tuple(seqs), events) if seqs else None

    def ack(self, lease: Lease) -> None:
        """Delete rows the sink accepted, waking producers waiting for room."""

        seqs = list(lease.seqs)
        if not seqs:
            return
        marks = ",".join("?" * len(seqs))
        with self._changed:
            n, size = self._db.execute(
                f"SELECT COALESCE(SUM(n), 0), COALESCE(SUM(size), 0) FROM batches WHERE seq IN ({marks})", seqs
            ).fetchone()
            self._write(f"DELETE FROM batches WHERE seq IN ({marks})", tuple(seqs))
            for seq in seqs:
                hot = self._hot.pop(seq, None)
                if hot is not None:
                    self._hot_events -= len(hot)
            self._events -= int(n)
            self._bytes -= int(size)
            self._changed.notify_all()

    def put_dead(self, events: list[dict[str, Any]], reason: str) -> None:
        """Keep events the target refused for good in the ``dead`` table, for inspection and replay by hand."""
        body = orjson.dumps(events, option=orjson.OPT_NON_STR_KEYS)
        with self._lock:
            self._write("INSERT INTO dead(at, reason, body) VALUES (?, ?, ?)", (time.time(), reason, body))

    def wake(self) -> None:
        """Wake a consumer blocked in :meth:`wait_for_data` (a producer finished)."""
        with self._changed:
            self._changed.notify_all()

    def wait_for_data(self, timeout: float) -> bool:
        """Block until the queue holds something or ``timeout`` passes."""
        with self._changed:
            if self._events == 0:
                self._changed.wait(timeout)
            return self._events > 0

    # -- state -------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Events waiting to be shipped."""
        return self._events

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def dead_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM dead").fetchone()[0]

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        try:
            return self._db.execute(sql, params).lastrowid or 0
        except sqlite3.DatabaseError as exc:
            raise QueueError(f"cannot write to the collector queue {self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()
