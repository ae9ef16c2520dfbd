"""Inside the writer process (:mod:`sentinel.ingest.writer`): decode, admit, protect, store, detect, answer.

The server sends each request as a small header ``(kind, collector)`` and the raw JSON-lines bytes; this
process decodes them (a line that is not an event with an id becomes a ``pipeline_error`` event), drops
what the store holds, shares the rest out between its transform workers (forked from this process
before it starts any thread) and itself (no workers, or a batch of a few events: itself alone), and
stores and detects the batches in arrival order, answering each with a tuple of counts. Forwarded
correlation matches go through the same loop, after what is queued: detection state has one owner. A
request's failure is its own answer; the loop goes on.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

from sentinel.collect import build_event
from sentinel.config import Settings
from sentinel.errors import Invalid, Unavailable
from sentinel.ingest.pipeline import Pipeline
from sentinel.ingest.workers import Pending

INGEST, CORRELATE, STOP = "ingest", "correlate", "stop"
# counts of an ingest answer, in this order (the API's IngestOut)
COUNTS = ("received", "stored", "duplicates", "parse_errors", "rejected_lines", "alerts")


def decode(text: bytes, collector: str) -> tuple[list[dict[str, Any]], int]:
    """Events from JSON lines; a line that is not an event with an id is kept as a pipeline_error event."""
    events: list[dict[str, Any]] = []
    bad = 0
    for lineno, line in enumerate(text.split(b"\n"), 1):
        if not line.strip():
            continue
        reason = None
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            reason = f"line {lineno} is not JSON: {exc}"
        else:
            if not isinstance(doc, dict):
                reason = f"line {lineno} is JSON but not an object"
            elif not isinstance(doc.get("event"), dict) or not isinstance(doc["event"].get("id"), str):
                reason = f"line {lineno} has no event.id (collectors set it so retries do not duplicate)"
            else:
                events.append(doc)
                continue
        bad += 1
        error = build_event(
            None, line, source=f"ingest:{collector}", position=lineno, dataset="sentinel.ingest", error=reason
        )
        del error["log"]["file"]
        events.append(error)
    return events, bad


def matches(text: bytes) -> list[dict[str, Any]]:
    """Forwarded matches from JSON lines; anything else is the sender's bug, refused whole (:class:`Invalid`)."""
    found = []
    for lineno, line in enumerate(text.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise Invalid(f"line {lineno} is not JSON: {exc}") from None
        if not (
            isinstance(doc, dict)
            and isinstance(doc.get("rule"), str)
            and isinstance(doc.get("correlation"), str)
            and isinstance(doc.get("event"), dict)
        ):
            raise Invalid(f"line {lineno} is not a match (rule, correlation, event)")
        found.append(doc)
    return found


def main(
    conn: Connection, settings: Settings, store_path: Path | None, workers: int, worker_nice: int, nice: int
) -> None:
    """The writer process: build the pipeline, then answer requests until told to stop or the server is gone."""
    # the server stops this process once what is queued is written; a terminal's Ctrl-C or a service manager's
    # SIGTERM reach the server, which does (its workers, forked from here, inherit this)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(nice)  # an analyst's read in the server comes before a batch
    try:
        pipeline = _build(settings, store_path, workers, worker_nice)
    except Exception as exc:  # bad content, an unreachable store: every waiting request hears why
        conn.send(("fatal", f"the ingest writer process could not start: {type(exc).__name__}: {exc}"))
        return
    try:
        _Loop(conn, pipeline).run()
    finally:
        pipeline.close()
        pipeline.store.close()


def _build(settings: Settings, store_path: Path | None, workers: int, worker_nice: int) -> Pipeline:
    from sentinel.ingest.assemble import build_pipeline
    from sentinel.runtime import Runtime, settle_heap
    from sentinel.store import SQLiteStore

    runtime = Runtime(settings)
    store = SQLiteStore(store_path) if store_path is not None else runtime.open_store()
    try:
        pipeline = build_pipeline(runtime, store, workers=workers, nice=worker_nice, partitioned=True)
        if pipeline.workers is not None:
            pipeline.workers.start()  # forked now, before any thread: they share the stages just built
    except BaseException:
        store.close()
        raise
    settle_heap()
    return pipeline


Answer = tuple[Any, ...]
# Batches smaller than this are made ready in this process: the two trips through the pool cost more CPU
# than their events (an edge shipping each event as it comes: 2.1-2.2 ms a request instead of 3.0).
INLINE_BELOW = 16
# Seconds between looks at the oldest batch's parts while waiting for the next request.
LOOK = 0.002


class _Batch:
    """A batch taken: decoded, admitted, its parts in the workers; committed (in turn) by calling it."""

    def __init__(self, pipeline: Pipeline, collector: str, payload: bytes) -> None:
        self.pipeline = pipeline
        self.parts: list[Pending] = []
        self.failure: Exception | None = None
        try:
            self.events, self.bad = decode(payload, collector)
            self.admitted, self.counts = pipeline.admit(self.events)  # a retried batch costs a lookup, not protection
            if pipeline.workers is not None and len(self.admitted) >= INLINE_BELOW:
                self.parts = pipeline.workers.submit_parts(self.admitted)
        except Exception as exc:  # answered in turn
            self.failure = exc

    def ready(self) -> bool:
        return all(part.ready() for part in self.parts)

    def __call__(self) -> Answer:
        if self.failure is not None:
            raise self.failure
        pipeline = self.pipeline
        if self.parts:
            done = pipeline.commit_parts(self.parts, self.counts)
        else:
            done = pipeline.commit(pipeline.make_ready(self.admitted), self.counts)
        return (len(self.events), done.stored, done.duplicates, done.parse_errors, self.bad, done.alerts)


class _Loop:
    """Requests in arrival order: the next batches are protected in the workers while one is stored."""

    def __init__(self, conn: Connection, pipeline: Pipeline) -> None:
        self.conn = conn
        self.pipeline = pipeline
        # batches taken at once: with workers, one more than they hold, so they never wait for this process
        self.depth = pipeline.workers.depth + 1 if pipeline.workers is not None else 1
        self.pending: deque[_Batch] = deque()

    def run(self) -> None:
        while True:
            if self.pending:
                if len(self.pending) >= self.depth or self.pending[0].ready():
                    self._answer(self.pending.popleft())
                    continue
                # the oldest is in the workers: take the next request meanwhile, else make a part nobody took yet
                if not self.conn.poll(0) and (self._help() or not self.conn.poll(LOOK)):
                    continue
            try:
                kind, collector = self.conn.recv()
                payload = b"" if kind == STOP else self.conn.recv_bytes()
            except (EOFError, OSError):  # the server is gone: write what was taken, nobody is left to answer
                kind = STOP
            if kind == STOP:
                break
            if kind == CORRELATE:
                self._drain()  # after the batches before it: their matches come first
                self._answer(functools.partial(self._correlate, payload))
            else:
                self.pending.append(_Batch(self.pipeline, collector, payload))
        self._drain()

    def _help(self) -> bool:
        workers = self.pipeline.workers
        return workers is not None and workers.help()

    def _correlate(self, payload: bytes) -> Answer:
        counts = self.pipeline.correlate(matches(payload))
        return (counts.read, counts.alerts)

    def _drain(self) -> None:
        while self.pending:
            self._answer(self.pending.popleft())

    def _answer(self, work: Callable[[], Answer]) -> None:
        try:
            answer: tuple[Any, ...] = ("ok", work())
        except Invalid as exc:
            answer = ("invalid", str(exc))
        except Unavailable as exc:
            answer = ("unavailable", str(exc))
        except Exception as exc:  # a bug: the request answers 500, the next batch goes on
            answer = ("internal", f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(OSError):  # the server is gone; the loop ends at the next read
            self.conn.send(answer)
