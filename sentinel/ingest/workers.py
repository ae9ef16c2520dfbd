"""Parsing, enrichment, protection, encoding and rule matching of ingest batches in worker processes.

Python runs one core per process, so ``sentinel ingest``, ``sentinel collect`` and the API's
ingest endpoint hand everything done to one event alone (:class:`~sentinel.ingest.ready.MakeReady`)
to a pool of processes (``workers`` setting, default one per core), results in input order, while
the calling process keeps what must stay single: reading and merging the streams, the one writer
of the store, and the alerts and correlations, fed in input order (correlations need one
timeline). A few tasks per worker are in flight, so memory stays bounded whatever the input size.

Where the platform forks and the caller has no other thread yet, workers are forked once the
caller has built its stages (the policy, the recognisers, the name tagger's model if it ran):
they start in milliseconds and share those pages instead of each spending seconds of CPU
loading them again. Otherwise (a server already running threads, or no fork) they are spawned
and build the same stages (and rule pack, checked against the caller's) from the :class:`Settings`
and address plan, so either way they protect with the same policy and keys and match the same
rules. Workers never touch the store.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from multiprocessing.pool import AsyncResult, Pool
from typing import TYPE_CHECKING, Any

import orjson

from sentinel.collect import AddressPlan, LineReader
from sentinel.config import Settings
from sentinel.errors import Unavailable
from sentinel.ingest.ready import MakeReady, Ready

if TYPE_CHECKING:
    from sentinel.store import Prepare

_WORK: list[MakeReady] = []  # what this worker process does to a batch (one, set as it starts)
_BROKEN: list[str] = []  # why it cannot (a spawned worker whose rule pack is not the caller's)


def default_workers() -> int:
    """One worker per core this process may use; none (in-process transforms) on a single core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if cores > 1 else 0


def worker_count(settings: Settings, given: int | None = None) -> int:
    """How many workers: ``given`` (a command's ``--workers``), else the ``workers`` setting, else one per core."""
    if given is not None:
        return given
    return default_workers() if settings.workers is None else settings.workers


def _adopt(work: MakeReady, nice: int) -> None:
    """A forked worker: the caller's stages, rules and store encoding, already built."""
    os.nice(nice)
    _WORK[:] = [work]


def _build(
    settings: Settings, plan: AddressPlan | None, nice: int, digest: str | None, prepare: Prepare | None
) -> None:
    """A spawned worker: build the stages (and the rules, when ``digest`` names the caller's pack) from the settings."""
    from sentinel.ingest.assemble import edge_stages
    from sentinel.runtime import Runtime, settle_heap

    os.nice(nice)
    runtime = Runtime(settings)
    match = None
    if digest is not None:
        engine = runtime.engine()
        if engine.digest != digest:
            _BROKEN[:] = ["the rule pack changed on disk while the ingest workers started: run the command again"]
        match = engine.match
    _WORK[:] = [MakeReady(edge_stages(runtime, plan), match, prepare)]
    settle_heap()


def _ready() -> bool:
    return True


def _encode(events: list[dict[str, Any]]) -> list[bytes]:
    """Events as JSON: a list of bytes crosses a pipe at a fraction of the cost of pickled dicts."""
    return [orjson.dumps(e, option=orjson.OPT_NON_STR_KEYS) for e in events]


def _make_ready(events: list[dict[str, Any]]) -> list[Ready]:
    if _BROKEN:
        raise Unavailable(_BROKEN[0])
    return _WORK[0](events)


def _run(blobs: list[bytes]) -> list[Ready]:
    return _make_ready([orjson.loads(b) for b in blobs])


def _read(reader: LineReader, source: str, lines: list[tuple[int, bytes]]) -> list[Ready] | None:
    """Parse a part of a stream, then make it ready; None when a line needs the stream's own reader (syslog)."""
    events: list[dict[str, Any]] = []
    for offset, line in lines:
        parsed = reader.parse_alone(line, source=source, position=offset)
        if parsed is None:
            return None
        events.extend(parsed)
    return _make_ready(events)


class Pending:
    """A part of a batch in a worker: :meth:`get` waits for its events (None: the caller must parse it)."""

    def __init__(self, result: AsyncResult) -> None:
        self._result = result

    def get(self) -> list[Ready] | None:
        return self._result.get()

    def ready(self) -> bool:
        """Whether :meth:`get` returns without waiting for the worker."""
        return self._result.ready()


class TransformWorkers:
    """A pool of processes running the pipeline's transforms (and parsing, given raw lines)."""

    def __init__(
        self,
        settings: Settings,
        count: int,
        work: MakeReady,
        plan: AddressPlan | None,
        *,
        nice: int = 0,
        digest: str | None = None,
    ) -> None:
        """``work``: what a worker does to a batch; ``plan``: what a spawned worker enriches with;
        ``digest``: the rule pack ``work`` matches with (:attr:`Engine.digest`), which a spawned worker
        loads again; ``nice``: how much lower the workers' scheduling priority is (a server's readers come first).
        """
        if count < 1:
            raise ValueError("TransformWorkers needs at least one worker")
        self.count = count
        self.depth = 2  # batches in flight, each shared by all workers: one being protected, one queued
        self._settings = settings
        self._work = work
        self._plan = plan
        self._digest = digest
        self._nice = nice
        self._pool: Pool | None = None
        self._closed = False
        self._lock = threading.Lock()

    def start(self, *, wait: bool = False) -> None:
        """Start the processes now (they start on the first task otherwise): before the caller starts threads.

        ``wait``: return once a worker has taken a task (spawned ones load for seconds), so a live
        source reading after this never waits on workers that are still loading.
        """
        self._start()
        if wait:
            self._apply(_ready, ()).get()

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the transform workers are closed")
            if self._pool is None:
                if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
                    fork = multiprocessing.get_context("fork")
                    self._pool = fork.Pool(self.count, _adopt, (self._work, self._nice))
                else:  # forking a process that runs threads may copy a lock another thread holds
                    spawn = multiprocessing.get_context("spawn")
                    args = (self._settings, self._plan, self._nice, self._digest, self._work.prepare)
                    self._pool = spawn.Pool(self.count, _build, args)

    def submit(self, events: list[dict[str, Any]]) -> Pending:
        """Make ``events`` ready in a worker.

        Events go as JSON, not pickled (half the cost on each side), and come back as :class:`Ready`
        tuples, the JSON the store writes among them: this process decodes only what it reads.
        """
        return Pending(self._apply(_run, (_encode(events),)))

    def submit_parts(self, events: list[dict[str, Any]]) -> list[Pending]:
        """Make ``events`` ready in every worker, a part each (in order)."""
        size = max(1, -(-len(events) // self.count))
        return [self.submit(events[i : i + size]) for i in range(0, len(events), size)]

    def transform(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``events`` transformed by the workers, a part each; waits for them (callers on several threads)."""
        return [ready.event() for part in self.submit_parts(events) for ready in part.get() or ()]

    def submit_lines(self, reader: LineReader, source: str, lines: list[tuple[int, bytes]]) -> Pending:
        """Parse ``(offset, line)`` pairs of ``source`` with a copy of ``reader`` and make them ready, in a worker.

        Raw lines cost next to nothing to send, parsed events several times more: parsing where the
        transforms run leaves this process reading, storing and detecting. The result is None when a
        line needs the stream's own reader (a syslog line): the caller parses that part itself.
        """
        return Pending(self._apply(_read, (reader, source, lines)))

    def _apply(self, func: Any, args: tuple[Any, ...]) -> AsyncResult:
        self._start()
        assert self._pool is not None
        return self._pool.apply_async(func, args)

    def close(self) -> None:
        """Stop the workers (waits for them; idempotent)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
            pool.join()
