"""Live capture from a network interface, with a kernel BPF filter, into flow/DNS/HTTP/TLS events.

Scapy opens the capture socket (PF_PACKET on Linux), compiles the BPF filter
with libpcap and attaches it in the kernel, so filtered-out traffic never
reaches Python. Frames are then read raw from that socket and decoded by the
fast path (:func:`sentinel.collect.pcap.decode_frame`) rather than by
``sniff()``, whose per-packet dissection keeps up with only a few thousand
packets per second (``bench/pcap.py``).

Flows are expired on the wall clock as well as on packet arrival, so a quiet
link still reports its ended conversations. Kernel drops (the socket buffer
overflowed) are read from ``PACKET_STATISTICS`` and reported as ``dropped``.
Needs root or ``CAP_NET_RAW``; a BPF filter needs libpcap (``libpcap0.8``).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

from sentinel.collect.flows import FlowTable
from sentinel.collect.pcap import LINKTYPE_ETHERNET, LINKTYPE_RAW, MAX_CAPLEN, MalformedFrame, decode_frame
from sentinel.collect.source import Batch, Source, SourceStatus
from sentinel.collect.traffic import TrafficAnalyzer
from sentinel.errors import Unavailable

# ARPHRD_* (the device's hardware type) -> the link type of frames read from a packet socket.
ARPHRD_LINKTYPES = {1: LINKTYPE_ETHERNET, 772: LINKTYPE_ETHERNET, 512: LINKTYPE_RAW, 65534: LINKTYPE_RAW}
ARPHRD_LINKTYPES.update({768: LINKTYPE_RAW, 776: LINKTYPE_RAW, 778: LINKTYPE_RAW})
ARPHRD_LOOPBACK = 772
PACKET_OUTGOING = 4
SOL_PACKET, PACKET_STATISTICS = 263, 6


class CaptureUnavailable(Unavailable):
    """The interface cannot be captured here; the message says what to do."""


def open_capture(iface: str, bpf_filter: str | None, promisc: bool) -> Any:
    """Scapy's listening socket for ``iface`` with ``bpf_filter`` attached in the kernel."""
    import scapy.arch  # noqa: F401 - sets conf.L2listen for this platform
    from scapy.config import conf
    from scapy.error import Scapy_Exception

    try:
        return conf.L2listen(iface=iface, filter=bpf_filter or None, promisc=promisc)
    except PermissionError:
        raise CaptureUnavailable(f"capturing on {iface} needs root or CAP_NET_RAW") from None
    except OSError as exc:
        raise CaptureUnavailable(f"cannot capture on {iface!r}: {exc.strerror or exc}") from None
    except ValueError:
        raise CaptureUnavailable(f"there is no interface {iface!r} here (list them with: ip link)") from None
    except Scapy_Exception as exc:
        if "libpcap" in str(exc):
            raise CaptureUnavailable(
                "a BPF filter needs libpcap: install it (apt-get install libpcap0.8) or capture without --filter"
            ) from None
        raise CaptureUnavailable(f"cannot capture on {iface!r}: {exc}") from None


class LiveSource(Source):
    """Packets from one interface as a live source of network events (runs until ``stop``)."""

    replayable = False

    def __init__(
        self,
        iface: str,
        *,
        bpf_filter: str | None = None,
        promisc: bool = False,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        idle_timeout: float = 60.0,
        active_timeout: float = 300.0,
        max_flows: int = 100_000,
        set_direction: bool = True,
    ) -> None:
        self.iface = iface
        self.name = f"live:{iface}"
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.sock = open_capture(iface, bpf_filter, promisc)
        self.raw: socket.socket = self.sock.ins
        # The capture start time keeps ids of a restarted capture apart from the previous run's.
        table = FlowTable(
            source=f"live:{socket.gethostname()}:{iface}:{time.time():.6f}",
            module="live",
            idle_timeout=idle_timeout,
            active_timeout=active_timeout,
            max_flows=max_flows,
            set_direction=set_direction,
        )
        self.analyzer = TrafficAnalyzer(table)
        self.kernel_drops = 0
        self.errors: list[str] = []

    def batches(self, stop: threading.Event) -> Iterator[Batch]:
        analyzer, table, counters = self.analyzer, self.analyzer.table, self.analyzer.counters
        index = 0
        deadline = time.monotonic() + self.flush_interval
        try:
            while not stop.is_set():
                ready, _, _ = select.select([self.raw], [], [], 0.2)
                if ready:
                    for _ in range(1024):  # drain what is queued, then look at the clock again
                        try:
                            data, meta = self.raw.recvfrom(MAX_CAPLEN, socket.MSG_DONTWAIT)
                        except (BlockingIOError, InterruptedError):
                            break
                        pkttype, hatype = meta[2], meta[3]
                        if pkttype == PACKET_OUTGOING and hatype == ARPHRD_LOOPBACK:
                            continue  # loopback shows every packet twice: as sent and as received
                        linktype = ARPHRD_LINKTYPES.get(hatype)
                        try:
                            if linktype is None:
                                raise MalformedFrame(f"hardware type {hatype} is not decoded")
                            analyzer.packet(time.time(), decode_frame(data, linktype), index)
                        except MalformedFrame:
                            counters.packets += 1
                            counters.malformed += 1
                        index += 1
                now = time.monotonic()
                if now >= deadline:
                    deadline = now + self.flush_interval
                    table.expire(max(time.time(), table.now))
                    self._read_kernel_stats()
                    if analyzer.events or table.out:
                        yield Batch(analyzer.drain())
                elif len(analyzer.events) + len(table.out) >= self.batch_size:
                    yield Batch(analyzer.drain())
            table.flush("shutdown")
            yield Batch(analyzer.drain())
        finally:
            self.close()

    def _read_kernel_stats(self) -> None:
        try:
            _, drops = struct.unpack("II", self.raw.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        except OSError:
            return  # not a Linux packet socket: no counters
        self.kernel_drops += drops  # the kernel resets the counters on each read

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def status(self) -> SourceStatus:
        c = self.analyzer.counters
        return SourceStatus(
            name=self.name,
            read=c.packets,
            parse_errors=c.malformed + c.app_errors,
            dropped=self.kernel_drops,
            errors=list(self.errors),
        )
