"""Packets to flow records: 5-tuple aggregation with idle/active timeouts and bounded memory.

A flow is both directions of one conversation. It is reported (one ECS
``event.category: network``, ``event.type: connection`` event) when it ends: a
TCP RST or FINs from both sides (after a short grace for the last ACK), no
packet for ``idle_timeout`` seconds, at ``active_timeout`` for long-lived
flows (an interim record; counting restarts, like NetFlow's active timer), when
the table is full (the least recently active flow is evicted), or at the end
of input. Time is packet time, so reading the same capture twice gives the
same records, and the same ``event.id`` s.

The table is an ``OrderedDict`` kept in last-activity order: expiry looks
only at its front and eviction pops it, so per-packet cost stays O(1).
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from typing import Any

from sentinel import ecs
from sentinel.collect.netevent import (
    IANA_TRANSPORT,
    ICMP_PROTOCOLS,
    PORT_PROTOCOLS,
    community_id,
    direction,
    envelope,
    icmp_ports,
    ip_text,
    ts_text,
)
from sentinel.collect.pcap import Packet

TCP_FLAG_NAMES = ((0x01, "FIN"), (0x02, "SYN"), (0x04, "RST"), (0x08, "PSH"), (0x10, "ACK"), (0x20, "URG"))
TCP_FLAG_NAMES += ((0x40, "ECE"), (0x80, "CWR"))
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
# Flag names for every value of the TCP flags byte, computed once (a flow's flags are ORed together).
TCP_FLAGS = tuple(tuple(n for bit, n in TCP_FLAG_NAMES if value & bit) for value in range(256))
_KEY = struct.Struct("!HHB")


class Flow:
    """One conversation; ``src`` is the side that started it (as far as the capture shows)."""

    __slots__ = (
        "app",
        "domain",
        "dport",
        "dst",
        "fins",
        "first",
        "fwd_bytes",
        "fwd_flags",
        "fwd_packets",
        "icmp",
        "last",
        "pending",
        "proto",
        "rev_bytes",
        "rev_flags",
        "rev_packets",
        "segment",
        "seq",
        "sport",
        "src",
        "version",
    )

    def __init__(self, seq: int, ts: float, version: int, src: bytes, dst: bytes, proto: int, sport: int, dport: int):
        self.seq = seq
        self.segment = 0
        self.first = self.last = ts
        self.version, self.src, self.dst, self.proto, self.sport, self.dport = version, src, dst, proto, sport, dport
        self.fwd_packets = self.fwd_bytes = self.fwd_flags = 0
        self.rev_packets = self.rev_bytes = self.rev_flags = 0
        self.fins = 0  # bit 1: initiator sent FIN, bit 2: responder sent FIN, bit 4: RST seen
        self.icmp: tuple[int, int] | None = None
        self.app: str | None = None  # application protocol recognised in the payload (dns, http, tls)
        self.domain: str | None = None  # server name from TLS SNI or the HTTP Host header
        self.pending: bytes | None = None  # start of a ClientHello spanning several segments


class FlowTable:
    """Aggregates :data:`Packet` tuples into flows; finished flow events collect in :attr:`out`."""

    def __init__(
        self,
        *,
        source: str,
        module: str,
        dataset: str = "network.flow",
        idle_timeout: float = 60.0,
        active_timeout: float = 300.0,
        closed_grace: float = 2.0,
        max_flows: int = 100_000,
        set_direction: bool = True,
        max_pending_bytes: int = 32 << 20,
    ) -> None:
        if not 0 < idle_timeout <= active_timeout or closed_grace <= 0:
            raise ValueError("timeouts must satisfy 0 < idle timeout <= active timeout, and the close grace > 0")
        closed_grace = min(closed_grace, idle_timeout)
        if max_flows < 1:
            raise ValueError("max_flows must be at least 1")
        self.source, self.module, self.dataset = source, module, dataset
        self.idle_timeout, self.active_timeout, self.closed_grace = idle_timeout, active_timeout, closed_grace
        self.max_flows = max_flows
        self.set_direction = set_direction
        self.flows: OrderedDict[tuple, Flow] = OrderedDict()
        self.out: list[dict[str, Any]] = []
        self.next_seq = 0
        self.evicted = 0
        # Bytes of partial ClientHellos held for reassembly, over all flows: bounded against floods.
        self.pending_bytes = 0
        self.max_pending_bytes = max_pending_bytes
        self.now = 0.0
        self._next_sweep = 0.0

    def add(self, ts: float, pkt: Packet) -> tuple[Flow, bool]:
        """Count one packet; returns its flow and whether it went initiator -> responder."""
        version, src, dst, proto, sport, dport, flags, size, _ = pkt
        if ts > self.now:
            self.now = ts
            if ts >= self._next_sweep:
                self.expire(ts)  # before the lookup: a packet after the idle timeout starts a new flow
        if proto in ICMP_PROTOCOLS:
            icmp = (sport, dport)
            sport, dport, _ = icmp_ports(proto, sport, dport)
        else:
            icmp = None
        key = (src, dst, sport, dport, proto)
        flows = self.flows
        flow = flows.get(key)
        forward = True
        if flow is None:
            rkey = (dst, src, dport, sport, proto)
            flow = flows.get(rkey)
            if flow is not None:
                forward = False
                key = rkey
            else:
                # Started before the capture? A SYN-ACK, or a well-known source port talking to an
                # ephemeral one, comes from the responder: make the other side the initiator.
                if (proto == 6 and flags & (SYN | ACK) == SYN | ACK) or (
                    proto in PORT_PROTOCOLS and sport < 1024 <= dport and not flags & SYN
                ):
                    key, forward = rkey, False
                    flow = Flow(self.next_seq, ts, version, dst, src, proto, dport, sport)
                else:
                    flow = Flow(self.next_seq, ts, version, src, dst, proto, sport, dport)
                self.next_seq += 1
                if len(flows) >= self.max_flows:
                    _, old = flows.popitem(last=False)
                    self.evicted += 1
                    self._emit(old, "evicted", final=True)
                flows[key] = flow
            if icmp is not None and flow.icmp is None:
                flow.icmp = icmp
        else:
            flows.move_to_end(key)
        if ts - flow.first >= self.active_timeout:
            self._emit(flow, "active timeout", final=False)
            flow.segment += 1
            flow.first = ts
            flow.fwd_packets = flow.fwd_bytes = flow.fwd_flags = 0
            flow.rev_packets = flow.rev_bytes = flow.rev_flags = 0
        if ts > flow.last:
            flow.last = ts
        if forward:
            flow.fwd_packets += 1
            flow.fwd_bytes += size
            flow.fwd_flags |= flags
            if flags & (FIN | RST):
                flow.fins |= 4 if flags & RST else 1
        else:
            flow.rev_packets += 1
            flow.rev_bytes += size
            flow.rev_flags |= flags
            if flags & (FIN | RST):
                flow.fins |= 4 if flags & RST else 2
        return flow, forward

    def expire(self, now: float) -> None:
        """Report flows that ended by ``now``: closed ones after the grace, idle ones after the idle timeout."""
        self._next_sweep = now + min(1.0, self.closed_grace)
        grace, idle = self.closed_grace, self.idle_timeout
        done = []
        for key, flow in self.flows.items():
            quiet = now - flow.last
            if quiet < grace:
                break  # everything after this one was active more recently
            if flow.fins & 4 or flow.fins == 3:
                done.append((key, "closed"))
            elif quiet >= idle:
                done.append((key, "idle timeout"))
        for key, reason in done:
            self._emit(self.flows.pop(key), reason, final=True)

    def flush(self, reason: str = "end of input") -> None:
        """Report every open flow (end of a capture, or shutdown of a live one)."""
        while self.flows:
            _, flow = self.flows.popitem(last=False)
            self._emit(flow, "closed" if flow.fins & 4 or flow.fins == 3 else reason, final=True)

    def drain(self) -> list[dict[str, Any]]:
        out, self.out = self.out, []
        return out

    def _emit(self, f: Flow, reason: str, *, final: bool) -> None:
        if final and f.pending is not None:
            self.pending_bytes -= len(f.pending)
            f.pending = None
        if not f.fwd_packets and not f.rev_packets:
            return  # an active-timeout split that saw no packet since
        src, dst = ip_text(f.src), ip_text(f.dst)
        transport = IANA_TRANSPORT.get(f.proto, str(f.proto))
        raw = f.src + f.dst + _KEY.pack(f.sport, f.dport, f.proto) + f"{f.first:.6f}".encode()
        eid = ecs.event_id(self.source, f"flow:{f.seq}:{f.segment}", raw)
        start = ts_text(f.first)
        doc = envelope(
            eid=eid,
            ts=start,
            dataset=self.dataset,
            module=self.module,
            category=["network"],
            type=["connection", "end" if final else "info"],
            action="network_flow",
            start=start,
            end=ts_text(f.last),
            duration=round((f.last - f.first) * 1e6) * 1000,  # ns, at the microsecond precision of captures
            reason=reason,
        )
        source: dict[str, Any] = {"ip": src, "bytes": f.fwd_bytes, "packets": f.fwd_packets}
        destination: dict[str, Any] = {"ip": dst, "bytes": f.rev_bytes, "packets": f.rev_packets}
        icmp = f.icmp or (f.sport, f.dport)
        network: dict[str, Any] = {
            "transport": transport,
            "iana_number": str(f.proto),
            "type": "ipv4" if f.version == 4 else "ipv6",
            "bytes": f.fwd_bytes + f.rev_bytes,
            "packets": f.fwd_packets + f.rev_packets,
            "community_id": community_id(
                f.src, f.dst, f.proto, *(icmp if f.proto in ICMP_PROTOCOLS else (f.sport, f.dport))
            ),
        }
        flow_doc: dict[str, Any] = {"id": f"{f.seq}", "final": final}
        if f.proto in PORT_PROTOCOLS:
            source["port"], destination["port"] = f.sport, f.dport
            ports = f":{f.sport}", f":{f.dport}"
        else:
            ports = "", ""
        if f.proto == 6:
            flow_doc["tcp_flags"] = list(TCP_FLAGS[f.fwd_flags | f.rev_flags])
        elif f.proto in ICMP_PROTOCOLS:
            flow_doc["icmp"] = {"type": icmp[0], "code": icmp[1]}
        if self.set_direction:
            network["direction"] = direction(f.src, f.dst)
        label = transport
        if f.app:
            network["protocol"] = f.app
            label = f"{transport}/{f.app}"
        if f.domain:
            destination["domain"] = f.domain
        doc.update(source=source, destination=destination, network=network, flow=flow_doc)
        doc["message"] = (
            f"{label} {src}{ports[0]} -> {dst}{ports[1]}{' (' + f.domain + ')' if f.domain else ''}: "
            f"{network['packets']} packets, {network['bytes']} bytes, {f.last - f.first:.3f}s, {reason}"
        )
        self.out.append(doc)
