"""Correlation state shared out between several central workers by group key.

Past one machine, several ``sentinel serve`` workers take edge collectors' batches
(each batch to whichever worker the collector posts to) and write to one store.
Storing, de-duplication by ``event.id`` and single-event rules need no coordination:
every worker does them for what it receives. A correlation counts the matches of one
group (``source.ip``, ``user.name``, ...) across every worker's input, so each group
has one owner: :func:`owner` is a stable hash of the correlation and the group's
values (the same on every worker and every run, unlike Python's salted ``hash``)
modulo the number of workers. A worker keeps the state of the groups it owns and
hands every other match to :class:`Forwarder`, which queues it durably
(:class:`~sentinel.ingest.queue.DiskQueue`) and ships it with the collector's runner
to the owner's ``POST /api/correlate``, retrying while the owner is down; the owner
correlates it as if it had received the event itself
(:meth:`sentinel.detect.engine.Engine.receive`). So the groups' counts are those of
one process, whatever the number of workers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

import orjson

from sentinel.config import Settings, hint
from sentinel.errors import Invalid
from sentinel.ingest.collector import Runner, RunOptions, collector_dir, status_dir
from sentinel.ingest.queue import DiskQueue
from sentinel.ingest.sinks import HttpSink

# The owner's endpoint for forwarded matches.
CORRELATE_PATH = "/api/correlate"


def owner(correlation: str, group: Sequence[Any], count: int) -> int:
    """The worker (0 .. count-1) that owns ``group`` of ``correlation``: the same answer in every process."""
    if count < 1:
        raise ValueError("a partition needs at least one worker")
    key = orjson.dumps([correlation, list(group)], default=str, option=orjson.OPT_NON_STR_KEYS)
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % count


class Forwarder:
    """The :class:`~sentinel.detect.correlation.Router` of one worker of a partitioned deployment.

    Matches of groups other workers own are collected while a batch is detected; :meth:`flush`
    (the pipeline calls it before answering the batch's sender) writes them to one disk queue per
    peer, and a runner thread per peer ships them in order, deleting them only once the owner
    accepted them. A restarted worker ships what its queues still hold. :meth:`forward` and :meth:`flush`
    are called by the one thread that runs detection (the engine's state is not shared between threads).
    """

    def __init__(self, settings: Settings, token: str, options: RunOptions | None = None) -> None:
        peers = settings.partition.peers
        if len(peers) < 2:
            raise Invalid("a partitioned worker needs at least two peers (itself included)")
        if not token:
            raise Invalid(f"workers forward correlation matches with the ingest token: set {hint('ingest_token')}")
        self.index = settings.partition.index
        self.count = len(peers)
        self._pending: dict[int, list[dict[str, Any]]] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queues: dict[int, DiskQueue] = {}
        self._runners: dict[int, Runner] = {}
        # matches wait up to half a second to travel together: one request per peer and half second, not per batch
        opts = options or RunOptions(
            ship_batch=2000, ship_linger=0.5, retry_initial=0.2, retry_max=5.0, status_interval=2.0
        )
        for j, url in enumerate(peers):
            if j == self.index:
                continue
            name = f"partition-{self.index}-to-{j}"
            # "normal": survives a killed process; a power cut loses the owner's in-memory windows anyway
            queue = DiskQueue(collector_dir(settings, name) / "queue.db", sync="normal")
            sink = HttpSink(url, token, path=CORRELATE_PATH)
            self._queues[j] = queue
            status = status_dir(settings) / f"{name}.json"
            self._runners[j] = Runner(name, [], sink, queue, options=opts, status_path=status)
        # matches left queued by a previous run are shipped now
        if any(q.depth for q in self._queues.values()):
            self._start()

    def owns(self, correlation: str, group: tuple[Any, ...]) -> bool:
        return owner(correlation, group, self.count) == self.index

    def forward(self, correlation: str, group: tuple[Any, ...], rule: str, event: dict[str, Any]) -> None:
        target = owner(correlation, group, self.count)
        self._pending.setdefault(target, []).append({"rule": rule, "correlation": correlation, "event": event})

    def flush(self) -> None:
        """Queue the matches collected since the last flush (durably) and make sure they are being shipped."""
        if not self._pending:
            return
        for target, matches in self._pending.items():
            self._queues[target].put(matches)  # blocks while the peer's queue is full: backpressure
        self._pending.clear()
        self._start()

    def _start(self) -> None:
        if self._threads or self._stop.is_set():
            return
        for j, runner in self._runners.items():
            t = threading.Thread(
                target=runner.run, kwargs={"once": False, "stop": self._stop}, name=f"partition-to-{j}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        """Stop shipping (what is still queued stays on disk for the next start) and close the queues."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=35)  # a request in flight ends within the sink's timeout
        self._threads.clear()
        for j, runner in self._runners.items():
            runner.sink.close()
            self._queues[j].close()
