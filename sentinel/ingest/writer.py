"""One writer per store for callers on many threads: the API's ingest endpoint and forwarded correlations.

Request threads used to take turns through one pipeline behind a lock: one batch at a time,
its protection holding the server's interpreter while analysts' reads waited. Here a caller
admits its batch (drops the events the store already holds), hands its transforms to the
worker processes (several batches are protected at once, outside this process) and queues it;
one thread stores and detects the queued batches in arrival order, so the store has one writer
and detection one timeline. The caller gets a future with the batch's counts. The queue is
bounded: when it is full, callers wait (backpressure on the collectors, whose queues keep the
events meanwhile).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sentinel.ingest.pipeline import IngestCounts, Pipeline

T = TypeVar("T")

# Batches queued for the writer before callers wait.
DEPTH = 8
# Seconds the writer thread waits for a batch before it ends (the next batch starts another).
IDLE_SECONDS = 1.0


class BatchWriter:
    """Batches from callers on many threads through ``pipeline``: transforms in its workers, one writer thread."""

    def __init__(self, pipeline: Pipeline, depth: int = DEPTH) -> None:
        self.pipeline = pipeline
        self._queue: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue(maxsize=depth)
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if pipeline.workers is not None:
            pipeline.workers.start()  # spawned workers load for seconds: while the first batch is read

    def submit(self, events: list[dict[str, Any]]) -> Future[IngestCounts]:
        """Store ``events`` and run detection on what was new; the future holds the batch's counts."""
        pipeline = self.pipeline
        events, counts = pipeline.admit(events)  # a retried batch costs a lookup, not protection
        if pipeline.workers is not None and events:
            parts = pipeline.workers.submit_parts(events)
            return self._put(lambda: pipeline.commit([e for part in parts for e in part.get()], counts))
        return self._put(lambda: pipeline.commit(pipeline.transform(events), counts))

    def call(self, work: Callable[[Pipeline], T]) -> Future[T]:
        """Run ``work(pipeline)`` on the writer thread, after what is queued (detection state has one owner)."""
        return self._put(lambda: work(self.pipeline))

    def _put(self, work: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:  # the writer ends only with an empty queue, under this lock
            if self._closed:
                raise RuntimeError("the batch writer is closed")
            self._queue.put((work, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._write, name="ingest-writer", daemon=True)
                self._thread.start()
        return future

    def _write(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # idle: end; the next batch starts a writer again
                        self._thread = None
                        return
                continue
            if item is None:
                return
            work, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work())
            except BaseException as exc:  # the caller answers with it; the writer goes on with the next batch
                future.set_exception(exc)

    def close(self) -> None:
        """Write what is queued, stop the thread, then close the pipeline (its workers); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()
        self.pipeline.close()
