"""Parsing, enrichment, protection, encoding and rule matching of ingest batches on every core.

Python runs one core per process, so ``sentinel ingest``, ``sentinel collect`` and the API's
ingest endpoint share everything done to one event alone (:class:`~sentinel.ingest.ready.MakeReady`)
between the calling process and worker processes (``workers`` setting, the caller counted, default
one per core), results in input order. The caller keeps what must stay single: reading and merging
the streams, the one writer of the store, and the alerts and correlations, fed in input order
(correlations need one timeline); it makes the parts of a batch the workers have not taken
whenever it would otherwise wait. Parts are queued for a batch or two ahead, so memory stays
bounded whatever the input size.

Where the platform forks and the caller has no other thread yet, workers are forked once the
caller has built its stages (the policy, the recognisers, the name tagger's model if it ran):
they start in milliseconds and share those pages instead of each spending seconds of CPU
loading them again. Otherwise (a server already running threads, or no fork) they are spawned
and build the same stages (and rule pack, checked against the caller's) from the :class:`Settings`
and address plan, so either way they protect with the same policy and keys and match the same
rules. Workers never touch the store.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable
from multiprocessing.pool import AsyncResult, Pool
from typing import TYPE_CHECKING, Any

import orjson

from sentinel.collect import AddressPlan, LineReader
from sentinel.config import Settings
from sentinel.errors import Unavailable
from sentinel.ingest.ready import MakeReady, Ready

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from sentinel.store import Prepare

log = logging.getLogger(__name__)
LOOK = 1.0  # seconds between looks at whether the worker a part waits for is still there
PIPE_BYTES = 1 << 20  # what a pipe to or from the workers holds (Linux's default limit for a user)
_WORK: list[MakeReady] = []  # what this worker process does to a batch (one, set as it starts)
_BROKEN: list[str] = []  # why it cannot (a spawned worker whose rule pack is not the caller's)


def default_workers() -> int:
    """One process per core this process may use (the ingesting process is one of them)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores)


def worker_count(settings: Settings, given: int | None = None) -> int:
    """How many processes make batches ready: ``given`` (a command's ``--workers``), else the ``workers``
    setting, else one per core. The ingesting process is one of them: 1 runs no worker process."""
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


def _parse_ready(
    work: Callable[[list[dict[str, Any]]], list[Ready]], reader: LineReader, source: str, lines: list[tuple[int, bytes]]
) -> list[Ready] | None:
    """Parse a part of a stream, then make it ready; None when a line needs the stream's own reader (syslog)."""
    events: list[dict[str, Any]] = []
    for offset, line in lines:
        parsed = reader.parse_alone(line, source=source, position=offset)
        if parsed is None:
            return None
        events.extend(parsed)
    return work(events)


def _read(reader: LineReader, source: str, lines: list[tuple[int, bytes]]) -> list[Ready] | None:
    return _parse_ready(_make_ready, reader, source, lines)


Sent = tuple[Callable[..., Any], tuple[Any, ...]]  # what a worker runs: a function of this module, its arguments


class Pending:
    """A part of a batch: made ready in a worker process, or here by whoever needs it first.

    :meth:`get` waits for its events (None: the caller must parse it). While the part it waits for is in
    a worker, the waiting process makes the next parts nobody has taken yet itself, so it never idles
    while there is work: that is how the share of the process that also writes is balanced, measured by
    how long it would otherwise wait.
    """

    def __init__(self, workers: TransformWorkers, here: Callable[[], Any], there: Callable[[], Sent]) -> None:
        self._workers = workers
        self._here = here  # how this process makes it ready
        self.there = there  # what a worker is sent: (function, arguments), built only if one takes it
        self.taken = False  # by a worker or a thread of this process (under the workers' lock)
        self.result: AsyncResult | None = None  # set when sent to a worker
        self.pool: Pool | None = None  # the pool it was sent to
        self._made = threading.Event()  # set when made here
        self._value: Any = None
        self._error: BaseException | None = None

    def get(self) -> list[Ready] | None:
        if self._workers.take(self):
            self.make()
        while not self._made.is_set():
            if self.result is None:  # another thread of this process is making it
                self._made.wait()
            elif self.result.ready():
                return self.result.get()
            elif not self._workers.help():  # nothing else to make: wait for the worker, unless it is gone
                self.result.wait(LOOK)
                if not self.result.ready() and self._workers.reclaim(self):
                    self.make()
        if self._error is not None:
            raise self._error
        return self._value

    def ready(self) -> bool:
        """Whether :meth:`get` returns without waiting for a worker: made here, answered, or its worker lost."""
        if self._made.is_set():
            return True
        return self.result is not None and (self.result.ready() or self._workers.lost(self))

    def make(self) -> None:
        """Make the part in this process (once :meth:`TransformWorkers.take` gave it to the caller)."""
        try:
            self._value = self._here()
        except Exception as exc:  # raised by get, as a worker's failure is
            self._error = exc
        self._made.set()


def _processes(pool: Pool) -> list[Any]:
    """The pool's worker processes (the pool keeps them in ``_pool``; none known on another Python)."""
    return list(getattr(pool, "_pool", ()))


def _widen_pipes(pool: Pool) -> None:
    """Let a pipe to or from the workers hold a whole part (Linux), so neither side waits for the other.

    A part's events are most of a megabyte; through a pipe of 64 kB a worker stops at every 64 kB until
    this process's thread that reads the results gets the interpreter (up to 5 ms each time while this
    process protects or stores): a worker sat idle a fifth of the time. Best effort: where the pipes
    cannot be widened (another platform, a limit set lower), parts go through as before.
    """
    size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if size is None:
        return
    try:
        for queue in (pool._inqueue, pool._outqueue):  # type: ignore[attr-defined]
            fcntl.fcntl(queue._writer.fileno(), size, PIPE_BYTES)
    except (AttributeError, OSError):
        return


class TransformWorkers:
    """``count`` processes making ingest batches ready: this one and ``count - 1`` workers.

    Parts of each batch queue here; the workers are fed from the queue as they finish (two parts each
    in flight, so none waits for the next), and this process takes the next queued part itself
    whenever it would otherwise wait for one (:meth:`Pending.get`, :meth:`help`). The process that
    stores and detects is thus one of the ``count``: on two cores, two processes share the work,
    each as busy as the other.
    """

    # events (or lines) a part: 50-70 ms of work, small enough that a process taking one never keeps
    # the others waiting long, large enough that sending it costs next to nothing
    PART = 500

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
        """``work``: what a batch goes through; ``plan``: what a spawned worker enriches with;
        ``digest``: the rule pack ``work`` matches with (:attr:`Engine.digest`), which a spawned worker
        loads again; ``nice``: how much lower the workers' scheduling priority is (a server's readers come first).
        """
        if count < 2:
            raise ValueError("TransformWorkers needs two processes at least (this one and a worker)")
        self.count = count
        self.depth = 2  # batches in flight (reading the next while one is written)
        self._settings = settings
        self._work = work
        self._plan = plan
        self._digest = digest
        self._nice = nice
        self._pool: Pool | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._queue: deque[Pending] = deque()  # parts nobody took yet, oldest first
        self._sent = 0  # parts in the workers
        self._members: list[Any] = []  # the current pool's processes as it started

    def start(self, *, wait: bool = False) -> None:
        """Start the processes now (they start on the first part otherwise): before the caller starts threads.

        ``wait``: return once a worker has taken a task (spawned ones load for seconds), so a live
        source reading after this never waits on workers that are still loading.
        """
        pool = self._start()
        if wait:
            pool.apply(_ready)

    def _start(self) -> Pool:
        with self._lock:
            if self._closed:
                raise RuntimeError("the transform workers are closed")
            if self._pool is None:
                if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
                    fork = multiprocessing.get_context("fork")
                    self._pool = fork.Pool(self.count - 1, _adopt, (self._work, self._nice))
                else:  # forking a process that runs threads may copy a lock another thread holds
                    spawn = multiprocessing.get_context("spawn")
                    args = (self._settings, self._plan, self._nice, self._digest, self._work.prepare)
                    self._pool = spawn.Pool(self.count - 1, _build, args)
                _widen_pipes(self._pool)
                self._members = _processes(self._pool)
            return self._pool

    def submit(self, events: list[dict[str, Any]]) -> Pending:
        """Make ``events`` ready, in a worker or in this process, whichever takes them first.

        Events go to a worker as JSON, not pickled (half the cost on each side), and come back as
        :class:`Ready` tuples, the JSON the store writes among them: this process decodes only what it reads.
        """
        return self._queued(Pending(self, lambda: self._work(events), lambda: (_run, (_encode(events),))))

    def submit_parts(self, events: list[dict[str, Any]]) -> list[Pending]:
        """Make ``events`` ready in parts (in order), at most :attr:`PART` each and at least one per process."""
        size = max(1, min(self.PART, -(-len(events) // self.count)))
        return [self.submit(events[i : i + size]) for i in range(0, len(events), size)]

    def transform(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``events`` transformed in parts by the workers and the caller (callers on several threads)."""
        return [ready.event() for part in self.submit_parts(events) for ready in part.get() or ()]

    def submit_lines(self, reader: LineReader, source: str, lines: list[tuple[int, bytes]]) -> Pending:
        """Parse ``(offset, line)`` pairs of ``source`` and make them ready (a worker parses with a copy of ``reader``).

        Raw lines cost next to nothing to send, parsed events several times more: parsing where the
        transforms run leaves the writing process reading, storing and detecting. The result is None
        when a line needs the stream's own reader (a syslog line): the caller parses that part itself.
        """
        here = functools.partial(_parse_ready, self._work, reader, source, lines)
        return self._queued(Pending(self, here, lambda: (_read, (reader, source, lines))))

    def help(self) -> bool:
        """Make the oldest part nobody took yet here; False when there is none (everything is in the workers)."""
        with self._lock:
            if not self._queue:
                return False
            part = self._queue.popleft()
            part.taken = True
        part.make()
        return True

    def take(self, part: Pending) -> bool:
        """Whether the caller is to make ``part`` (nobody took it yet); it is then off the queue."""
        with self._lock:
            if part.taken:
                return False
            part.taken = True
            self._queue.remove(part)
        return True

    def _queued(self, part: Pending) -> Pending:
        pool = self._start()
        with self._lock:
            self._queue.append(part)
        self._feed(pool)
        return part

    def _feed(self, pool: Pool) -> None:
        """Send the oldest queued parts to the workers until each has two."""
        with self._lock:
            while self._queue and self._sent < 2 * (self.count - 1) and pool is self._pool:  # not given up, not closed
                part = self._queue.popleft()
                part.taken = True
                func, args = part.there()
                self._sent += 1
                part.pool = pool
                returned = functools.partial(self._returned, pool)
                part.result = pool.apply_async(func, args, callback=returned, error_callback=returned)

    def _returned(self, pool: Pool, _result: object) -> None:
        """A worker of ``pool`` finished a part (on the pool's result thread): send it the next one."""
        with self._lock:
            if pool is not self._pool:  # a pool given up (:meth:`reclaim`)
                return
            self._sent -= 1
        self._feed(pool)

    def lost(self, part: Pending) -> bool:
        """Whether ``part`` was sent to a pool that lost a process (it may never be answered)."""
        with self._lock:
            return self._lost(part)

    def _lost(self, part: Pending) -> bool:
        if part.pool is None:
            return False
        return part.pool is not self._pool or any(w.exitcode is not None for w in self._members)

    def reclaim(self, part: Pending) -> bool:
        """Whether ``part``, sent to a worker that is not answering, is to be made by the caller.

        A worker that died (killed, out of memory) takes its part with it: the pool replaces the
        process but never runs the part again, so waiting would hang the ingest. When one of the pool's
        processes has ended, the pool is stopped (its other parts are reclaimed the same way as their
        callers ask for them) and the next parts go to a new one.
        """
        lost = None
        with self._lock:
            if not self._lost(part):
                return False
            if part.pool is self._pool:
                ended = next(w.exitcode for w in self._members if w.exitcode is not None)
                log.warning(
                    "an ingest worker process ended (exit code %s): the parts it held are made again here, "
                    "and a new worker takes the next ones",
                    ended,
                )
                lost, self._pool, self._sent = self._pool, None, 0
            part.pool = None
            part.result = None
        if lost is not None:
            lost.terminate()
        return True

    def close(self) -> None:
        """Stop the workers (waits for them; idempotent)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
            pool.join()
