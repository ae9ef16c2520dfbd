"""Running collector sources: sources -> enrichment -> disk queue -> sink, with acknowledgements.

One thread per source reads batches, enriches them, writes them to the
:class:`~sentinel.ingest.queue.DiskQueue` and only then lets the source
persist its position. One shipper thread takes the oldest queued batches,
hands them to the sink and deletes them from the queue only when the sink has
accepted them; while the sink is down it retries with exponential backoff and
jitter, and the events wait on disk.

Policy when the queue is full: backpressure first (the source stops reading;
a file simply waits, a TCP sender is slowed by flow control); after
``full_wait`` seconds an alert event ``collector-queue-full`` is written; a live
source that must then discard input counts it and the runner writes an
``collector-events-dropped`` alert with the count. Nothing is lost silently.

Status (queue depth, lag, errors, dropped) goes to the log and to
``<data_dir>/collect/status/<name>.json``, which ``GET /api/collect/status`` serves.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sentinel import ecs
from sentinel.collect import Source
from sentinel.config import Settings
from sentinel.errors import Unavailable
from sentinel.ingest.pipeline import IngestCounts
from sentinel.ingest.queue import DiskQueue, Lease, QueueError
from sentinel.ingest.sinks import Sink, SinkRejected, SinkUnavailable
from sentinel.localdb import write_private

log = logging.getLogger(__name__)

Enricher = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@dataclass
class RunOptions:
    """Tuning of one collector run (defaults suit a commune edge)."""

    ship_batch: int = 5000  # events per sink call
    # Seconds the shipper waits for a fuller batch while fewer than ship_batch events are queued: a commune
    # edge reading one event a second then sends one request per ship_linger seconds, not one per event
    # (each request costs the central worker milliseconds whatever its size; bench/RESULTS.md, issue 18).
    ship_linger: float = 0.0
    full_wait: float = 10.0  # seconds of backpressure before the queue-full alert
    retry_initial: float = 0.5
    retry_max: float = 60.0
    status_interval: float = 5.0
    max_queue_events: int = 2_000_000
    max_queue_bytes: int = 2 << 30
    queue_sync: str = "full"


@dataclass
class RunStats:
    """Totals of a run; also the body of the status file."""

    name: str
    sink: str
    read: int = 0
    queued: int = 0
    shipped: int = 0
    stored: int = 0
    duplicates: int = 0
    parse_errors: int = 0
    alerts: int = 0
    dropped: int = 0
    dead_lettered: int = 0
    retries: int = 0
    queue_depth: int = 0
    queue_bytes: int = 0
    sink_ok: bool = True
    last_error: str | None = None
    source_failures: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def collector_dir(settings: Settings, name: str) -> Path:
    """Where a collector keeps its queue and read positions."""
    return settings.collect_dir / name


def status_dir(settings: Settings) -> Path:
    return settings.collect_dir / "status"


def collector_event(collector: str, action: str, message: str, severity: int = 3) -> dict[str, Any]:
    """An alert event about the collector itself (queue full, input dropped), stored like any event."""
    ts = ecs.now_ts()
    return {
        "@timestamp": ts,
        "ecs": {"version": ecs.ECS_VERSION},
        "event": {
            "id": ecs.event_id(f"collector:{collector}", f"{action}:{time.time_ns()}", message),
            "kind": "alert",
            "module": "sentinel",
            "dataset": "sentinel.collector",
            "action": action,
            "severity": severity,
            "created": ts,
        },
        "message": message,
        "observer": {"name": collector, "type": "collector", "hostname": socket.gethostname()},
    }


class Runner:
    """Run ``sources`` into ``sink`` through ``queue``; see the module docstring for the policy."""

    def __init__(
        self,
        name: str,
        sources: list[Source],
        sink: Sink,
        queue: DiskQueue,
        *,
        enrich: Enricher | None = None,
        options: RunOptions | None = None,
        status_path: Path | None = None,
    ) -> None:
        self.name = name
        self.sources = sources
        self.sink = sink
        self.queue = queue
        self.enrich = enrich
        self.options = options or RunOptions()
        self.status_path = status_path
        self.stats = RunStats(name=name, sink=sink.name)
        self._lock = threading.Lock()
        self._done: set[str] = set()
        self._dropped_seen: dict[str, int] = {}
        self._full_alerted = False

    # -- producers ---------------------------------------------------------------
    def _produce(self, source: Source, stop: threading.Event) -> None:
        try:
            for batch in source.batches(stop):
                events = self.enrich(batch.events) if self.enrich else batch.events
                if not self._enqueue(source, events, stop):
                    return  # stopping while full: a replayable source re-reads on restart
                source.commit(batch.checkpoint)
        except Exception as exc:  # a source bug must be visible, and must not stop the others
            log.exception("%s: source %s failed", self.name, source.name)
            with self._lock:
                self.stats.source_failures.append(f"{source.name}: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._done.add(source.name)
            self.queue.wake()

    def _put(self, events: list[dict[str, Any]], stop: threading.Event) -> bool:
        """Queue ``events``; while the queue file cannot be written (disk full) the source waits and retries.

        False when the queue stayed full for ``full_wait`` or ``stop`` came during the retries.
        """
        attempt = 0
        while True:
            try:
                return self.queue.put(events, timeout=self.options.full_wait)
            except QueueError as exc:
                attempt += 1
                with self._lock:
                    self.stats.last_error = str(exc)
                if attempt == 1 or attempt % 10 == 0:
                    log.error("%s: %s; the source is held back and retries (attempt %d)", self.name, exc, attempt)
                if stop.wait(min(self.options.retry_max, self.options.retry_initial * 2 ** min(attempt - 1, 30))):
                    return False

    def _enqueue(self, source: Source, events: list[dict[str, Any]], stop: threading.Event) -> bool:
        while not self._put(events, stop):
            if not self._full_alerted:
                self._full_alerted = True
                msg = (
                    f"collector {self.name}: queue full ({self.queue.depth} events, {self.queue.size_bytes} bytes) "
                    f"for {self.options.full_wait:g}s; {self.sink.name} last error: {self.stats.last_error}; "
                    "sources are held back (backpressure)"
                )
                log.error(msg)
                self.queue.put([collector_event(self.name, "collector-queue-full", msg, severity=4)], force=True)
            if stop.is_set():
                if source.replayable:
                    return False
                self.queue.put(events, force=True)  # live input cannot be read again: keep it
                break
        with self._lock:
            self.stats.queued += len(events)
        return True

    # -- shipper -----------------------------------------------------------------
    def _ship(self, lease: Lease, stop: threading.Event) -> bool:
        """Deliver one lease, retrying while the sink is unavailable. False if stopped first."""
        attempt = 0
        while True:
            try:
                counts = self.sink.send(lease.events)
            except SinkUnavailable as exc:
                attempt += 1
                delay = min(self.options.retry_max, self.options.retry_initial * 2 ** min(attempt - 1, 30))
                delay = random.uniform(delay / 2, delay)  # jitter: edges that lost the link do not return in step
                with self._lock:
                    self.stats.retries += 1
                    self.stats.sink_ok = False
                    self.stats.last_error = str(exc)
                if attempt == 1 or attempt % 10 == 0:
                    log.warning(
                        "%s: %s unavailable (%s); retry %d in %.1fs", self.name, self.sink.name, exc, attempt, delay
                    )
                if stop.wait(delay):
                    return False
                continue
            except SinkRejected as exc:
                counts = self._isolate(lease, str(exc))
            self.queue.ack(lease)
            self._count(counts, len(lease.events))
            if attempt:
                log.info("%s: %s reachable again after %d retries", self.name, self.sink.name, attempt)
            return True

    def _isolate(self, lease: Lease, reason: str) -> IngestCounts:
        """Find the events the sink refuses by halving; deliver the rest, dead-letter the refused."""
        counts = IngestCounts()
        refused: list[dict[str, Any]] = []
        pending = [lease.events]
        while pending:
            part = pending.pop()
            try:
                counts.add(self.sink.send(part))
            except SinkRejected as exc:
                if len(part) == 1:
                    refused.append(part[0])
                    reason = str(exc)
                else:
                    mid = len(part) // 2
                    pending += [part[:mid], part[mid:]]
        if refused:
            self.queue.put_dead(refused, reason)
            log.error(
                "%s: %d events refused by %s and kept in the dead-letter table: %s",
                self.name,
                len(refused),
                self.sink.name,
                reason,
            )
            with self._lock:
                self.stats.dead_lettered += len(refused)
        return counts

    def _count(self, counts: IngestCounts, n: int) -> None:
        with self._lock:
            s = self.stats
            s.shipped += n
            s.stored += counts.stored
            s.duplicates += counts.duplicates
            s.parse_errors += counts.parse_errors
            s.alerts += counts.alerts
            s.sink_ok = True

    # -- status ------------------------------------------------------------------
    def status(self) -> RunStats:
        with self._lock:
            s = self.stats
            s.queue_depth = self.queue.depth
            s.queue_bytes = self.queue.size_bytes
            s.sources = []
            read = dropped = 0
            for src in self.sources:
                st = src.status()
                read += st.read
                dropped += st.dropped
                s.sources.append({**asdict(st), "done": src.name in self._done})
            s.read, s.dropped = read, dropped
            return RunStats(**asdict(s))

    def _check_drops(self) -> None:
        for src in self.sources:
            dropped = src.status().dropped
            seen = self._dropped_seen.get(src.name, 0)
            if dropped > seen:
                self._dropped_seen[src.name] = dropped
                msg = (
                    f"collector {self.name}: source {src.name} could not keep {dropped - seen} events "
                    f"({dropped} in total) because the queue stayed full; {self.sink.name}: {self.stats.last_error}"
                )
                log.error(msg)
                self.queue.put([collector_event(self.name, "collector-events-dropped", msg, severity=5)], force=True)

    def write_status(self) -> RunStats:
        stats = self.status()
        if self.status_path is not None:
            doc = {**stats.as_dict(), "pid": os.getpid(), "updated": ecs.now_ts()}
            try:
                write_private(self.status_path, orjson.dumps(doc))
            except (OSError, Unavailable) as exc:  # disk full: the status is for operators, the events matter more
                log.warning("%s: cannot write the status file %s: %s", self.name, self.status_path, exc)
        return stats

    def _report(self, stop: threading.Event, finished: threading.Event) -> None:
        while not finished.wait(self.options.status_interval):
            self._check_drops()
            s = self.write_status()
            lag = sum(x["lag"] or 0 for x in s.sources)
            log.info(
                "%s: read %d, stored %d, duplicates %d, parse errors %d, queue %d, lag %.0f, dropped %d%s",
                self.name,
                s.read,
                s.stored,
                s.duplicates,
                s.parse_errors,
                s.queue_depth,
                lag,
                s.dropped,
                "" if s.sink_ok else f", target down: {s.last_error}",
            )

    # -- run ---------------------------------------------------------------------
    def run(self, *, once: bool, stop: threading.Event | None = None) -> RunStats:
        """Run until ``stop`` is set, or with ``once`` until finite sources end and the queue is empty."""
        stop = stop or threading.Event()
        finished = threading.Event()
        threads = [
            threading.Thread(target=self._produce, args=(src, stop), name=f"source-{src.name}", daemon=True)
            for src in self.sources
        ]
        reporter = threading.Thread(target=self._report, args=(stop, finished), name="status", daemon=True)
        for t in threads:
            t.start()
        reporter.start()
        shipped_at = -math.inf
        try:
            while True:
                with self._lock:
                    all_done = len(self._done) == len(self.sources)
                if stop.is_set() and all_done:
                    break  # what is still queued stays on disk for the next start
                lease = self.queue.peek(self.options.ship_batch)
                if lease is not None:
                    wait = shipped_at + self.options.ship_linger - time.monotonic()
                    if wait > 0 and len(lease.events) < self.options.ship_batch and not (stop.is_set() or all_done):
                        stop.wait(min(wait, 0.25))  # let the batch fill; look again soon (a full one goes at once)
                        continue
                    if not self._ship(lease, stop):
                        break
                    shipped_at = time.monotonic()
                    continue
                if all_done and once:
                    break
                # while stopping, sources are queueing their last batches: look again soon
                self.queue.wait_for_data(0.05 if stop.is_set() else 0.25)
            if once and not stop.is_set():
                self._finish(stop)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
            finished.set()
            reporter.join(timeout=5)
            self._check_drops()
            stats = self.write_status()
        return stats

    def _finish(self, stop: threading.Event) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                counts = self.sink.finish()
                self._count(counts, 0)
                return
            except SinkUnavailable as exc:
                attempt += 1
                log.warning("%s: cannot flush detection at the end (%s); retrying", self.name, exc)
                stop.wait(min(self.options.retry_max, self.options.retry_initial * 2**attempt))


def run_sources(
    sources: list[Source],
    settings: Settings,
    *,
    once: bool,
    sink: Sink,
    name: str = "collector",
    enrich: Enricher | None = None,
    options: RunOptions | None = None,
    stop: threading.Event | None = None,
) -> RunStats:
    """Run ``sources`` into ``sink`` with the durable queue in ``data_dir`` (the caller closes the sink).

    The entry point for every collector command (files, syslog, pcap, NetFlow).
    """
    opts = options or RunOptions()
    queue = DiskQueue(
        collector_dir(settings, name) / "queue.db",
        max_events=opts.max_queue_events,
        max_bytes=opts.max_queue_bytes,
        sync="full" if opts.queue_sync == "full" else "normal",
    )
    runner = Runner(
        name, sources, sink, queue, enrich=enrich, options=opts, status_path=status_dir(settings) / f"{name}.json"
    )
    try:
        return runner.run(once=once, stop=stop)
    finally:
        queue.close()
