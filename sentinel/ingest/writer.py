"""The store's one writer for the API, in a process of its own: ingest batches and forwarded correlations.

Storing, detecting and protecting a batch hold an interpreter for tens of milliseconds; in the server's
they kept analysts' reads waiting. So the server only authenticates, decompresses and hands the raw
JSON-lines bytes (and the collector's name) to this process, spawned from the settings (the server
runs threads, so no fork) and lower in priority; it decodes, admits, protects (its own workers,
forked from it), stores and detects in arrival order (:mod:`sentinel.ingest.writer_loop`) and answers
each request with a tuple of counts. Bytes go one way and small tuples the other: the server
unpickles nothing large.

A batch is answered only once committed. When the process dies, every request it had not answered
fails with :class:`Unavailable` (503: collectors retry, and event ids make a retry harmless) and the
next request starts a new process. At most ``depth`` requests are in flight; the others wait on a
future, holding no thread. :meth:`WriterProcess.close` writes what is queued and ends the process.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal

from sentinel.config import Settings
from sentinel.errors import Invalid, Unavailable
from sentinel.ingest import writer_loop
from sentinel.ingest.writer_loop import STOP

# Requests sent to the process before the next ones wait (bounded memory, backpressure on collectors).
DEPTH = 4
# Seconds close() waits for the process to write what is queued before it kills it.
CLOSE_SECONDS = 120.0


class Slot(Future):  # type: ignore[type-arg]
    """A place among the requests in flight: done once granted; a request holds it until answered."""

    handed = False  # given to a request (its answer gives the place back)


@dataclass
class _Process:
    """One writer process, its end of the pipe and the requests it has not answered (in order)."""

    process: BaseProcess
    conn: Connection
    pending: deque[tuple[Future[tuple[Any, ...]], Slot]] = field(default_factory=deque)
    ended: bool = False
    reader: threading.Thread | None = None


class WriterProcess:
    """Sends requests to the writer process and hands back its answers; starts it again when it died."""

    def __init__(
        self,
        settings: Settings,
        *,
        store_path: Path | None,
        workers: int,
        nice: int = 0,
        worker_nice: int = 0,
        depth: int = DEPTH,
    ) -> None:
        """``store_path``: the SQLite file the server reads (None: the store the settings name). ``nice``: how
        much lower the process's priority is than the server's; ``worker_nice``: its workers' than its own.
        """
        self._args = (settings, store_path, workers, worker_nice, nice)
        self._send_lock = threading.Lock()  # one request at a time on the pipe: answers come in that order
        self._lock = threading.Lock()  # the current process, its pending requests, the free places
        self._current: _Process | None = None
        self._closed = False
        self._free = depth
        self._waiting: deque[Slot] = deque()
        atexit.register(self.close)  # a server that never closed it does not wait on it at exit

    def start(self) -> None:
        """Start the process now (it loads rules and classifiers for seconds while the first batch arrives)."""
        with self._send_lock:
            if self._closed:
                raise Unavailable("the ingest writer is closed: the server is stopping")
            with self._lock:
                self._live()

    @property
    def pid(self) -> int | None:
        """The current process's id (None before the first request)."""
        current = self._current
        return None if current is None else current.process.pid

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def in_flight(self) -> int:
        """Requests sent to the current process and not answered yet."""
        current = self._current
        return 0 if current is None else len(current.pending)

    def reserve(self) -> Slot:
        """A place among the requests in flight, granted (done) now or when an earlier request is answered."""
        slot = Slot()
        with self._lock:
            if self._closed:
                slot.set_exception(Unavailable("the ingest writer is closed: the server is stopping"))
            elif self._free > 0:
                self._free -= 1
                slot.set_result(None)
            else:
                self._waiting.append(slot)
        return slot

    def release(self, slot: Slot) -> None:
        """Give back a place whose request was never sent (refused body, cancelled caller); no-op otherwise."""
        with self._lock:
            if slot.handed:
                return
            slot.handed = True
            if not slot.done():
                slot.cancel()
                return
            granted = not slot.cancelled() and slot.exception() is None
        if granted:
            self._give_back()

    def send(
        self, slot: Slot, kind: Literal["ingest", "correlate"], collector: str, payload: Callable[[], bytes]
    ) -> Future[tuple[Any, ...]]:
        """Send ``payload()`` (raw JSON lines): events ``collector`` shipped, or forwarded correlation matches.

        The future holds the answer: ``writer_loop.COUNTS`` for a batch, ``(matches, alerts)`` for matches.

        ``slot`` (granted by :meth:`reserve`) is held until the answer arrives. ``payload`` runs here,
        so what it raises (a refused body) leaves the place to :meth:`release`.
        """
        body = payload()
        answer: Future[tuple[Any, ...]] = Future()
        with self._send_lock:
            with self._lock:
                if self._closed:
                    raise Unavailable("the ingest writer is closed: the server is stopping")
                current = self._live()
                current.pending.append((answer, slot))
                slot.handed = True
            with contextlib.suppress(OSError):  # the process ended: its reader fails this request with the reason
                current.conn.send((kind, collector))
                current.conn.send_bytes(body)
        return answer

    def _live(self) -> _Process:
        """The running process, started if there is none or it ended (under both locks)."""
        current = self._current
        if current is None or current.ended:
            spawn = multiprocessing.get_context("spawn")  # the server runs threads: forking could copy a held lock
            mine, theirs = spawn.Pipe()
            process = spawn.Process(target=writer_loop.main, args=(theirs, *self._args), name="sentinel-ingest-writer")
            process.start()
            theirs.close()
            current = _Process(process, mine)
            current.reader = threading.Thread(
                target=self._read, args=(current,), name="ingest-writer-answers", daemon=True
            )
            current.reader.start()
            self._current = current
        return current

    def _read(self, current: _Process) -> None:
        """Hand each answer to its request; when the process ends, fail what it did not answer."""
        reason = None
        while True:
            ready = wait([current.conn, current.process.sentinel])
            if current.conn not in ready:
                break  # ended, and nothing left to read
            try:
                answer = current.conn.recv()
            except (EOFError, OSError):
                break
            if answer[0] == "fatal":
                reason = answer[1]
                continue
            with self._lock:
                future, _ = current.pending.popleft()
            _settle(future, answer)
            self._give_back()
        current.process.join()
        with self._lock:
            current.ended = True
            left, current.pending = list(current.pending), deque()
        if reason is None:
            reason = (
                f"the ingest writer process ended (exit code {current.process.exitcode}) before answering; "
                "send the batch again (a retried batch stores nothing twice)"
            )
        for future, _ in left:
            future.set_exception(Unavailable(reason))
            self._give_back()
        with self._send_lock:  # not while a request is being written to it (the write fails on a dead process's pipe)
            current.conn.close()

    def _give_back(self) -> None:
        with self._lock:
            while self._waiting:
                slot = self._waiting.popleft()
                if slot.set_running_or_notify_cancel():
                    slot.set_result(None)
                    return
            self._free += 1

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Write what is queued and end the process (waits; idempotent). Later requests get :class:`Unavailable`."""
        with self._send_lock:
            with self._lock:
                if self._closed:
                    return
                self._closed = True
                current = self._current
                waiting, self._waiting = list(self._waiting), deque()
            if current is not None and not current.ended:
                with contextlib.suppress(OSError):  # ended meanwhile: its reader says so
                    current.conn.send((STOP, ""))
        for slot in waiting:
            if slot.set_running_or_notify_cancel():
                slot.set_exception(Unavailable("the ingest writer is closed: the server is stopping"))
        if current is not None and current.reader is not None:
            current.reader.join(timeout)
            if current.reader.is_alive():  # stuck: what it had not answered fails (503), its batches are retried
                current.process.kill()
                current.reader.join()
        atexit.unregister(self.close)


def _settle(future: Future[tuple[Any, ...]], answer: tuple[Any, ...]) -> None:
    status, value = answer
    if status == "ok":
        future.set_result(value)
    elif status == "invalid":
        future.set_exception(Invalid(value))
    elif status == "unavailable":
        future.set_exception(Unavailable(value))
    else:
        future.set_exception(RuntimeError(f"the ingest writer process failed: {value}"))
