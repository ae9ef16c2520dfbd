"""Packets to ECS events (flows + DNS/HTTP/TLS), and the pcap file source built on it.

:class:`TrafficAnalyzer` is shared by the pcap source here and the live
capture source (:mod:`sentinel.collect.live`): it feeds each decoded packet to
the flow table and looks at payloads only where a protocol can start (UDP/TCP
port 53, a TCP payload opening with an HTTP method or a TLS handshake record),
so the per-packet cost stays a few microseconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinel import ecs
from sentinel.collect import netdecode
from sentinel.collect.flows import Flow, FlowTable
from sentinel.collect.netevent import IANA_TRANSPORT, community_id, direction, envelope, error_event, ip_text
from sentinel.collect.pcap import CaptureError, CaptureReader, MalformedFrame, Packet, decode_frame, scapy_packets
from sentinel.collect.source import Batch, Source, SourceStatus

DNS_PORTS = frozenset({53, 5353, 5355})
# First payload bytes worth a closer look on TCP: a TLS handshake record or an HTTP method.
TCP_INTERESTING = frozenset({0x16}) | netdecode.HTTP_FIRST_BYTES
CHUNK = 1024  # packets between checks for a full batch, progress and stop
MAX_PENDING_SEGMENTS_BYTES = netdecode.MAX_CLIENT_HELLO + 5


@dataclass
class TrafficCounters:
    packets: int = 0
    non_ip: int = 0  # ARP, LLDP, STP...: read and counted, not flows
    malformed: int = 0  # frames too short for their headers
    app_errors: int = 0  # payloads that claimed DNS/HTTP/TLS but were broken
    unreassembled: int = 0  # ClientHellos too big, or over the table's reassembly budget


class TrafficAnalyzer:
    """Turns decoded packets into flow events and per-message DNS/HTTP/TLS events."""

    def __init__(self, table: FlowTable) -> None:
        self.table = table
        self.counters = TrafficCounters()
        self.events: list[dict[str, Any]] = []

    def packet(self, ts: float, pkt: Packet | None, position: int | str) -> None:
        """Account one packet (``None`` = not IP); ``position`` identifies it within the source for event ids."""
        self.counters.packets += 1
        if pkt is None:
            self.counters.non_ip += 1
            return
        flow, forward = self.table.add(ts, pkt)
        payload = pkt[8]
        if not payload:
            return
        try:
            if pkt[3] == 17:
                if pkt[4] in DNS_PORTS or pkt[5] in DNS_PORTS:
                    self._app(ts, pkt, flow, position, payload, netdecode.parse_dns(payload), "dns")
            elif pkt[3] == 6 and (
                payload[0] in TCP_INTERESTING or flow.pending is not None or pkt[4] == 53 or pkt[5] == 53
            ):
                self._tcp_payload(ts, pkt, flow, forward, position, payload)
        except netdecode.DecodeError:
            self.counters.app_errors += 1

    def _tcp_payload(self, ts: float, pkt: Packet, flow: Flow, forward: bool, position: Any, payload: bytes) -> None:
        table = self.table
        if flow.pending is not None and forward:
            table.pending_bytes -= len(flow.pending)
            payload = flow.pending + payload
            flow.pending = None
        elif pkt[4] == 53 or pkt[5] == 53:
            if len(payload) > 2:
                fields = netdecode.parse_dns(payload[2 : 2 + int.from_bytes(payload[:2], "big")])
                self._app(ts, pkt, flow, position, payload, fields, "dns")
            return
        first = payload[0]
        if first == 0x16:
            need = netdecode.client_hello_length(payload)
            if need is None:
                return
            if need > len(payload):
                room = table.pending_bytes + len(payload) <= table.max_pending_bytes
                if forward and len(payload) < MAX_PENDING_SEGMENTS_BYTES and room:
                    flow.pending = payload  # wait for the rest of the ClientHello
                    table.pending_bytes += len(payload)
                else:
                    self.counters.unreassembled += 1
                return
            fields = netdecode.parse_client_hello(payload)
            if fields is not None:
                flow.domain = fields["tls"]["client"].get("server_name") or flow.domain
                self._app(ts, pkt, flow, position, payload, fields, "tls")
        elif first in netdecode.HTTP_FIRST_BYTES:
            fields = netdecode.parse_http_request(payload)
            if fields is not None:
                flow.domain = flow.domain or fields["url"].get("domain")
                self._app(ts, pkt, flow, position, payload, fields, "http")

    def _app(self, ts: float, pkt: Packet, flow: Flow, position: Any, raw: bytes, fields: dict, app: str) -> None:
        version, src, dst, proto, sport, dport = pkt[:6]
        flow.app = flow.app or app
        category = ["network", "web"] if app == "http" else ["network"]
        kind_type = ["access", "protocol"] if app == "http" else ["protocol"]
        doc = envelope(
            eid=ecs.event_id(self.table.source, f"pkt:{position}", raw),
            ts=ts,
            dataset=f"network.{app}",
            module=self.table.module,
            category=category,
            type=kind_type,
            action=_ACTIONS[app](fields),
        )
        network = fields.pop("network")
        network.update(
            transport=IANA_TRANSPORT.get(proto, str(proto)),
            iana_number=str(proto),
            type="ipv4" if version == 4 else "ipv6",
            community_id=community_id(src, dst, proto, sport, dport),
        )
        if self.table.set_direction:
            network["direction"] = direction(src, dst)
        doc.update(fields)
        doc["network"] = network
        doc["source"] = {"ip": ip_text(src), "port": sport}
        doc["destination"] = {"ip": ip_text(dst), "port": dport}
        doc["flow"] = {"id": str(flow.seq)}
        doc["message"] = _summary(app, doc)
        self.events.append(doc)

    def drain(self) -> list[dict[str, Any]]:
        """Events ready to store: application events and flows that have ended."""
        out = self.events + self.table.drain()
        self.events = []
        return out


def _dns_action(fields: dict) -> str:
    return "dns_answer" if fields["dns"]["type"] == "answer" else "dns_query"


_ACTIONS: dict[str, Callable[[dict], str]] = {
    "dns": _dns_action,
    "http": lambda fields: "http_request",
    "tls": lambda fields: "tls_client_hello",
}


def _summary(app: str, doc: dict) -> str:
    where = f"{doc['source']['ip']}:{doc['source']['port']} -> {doc['destination']['ip']}:{doc['destination']['port']}"
    if app == "dns":
        dns = doc["dns"]
        q = dns.get("question", {})
        answers = " ".join(a["data"] for a in dns.get("answers", [])[:8])
        code = dns.get("response_code", "")
        words = ["dns", dns["type"], q.get("type", ""), q.get("name", ""), code, answers, f"({where})"]
        return " ".join(w for w in words if w)
    if app == "http":
        return f"http {doc['http']['request']['method']} {doc['url'].get('full', doc['url']['original'])} ({where})"
    return f"tls client hello {doc['tls']['client'].get('server_name', '(no SNI)')} ({where})"


class PcapSource(Source):
    """A pcap/pcapng file as a finite source of flow, DNS, HTTP and TLS events.

    Event ids are built from the capture's content fingerprint plus packet or
    flow index, so reading the file again (a restart, a renamed copy) yields
    the same ids and the store drops the repeats. A read stopped early does
    not report its open flows, so the next full read reports them whole. ``engine`` picks the fast
    struct decoder or scapy's full dissection (same events, ~100x slower).
    """

    replayable = True

    def __init__(
        self,
        path: str | Path,
        *,
        engine: str = "fast",
        batch_size: int = 5000,
        idle_timeout: float = 60.0,
        active_timeout: float = 300.0,
        max_flows: int = 100_000,
        set_direction: bool = True,
        progress: Callable[[PcapSource], None] | None = None,
        progress_every: float = 2.0,
    ) -> None:
        if engine not in ("fast", "scapy"):
            raise ValueError(f"engine must be 'fast' or 'scapy', not {engine!r}")
        if not 0 < idle_timeout <= active_timeout or max_flows < 1:
            raise ValueError("need 0 < idle timeout <= active timeout and max flows >= 1")
        self.path = Path(path)
        self.name = f"pcap:{self.path.name}"
        self.engine = engine
        self.batch_size = batch_size
        self.flow_options = dict(
            idle_timeout=idle_timeout, active_timeout=active_timeout, max_flows=max_flows, set_direction=set_direction
        )
        self.progress = progress
        self.progress_every = progress_every
        self.counters = TrafficCounters()
        self.bytes_read = 0
        self.size = 0
        self.errors: list[str] = []
        self.done = False
        self.started: float | None = None  # monotonic time reading began, for rates in progress reports

    def batches(self, stop: threading.Event) -> Iterator[Batch]:
        self.started = time.monotonic()
        try:
            reader = CaptureReader(self.path)
        except (CaptureError, OSError) as exc:
            self.errors.append(str(exc))
            yield Batch([self._error(str(exc), 0, b"")])
            self.done = True
            return
        with reader:
            self.size = reader.size
            identity = f"pcap:{reader.fingerprint()}"
            table = FlowTable(source=identity, module="pcap", **self.flow_options)
            analyzer = TrafficAnalyzer(table)
            self.counters = analyzer.counters
            chunks = self._fast(reader, analyzer) if self.engine == "fast" else self._scapy(analyzer)
            next_report = time.monotonic() + self.progress_every
            for _ in chunks:
                self.bytes_read = reader.offset
                if len(analyzer.events) + len(table.out) >= self.batch_size:
                    yield Batch(analyzer.drain())
                if self.progress is not None and time.monotonic() >= next_report:
                    next_report = time.monotonic() + self.progress_every
                    self.progress(self)
                if stop.is_set():
                    break
            if self.engine == "scapy":
                for _ in reader:  # scapy stops quietly at a broken record: the struct reader says where and why
                    pass
            self.bytes_read = reader.offset
            if not stop.is_set():
                table.flush("end of input")
            # Stopped early: open flows are not reported half-counted. The file is read again from the
            # start next time, which reports them whole (and the store drops what it already has).
            tail = analyzer.drain()
            if reader.error:
                self.errors.append(reader.error)
            # A file that could not be read to its end is recorded in the store, with where it broke.
            tail += [self._error(problem, reader.offset, reader.excerpt(reader.offset, 64)) for problem in self.errors]
            self.done = True
            if self.progress is not None:
                self.progress(self)
            yield Batch(tail)

    def _fast(self, reader: CaptureReader, analyzer: TrafficAnalyzer) -> Iterator[None]:
        """Decode and account packets, handing control back every ``CHUNK`` packets (not per packet: speed)."""
        counters = analyzer.counters
        feed = analyzer.packet
        for index, (ts, linktype, data, _wirelen) in enumerate(reader):
            try:
                feed(ts, decode_frame(data, linktype), index)
            except MalformedFrame:
                counters.packets += 1
                counters.malformed += 1
            if not (index + 1) % CHUNK:
                yield
        yield

    def _scapy(self, analyzer: TrafficAnalyzer) -> Iterator[None]:
        try:
            for index, (ts, pkt) in enumerate(scapy_packets(self.path)):
                analyzer.packet(ts, pkt, index)
                if not (index + 1) % CHUNK:
                    yield
        except Exception as exc:
            self.errors.append(f"scapy stopped reading: {type(exc).__name__}: {exc}")
        yield

    def _error(self, reason: str, offset: int, raw: bytes) -> dict[str, Any]:
        return error_event(
            source=str(self.path), position=offset, raw=raw, dataset="network.flow", module="pcap", reason=reason
        )

    def status(self) -> SourceStatus:
        c = self.counters
        return SourceStatus(
            name=self.name,
            read=c.packets,
            parse_errors=c.malformed + c.app_errors + len(self.errors),
            lag=float(self.size - self.bytes_read) if self.size else None,
            errors=list(self.errors),
        )
