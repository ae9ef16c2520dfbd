"""Syslog receivers (UDP, TCP, TLS) as a collector source.

Receiving and parsing are split: listener threads only read datagrams or
frames into a bounded in-memory inbox, and the source thread parses them into
ECS events in batches. UDP sockets get a large receive buffer so bursts wait in
the kernel rather than being lost. TCP and TLS accept both framings of
RFC 6587: octet counting (``LEN SP MSG``) and newline-terminated messages,
decided per message by its first byte.

When the inbox is full (the queue behind it is full, so the runner holds this
source back), TCP readers stop reading and flow control slows the sender; UDP
has no such signal, so datagrams that do not fit are counted in ``dropped``
and the runner turns that count into an alert event.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from sentinel.collect.parsers import build_event
from sentinel.collect.source import Batch, Source, SourceStatus
from sentinel.collect.syslog_parse import VIETNAM, expand_repeats, parse_syslog

log = logging.getLogger(__name__)

TRANSPORTS = ("udp", "tcp", "tls")
# Linux: ask for the count of datagrams the kernel dropped on a socket (not exported by the socket module).
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)


@dataclass(frozen=True)
class Listen:
    transport: str
    host: str
    port: int

    @classmethod
    def parse(cls, spec: str) -> Listen:
        """``udp://127.0.0.1:5514``, ``tcp://0.0.0.0:514``, ``tls://[::]:6514``."""
        parts = urlsplit(spec)
        if parts.scheme not in TRANSPORTS:
            raise ValueError(f"listen address {spec!r}: use udp://, tcp:// or tls://HOST:PORT")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise ValueError(f"listen address {spec!r}: give a host and a port, e.g. {parts.scheme}://0.0.0.0:514")
        return cls(parts.scheme, parts.hostname, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}://{host}:{self.port}"


@dataclass
class SyslogOptions:
    dataset: str = "syslog"
    timezone: timezone = VIETNAM  # for RFC 3164 timestamps, which carry none
    max_message: int = 64 * 1024
    max_pending: int = 200_000  # messages held in memory between the sockets and the queue
    batch_events: int = 2000
    udp_rcvbuf: int = 32 << 20
    tls_cert: str | None = None
    tls_key: str | None = None
    tcp_idle_timeout: float = 600.0


class SyslogSource(Source):
    """Listen on ``listens`` and yield parsed syslog events until stopped."""

    replayable = False

    def __init__(self, name: str, listens: list[Listen], options: SyslogOptions | None = None) -> None:
        if not listens:
            raise ValueError("a syslog source needs at least one listen address")
        self.name = name
        self.listens = listens
        self.options = options or SyslogOptions()
        # (raw bytes, peer "ip:port", transport, framing error or None)
        self._inbox: collections.deque[tuple[bytes, str, str, str | None]] = collections.deque()
        self._status = SourceStatus(name=name)
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.bound: list[Listen] = []  # actual addresses (port 0 resolved)
        self.ready = threading.Event()
        self._run = f"{time.time_ns()}"
        self._seq = 0
        self.connections = 0
        self._tls: ssl.SSLContext | None = None
        if any(lst.transport == "tls" for lst in listens):
            if not (self.options.tls_cert and self.options.tls_key):
                raise ValueError("a tls:// listen address needs tls_cert and tls_key (PEM files)")
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(self.options.tls_cert, self.options.tls_key)
            # No TLS 1.3 session tickets: a sender that closes without reading them would
            # make the kernel reset the connection and discard messages not yet read here.
            self._tls.num_tickets = 0

    # -- listeners ---------------------------------------------------------------
    def _start(self, stop: threading.Event) -> None:
        for lst in self.listens:
            family = socket.AF_INET6 if ":" in lst.host else socket.AF_INET
            if lst.transport == "udp":
                sock = socket.socket(family, socket.SOCK_DGRAM)
                _large_receive_buffer(sock, self.options.udp_rcvbuf)
                target: Any = self._udp_loop
            else:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                target = self._accept_loop
            try:
                sock.bind((lst.host, lst.port))
            except OSError as exc:
                sock.close()
                self.close()
                raise OSError(f"cannot listen on {lst}: {exc.strerror}") from None
            if lst.transport != "udp":
                sock.listen(128)
            sock.settimeout(0.2)
            bound = Listen(lst.transport, lst.host, sock.getsockname()[1])
            self.bound.append(bound)
            self._sockets.append(sock)
            t = threading.Thread(target=target, args=(sock, bound, stop), name=f"syslog-{bound}", daemon=True)
            self._threads.append(t)
            t.start()
            log.info("%s: listening on %s", self.name, bound)
        self.ready.set()

    def _udp_loop(self, sock: socket.socket, lst: Listen, stop: threading.Event) -> None:
        """Take datagram batches from the receiver process (see :func:`udp_receiver`) into the inbox."""
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=udp_receiver,
            args=(sock, child, self.options.max_message, self.options.max_pending),
            name=f"syslog-udp-{lst.port}",
            daemon=True,
        )
        proc.start()
        child.close()
        sock.close()  # the receiver process owns it now
        reported = 0  # datagrams the receiver process says it lost so far
        try:
            while not stop.is_set():
                if not parent.poll(0.2):
                    if not proc.is_alive():
                        self._error(
                            f"the UDP receiver for {lst} exited ({proc.exitcode}); restarting the collector is needed"
                        )
                        return
                    continue
                drops, items = pickle.loads(parent.recv_bytes())
                if drops > reported:  # the kernel's (or the receiver's) buffer overflowed before we read
                    self._status.dropped += drops - reported
                    reported = drops
                room = self.options.max_pending - len(self._inbox)
                if len(items) > room:
                    self._status.dropped += len(items) - max(room, 0)
                    items = items[: max(room, 0)]
                self._inbox.extend((data, peer, "udp", None) for data, peer in items)
        finally:
            proc.terminate()
            proc.join(5)
            parent.close()

    def _accept_loop(self, sock: socket.socket, lst: Listen, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                conn, addr = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if stop.is_set():
                    return
                raise
            peer = f"{addr[0]}:{addr[1]}"
            t = threading.Thread(
                target=self._conn_loop, args=(conn, peer, lst.transport, stop), name=f"syslog-{peer}", daemon=True
            )
            t.start()

    def _conn_loop(self, conn: socket.socket, peer: str, transport: str, stop: threading.Event) -> None:
        self.connections += 1
        try:
            conn.settimeout(self.options.tcp_idle_timeout)
            if self._tls is not None and transport == "tls":
                try:
                    conn = self._tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    self._error(f"TLS handshake with {peer} failed: {exc}")
                    return
            conn.settimeout(0.5)
            framer = Framer(self.options.max_message)
            while not stop.is_set():
                try:
                    data = conn.recv(256 * 1024)
                except TimeoutError:
                    continue
                except (OSError, ssl.SSLError) as exc:
                    self._error(f"connection from {peer}: {exc}")
                    break
                if not data:
                    break
                self._deliver(framer.feed(data), peer, transport, stop)
            self._deliver(framer.close(), peer, transport, stop)
        finally:
            conn.close()
            self.connections -= 1

    def _deliver(
        self, frames: list[tuple[bytes, str | None]], peer: str, transport: str, stop: threading.Event
    ) -> None:
        for raw, error in frames:
            while len(self._inbox) >= self.options.max_pending and not stop.is_set():
                time.sleep(0.01)  # stop reading: TCP flow control pushes back on the sender
            self._inbox.append((raw, peer, transport, error))

    # -- source ------------------------------------------------------------------
    def batches(self, stop: threading.Event) -> Iterator[Batch]:
        self._start(stop)
        try:
            while True:
                if not self._inbox:
                    if stop.is_set():
                        break
                    stop.wait(0.02)
                    continue
                yield Batch(self._take(self.options.batch_events))
            # listeners are stopping; deliver whatever they already received
            for t in self._threads:
                t.join(timeout=2)
            while self._inbox:
                yield Batch(self._take(self.options.batch_events))
        finally:
            self.close()

    def _take(self, n: int) -> list[dict[str, Any]]:
        opts = self.options
        events = []
        errors = 0
        inbox = self._inbox
        now = datetime.now(UTC)
        for _ in range(min(n, len(inbox))):
            raw, peer, transport, framing_error = inbox.popleft()
            self._seq += 1
            source = f"{self.name}:{transport}:{peer.rpartition(':')[0]}"
            position = f"{self._run}:{self._seq}"
            if framing_error:
                event = build_event(
                    None, raw, source=source, position=position, dataset=opts.dataset, error=framing_error
                )
                del event["log"]["file"]
                event["log"]["source"] = {"address": peer}
            else:
                event = parse_syslog(
                    raw, source=source, position=position, peer=peer, dataset=opts.dataset, tz=opts.timezone, now=now
                )
            if event["event"]["kind"] == "pipeline_error":
                errors += 1
            events.extend(expand_repeats(event, raw, source=source, position=position))  # "repeated N times": N
        self._status.read += len(events)
        self._status.parse_errors += errors
        return events

    def status(self) -> SourceStatus:
        self._status.lag = float(len(self._inbox))
        return self._status

    def _error(self, message: str) -> None:
        log.warning("%s: %s", self.name, message)
        errors = self._status.errors
        errors.append(message)
        del errors[:-20]

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()


def udp_receiver(sock: socket.socket, conn: Connection, max_message: int, max_pending: int) -> None:
    """Receiver process: read datagrams and pass them on in batches.

    It runs apart from the parsing and shipping threads so that reading the socket
    never waits for the interpreter lock: a datagram not read in time is lost for
    good. A second thread hands batches to the collector, so a slow collector makes
    this process buffer (up to ``max_pending`` datagrams) rather than stop reading.
    Datagrams lost anyway, the kernel's count for this socket (SO_RXQ_OVFL) plus
    any beyond the buffer, travel with every batch, so every loss is counted.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    with contextlib.suppress(OSError):  # not on every kernel: then only overflow of our own buffer is counted
        sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
    sock.settimeout(0.5)
    pending: collections.deque[tuple[bytes, str]] = collections.deque()
    drops = [0, 0]  # kernel, own buffer
    ready = threading.Event()

    def hand_over() -> None:
        while True:
            ready.wait()
            ready.clear()
            time.sleep(0.01)  # let a few more arrive: fewer, larger batches
            while pending:
                items = [pending.popleft() for _ in range(min(5000, len(pending)))]
                try:
                    conn.send_bytes(pickle.dumps((sum(drops), items), protocol=pickle.HIGHEST_PROTOCOL))
                except OSError:
                    os._exit(0)  # the collector is gone

    threading.Thread(target=hand_over, daemon=True).start()
    space = socket.CMSG_SPACE(4)
    while True:
        try:
            data, ancillary, _flags, addr = sock.recvmsg(max_message, space)
        except TimeoutError:
            continue
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                drops[0] = struct.unpack("I", value[:4])[0]
        if len(pending) >= max_pending:
            drops[1] += 1
        else:
            pending.append((data, f"{addr[0]}:{addr[1]}"))
        ready.set()


def _large_receive_buffer(sock: socket.socket, size: int) -> None:
    """Ask for ``size`` bytes of kernel buffer: bursts then wait in the kernel instead of being dropped.

    SO_RCVBUF is capped by net.core.rmem_max; with CAP_NET_ADMIN (a collector running as
    root) SO_RCVBUFFORCE lifts the cap, as rsyslog does.
    """
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    if force is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
            return
        except PermissionError:
            pass
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if granted < size:
        log.info("UDP receive buffer is %d bytes (asked %d); raise net.core.rmem_max for longer bursts", granted, size)


class Framer:
    """Split a TCP byte stream into syslog messages (RFC 6587 octet counting or newline framing)."""

    def __init__(self, max_message: int) -> None:
        self.max_message = max_message
        self.buf = bytearray()
        self.skip = 0

    def feed(self, data: bytes) -> list[tuple[bytes, str | None]]:
        """Complete messages in the stream so far, each with a framing error (or None)."""
        if self.skip:
            cut = min(self.skip, len(data))
            self.skip -= cut
            data = data[cut:]
        buf = self.buf
        buf += data
        out: list[tuple[bytes, str | None]] = []
        pos = 0
        n = len(buf)
        while pos < n:
            first = buf[pos]
            if 0x30 <= first <= 0x39:  # a digit: octet counting
                space = buf.find(b" ", pos, pos + 12)
                if space < 0:
                    if n - pos >= 12:
                        end = buf.find(b"\n", pos)
                        if end < 0:
                            break
                        out.append((bytes(buf[pos:end]), "octet-counted frame without a valid length"))
                        pos = end + 1
                        continue
                    break
                length_text = bytes(buf[pos:space])
                if not length_text.isdigit():
                    end = buf.find(b"\n", pos)
                    if end < 0:
                        break
                    out.append((bytes(buf[pos:end]), "octet-counted frame without a valid length"))
                    pos = end + 1
                    continue
                length = int(length_text)
                if length > self.max_message:
                    start = space + 1
                    keep = bytes(buf[start : min(start + self.max_message, n)])
                    out.append((keep, f"message of {length} bytes is longer than the {self.max_message}-byte limit"))
                    if start + length > n:
                        self.skip = start + length - n  # the rest of it is still to come: discard it
                        pos = n
                        break
                    pos = start + length
                    continue
                if space + 1 + length > n:
                    break
                out.append((bytes(buf[space + 1 : space + 1 + length]), None))
                pos = space + 1 + length
            else:
                end = buf.find(b"\n", pos)
                if end < 0:
                    if n - pos > self.max_message:
                        out.append(
                            (
                                bytes(buf[pos : pos + self.max_message]),
                                f"line longer than the {self.max_message}-byte limit (cut)",
                            )
                        )
                        pos += self.max_message
                        continue
                    break
                frame = bytes(buf[pos:end]).rstrip(b"\r\x00")
                if frame:
                    out.append((frame, None))
                pos = end + 1
        del buf[:pos]
        return out

    def close(self) -> list[tuple[bytes, str | None]]:
        """The connection ended: a last message without its newline is still a message."""
        rest = bytes(self.buf).strip(b"\r\n\x00 ")
        self.buf.clear()
        if not rest:
            return []
        if rest[:1].isdigit() and b" " in rest[:12]:
            return [(rest, "connection closed in the middle of an octet-counted frame")]
        return [(rest, None)]
