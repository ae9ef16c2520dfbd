"""Enrichment and protection of ingest batches in worker processes, results in input order.

Protection (the recognisers) costs several times what parsing, storing and detection
cost together, and Python runs one core per process, so ``sentinel ingest --workers N``
hands the transforms of each batch to a pool of processes while the calling process
keeps what must stay single: reading and merging the streams, the one writer of the
store, and detection, fed in input order (correlations need one timeline). At most
``depth`` batches are in flight, so memory stays bounded whatever the input size.

Where the platform forks, workers are forked from the caller once it has built its stages
(the policy, the recognisers, the name tagger's model if it ran): they start in milliseconds
and share those pages instead of each spending seconds of CPU loading them again. Elsewhere
they are spawned and build the stages from the same :class:`Settings`, so either way they
protect with the same policy and keys. Workers never touch the store.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.pool import AsyncResult, Pool
from typing import Any

from sentinel.collect import LineReader
from sentinel.config import Settings

_STAGES: list[Any] = []


def default_workers() -> int:
    """One worker per core this process may use; none (in-process transforms) on a single core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if cores > 1 else 0


def _adopt(stages: list[Any]) -> None:
    """A forked worker: the caller's stages, already built."""
    _STAGES[:] = stages


def _build(settings: Settings) -> None:
    """A spawned worker: build the stages from the settings."""
    from sentinel.ingest.assemble import edge_stages
    from sentinel.runtime import Runtime, settle_heap

    runtime = Runtime(settings)
    _STAGES[:] = edge_stages(runtime, runtime.address_plan)
    settle_heap()


def _run(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for stage in _STAGES:
        events = [stage(e) for e in events]
    return events


def _read(reader: LineReader, source: str, lines: list[tuple[int, bytes]]) -> list[dict[str, Any]] | None:
    """Parse a part of a stream, then transform it; None when a line needs the stream's own reader (syslog)."""
    events: list[dict[str, Any]] = []
    for offset, line in lines:
        parsed = reader.parse_alone(line, source=source, position=offset)
        if parsed is None:
            return None
        events.extend(parsed)
    return _run(events)


class TransformWorkers:
    """A pool of processes running the pipeline's transforms on whole batches."""

    def __init__(self, settings: Settings, count: int, stages: list[Any]) -> None:
        if count < 1:
            raise ValueError("TransformWorkers needs at least one worker")
        self.count = count
        self.depth = 2  # batches in flight, each shared by all workers: one being protected, one queued
        self._settings = settings
        self._stages = stages
        self._pool: Pool | None = None
        self._closed = False

    def submit(self, events: list[dict[str, Any]]) -> AsyncResult:
        """Transform ``events`` in a worker; the processes start on the first call."""
        return self._apply(_run, (events,))

    def _apply(self, func: Any, args: tuple[Any, ...]) -> AsyncResult:
        if self._closed:
            raise RuntimeError("the transform workers are closed")
        if self._pool is None:
            if "fork" in multiprocessing.get_all_start_methods():
                self._pool = multiprocessing.get_context("fork").Pool(self.count, _adopt, (self._stages,))
            else:
                self._pool = multiprocessing.get_context("spawn").Pool(self.count, _build, (self._settings,))
        return self._pool.apply_async(func, args)

    def submit_lines(self, reader: LineReader, source: str, lines: list[tuple[int, bytes]]) -> AsyncResult:
        """Parse ``(offset, line)`` pairs of ``source`` with a copy of ``reader`` and transform them, in a worker.

        Raw lines cost next to nothing to send, parsed events several times more: parsing where the
        transforms run leaves this process reading, storing and detecting. The result is None when a
        line needs the stream's own reader (a syslog line): the caller parses that part itself.
        """
        return self._apply(_read, (reader, source, lines))

    def close(self) -> None:
        """Stop the workers (waits for them; idempotent)."""
        self._closed = True
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
