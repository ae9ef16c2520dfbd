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

import atexit
import contextlib
import fcntl
import functools
import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any

import orjson

from sentinel.collect import AddressPlan, LineReader
from sentinel.config import Settings
from sentinel.errors import Unavailable
from sentinel.ingest.ready import MakeReady, Ready

if TYPE_CHECKING:
    from sentinel.store import Prepare

log = logging.getLogger(__name__)
CLOSE_SECONDS = 60.0  # how long close() waits for a worker to answer what it holds before killing it
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


def _serve(
    tasks: Connection,
    answers: Connection,
    start: Callable[..., None],
    args: tuple[Any, ...],
    inherited: list[Connection],
) -> None:
    """A worker process: set up, say so, then make each part it is sent, in order, until told to stop.

    ``inherited``: a forked worker's copies of the caller's ends of the workers' pipes, closed first, so
    the caller's end of a pipe is never held open by another worker (a worker that dies is then seen
    at once: its answers' pipe ends).
    """
    for conn in inherited:
        conn.close()
    start(*args)
    answers.send(_HELLO)
    while True:
        try:
            task = tasks.recv()
        except EOFError:  # the caller is gone
            return
        if task is None:
            return
        func, func_args = task
        try:
            answer: tuple[bool | None, Any] = (True, func(*func_args))
        except Exception as exc:  # raised by the caller's get, as if the part were made there
            answer = (False, exc)
        try:
            answers.send(answer)
        except Exception:  # an error that does not pickle: its text
            answers.send((False, RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))


_HELLO = (None, None)  # a worker's first answer: it is set up
QUEUED, SENT, MAKING, DONE = "queued", "sent", "making", "done"


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
        self.state = QUEUED  # then SENT (in a worker) or MAKING (here), then DONE; changed under the workers' lock
        self.value: Any = None
        self.error: BaseException | None = None
        self.lost = False  # held by a worker that died: made by the caller now (it may be what killed it)

    def get(self) -> list[Ready] | None:
        while (part := self._workers.work_while_waiting(self)) is not None:
            part.make()
        if self.error is not None:
            raise self.error
        return self.value

    def ready(self) -> bool:
        """Whether it is made (here or in a worker): :meth:`get` returns at once."""
        return self.state == DONE

    def make(self) -> None:
        """Make the part in this process (it was given to this process: state MAKING)."""
        try:
            value, error = self._here(), None
        except Exception as exc:  # raised by get, as a worker's failure is
            value, error = None, exc
        self._workers.settle(self, value, error)


Sent = tuple[Callable[..., Any], tuple[Any, ...]]  # what a worker runs: a function of this module, its arguments


@dataclass(eq=False)
class _Worker:
    """A worker process, the pipes to it and from it, and the parts it holds (answered in the order sent)."""

    process: BaseProcess
    tasks: Connection
    answers: Connection
    sent: deque[Pending] = field(default_factory=deque)
    send_lock: threading.Lock = field(default_factory=threading.Lock)  # parts go out in the order of ``sent``
    started: bool = False  # said hello: set up
    ended: bool = False
    reader: threading.Thread | None = None


def _widen(conn: Connection) -> None:
    """Let the pipe hold a whole part (Linux), so neither side waits for the other.

    A part's events are most of a megabyte; through a pipe of 64 kB a worker stops at every 64 kB until
    this process's thread that reads the answers gets the interpreter (up to 5 ms each time while this
    process protects or stores): a worker sat idle a fifth of the time. Best effort: where the pipe
    cannot be widened (another platform, a limit set lower), parts go through as before.
    """
    size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(conn.fileno(), size, PIPE_BYTES)


class TransformWorkers:
    """``count`` processes making ingest batches ready: this one and ``count - 1`` workers.

    Parts of each batch queue here; each worker is sent the oldest queued parts as it finishes (two in
    flight, so none waits for the next), and this process takes the next queued part itself whenever
    it would otherwise wait for one (:meth:`Pending.get`, :meth:`help`). The process that stores and
    detects is thus one of the ``count``: on two cores, two processes share the work, each as busy as
    the other.

    Each worker has a pipe of its own each way and a thread here reading its answers, so a worker that
    dies (killed, out of memory) holds nothing the others need: its thread sees the pipe end, puts the
    parts it held back at the head of the queue for this process to make (never a worker again: a part
    may be what killed it) and starts a new worker.
    """

    # events (or lines) a part: 50-70 ms of work, small enough that a process taking one never keeps
    # the others waiting long, large enough that sending it costs next to nothing
    PART = 500
    IN_FLIGHT = 2  # parts sent to a worker at a time

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
        self._context: multiprocessing.context.BaseContext | None = None  # chosen at the first start
        self._closed = False
        self._lock = threading.Lock()  # the queue, the workers, every part's state
        self._changed = threading.Condition(self._lock)  # a part made, queued again, a worker set up or gone
        self._spawn_lock = threading.Lock()  # one process started at a time (a fork copies the others' pipes)
        self._queue: deque[Pending] = deque()  # parts nobody took yet, oldest first
        self._workers: list[_Worker] = []
        atexit.register(self.close)  # stopped before multiprocessing ends them at exit (which would look like a crash)

    def start(self, *, wait: bool = False) -> None:
        """Start the processes now (they start on the first part otherwise): before the caller starts threads.

        ``wait``: return once every worker is set up (spawned ones load for seconds), so a live
        source reading after this never waits on workers that are still loading.
        """
        self._start()
        if wait:
            with self._lock:
                self._changed.wait_for(lambda: all(w.started for w in self._workers))

    def _start(self) -> None:
        with self._spawn_lock:
            if self._closed:
                raise RuntimeError("the transform workers are closed")
            if self._context is not None:
                return
            if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
                self._context = multiprocessing.get_context("fork")
            else:  # forking a process that runs threads may copy a lock another thread holds
                self._context = multiprocessing.get_context("spawn")
            started = [self._launch() for _ in range(self.count - 1)]  # all forked before any thread here starts
            for worker in started:
                self._listen(worker)

    def _launch(self) -> _Worker:
        """A new worker process (under the spawn lock), fed once its answers are read (:meth:`_listen`)."""
        context = self._context
        assert context is not None
        forked = context.get_start_method() == "fork"
        if forked:
            start, args = _adopt, (self._work, self._nice)
        else:
            start, args = _build, (self._settings, self._plan, self._nice, self._digest, self._work.prepare)
        their_tasks, tasks = context.Pipe(duplex=False)
        answers, their_answers = context.Pipe(duplex=False)
        _widen(tasks)
        _widen(answers)
        with self._lock:
            inherited = [c for w in self._workers for c in (w.tasks, w.answers)] if forked else []
        process = context.Process(
            target=_serve,
            args=(their_tasks, their_answers, start, args, [*inherited, tasks, answers] if forked else []),
            name="sentinel-ingest-worker",
            daemon=True,
        )
        process.start()
        their_tasks.close()
        their_answers.close()
        worker = _Worker(process, tasks, answers)
        with self._lock:
            self._workers.append(worker)
        return worker

    def _listen(self, worker: _Worker) -> None:
        worker.reader = threading.Thread(target=self._read, args=(worker,), name="ingest-worker-answers", daemon=True)
        worker.reader.start()
        self._feed()

    def _read(self, worker: _Worker) -> None:
        """Settle each part ``worker`` answers and send it the next; when it ends, queue what it held again."""
        while True:
            try:
                answer = worker.answers.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # an answer that does not unpickle: the oldest part's failure
                answer = (False, RuntimeError(f"an ingest worker's answer could not be read: {exc}"))
            with self._lock:
                hello = answer == _HELLO
                if hello:
                    worker.started = True
                    self._changed.notify_all()
                else:
                    part = worker.sent.popleft()
            if not hello:
                self.settle(part, *((answer[1], None) if answer[0] else (None, answer[1])))
            self._feed()
        worker.process.join()
        self._ended(worker)

    def _ended(self, worker: _Worker) -> None:
        with self._lock:
            worker.ended = True
            self._workers.remove(worker)
            for part in reversed(worker.sent):
                part.state, part.lost = QUEUED, True
                self._queue.appendleft(part)
            held, worker.sent = len(worker.sent), deque()
            self._changed.notify_all()
            closed = self._closed
        with worker.send_lock:  # not while a part is being sent to it (the send fails on a dead worker's pipe)
            worker.tasks.close()
        worker.answers.close()
        if closed:
            return
        code = worker.process.exitcode
        if not worker.started:  # it could not set up (its error is on stderr): starting another would fail the same way
            log.error("an ingest worker process could not start (exit code %s): this process makes its share", code)
            return
        log.warning(
            "an ingest worker process ended (exit code %s): a new worker takes its place, "
            "and the %d parts it held are made again",
            code,
            held,
        )
        with self._spawn_lock:
            if not self._closed:
                self._listen(self._launch())

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
            part.state = MAKING
        part.make()
        return True

    def work_while_waiting(self, part: Pending) -> Pending | None:
        """What the caller of ``part.get()`` makes next: ``part`` if nobody took it, else the oldest queued
        part; waits while ``part`` is in a worker (or another thread) and nothing is queued. None once it is made.
        """
        with self._lock:
            while True:
                if part.state == DONE:
                    return None
                if part.state == QUEUED:
                    self._queue.remove(part)
                    part.state = MAKING
                    return part
                if self._queue:
                    other = self._queue.popleft()
                    other.state = MAKING
                    return other
                self._changed.wait()

    def settle(self, part: Pending, value: Any, error: BaseException | None) -> None:
        """``part`` made (here or in a worker): its value or error, and whoever waits for it goes on."""
        with self._lock:
            part.value, part.error, part.state = value, error, DONE
            self._changed.notify_all()

    def _queued(self, part: Pending) -> Pending:
        self._start()
        with self._lock:
            self._queue.append(part)
            self._changed.notify_all()  # a caller waiting for a worker may make it meanwhile
        self._feed()
        return part

    def _feed(self) -> None:
        """Send the oldest queued parts to the workers until each holds :attr:`IN_FLIGHT`."""
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            with worker.send_lock:
                while True:
                    with self._lock:
                        if worker.ended or not worker.started or len(worker.sent) >= self.IN_FLIGHT:
                            break
                        part = next((p for p in self._queue if not p.lost), None)  # the lost ones are at the head
                        if part is None:
                            break
                        self._queue.remove(part)
                        part.state = SENT
                        worker.sent.append(part)
                    try:
                        task = ForkingPickler.dumps(part.there())
                    except Exception as exc:  # never sent: the worker answers the parts after it
                        with self._lock:
                            worker.sent.remove(part)
                        self.settle(part, None, exc)
                        continue
                    try:
                        worker.tasks.send_bytes(task)
                    except OSError:  # it ended: its reader queues the parts it held again
                        break

    def close(self) -> None:
        """Stop the workers once they have answered what they hold (waits; idempotent)."""
        atexit.unregister(self.close)
        with self._spawn_lock, self._lock:
            self._closed = True
            workers = list(self._workers)
        for worker in workers:
            with worker.send_lock, contextlib.suppress(OSError):
                worker.tasks.send(None)
        for worker in workers:
            if worker.reader is not None:
                worker.reader.join(CLOSE_SECONDS)
                if worker.reader.is_alive():  # stuck in a part: what it held is lost with it, nothing waits for it
                    worker.process.kill()
                    worker.reader.join()
