"""NetFlow v5, v9 and IPFIX (v10) collection: a UDP receiver and a decoder with per-exporter templates.

Routers, firewalls and probes (softflowd, nProbe, pmacct) export flow records
over UDP. v5 has a fixed record; v9 and IPFIX describe records with templates
sent now and then, so the decoder keeps a template cache keyed by exporter
address, observation domain (v9 source id) and template id. Data that arrives
before its template (a collector restart) is parked, bounded, and decoded when
the template comes; what overflows is counted and reported.

Each record becomes an ECS ``event.category: network`` / ``event.type:
connection`` event with ``observer.ip`` set to the exporter, and
``event.id`` derived from exporter, domain, export sequence and record index,
so a retransmitted or replayed export never duplicates. Garbage on the port is
counted per exporter and reported as ``pipeline_error`` events, at most one
per exporter every ``error_interval`` seconds so a flood cannot fill the store.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sentinel import ecs
from sentinel.collect.flows import TCP_FLAGS
from sentinel.collect.netevent import IANA_TRANSPORT, community_id, direction, envelope, error_event, ip_text, ts_text
from sentinel.collect.source import Batch, Source, SourceStatus
from sentinel.errors import Invalid

DATASET = "netflow.flow"
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01

_V5_HEADER = struct.Struct("!HHIIIIBBH")
_V5_RECORD = struct.Struct("!4s4s4sHHIIIIHHxBBBHHBBxx")
_V9_HEADER = struct.Struct("!HHIIII")
_IPFIX_HEADER = struct.Struct("!HHIII")
_SET_HEADER = struct.Struct("!HH")

# Information elements Sentinel maps to ECS: id -> (name, kind). Kinds: u unsigned, ip4, ip6, mac,
# ms/s epoch milliseconds/seconds, ntp (NTP 64-bit timestamp), up (system uptime ms).
IE: dict[int, tuple[str, str]] = {
    1: ("octetDeltaCount", "u"), 2: ("packetDeltaCount", "u"), 4: ("protocolIdentifier", "u"),
    6: ("tcpControlBits", "u"), 7: ("sourceTransportPort", "u"), 8: ("sourceIPv4Address", "ip4"),
    10: ("ingressInterface", "u"), 11: ("destinationTransportPort", "u"), 12: ("destinationIPv4Address", "ip4"),
    14: ("egressInterface", "u"), 16: ("bgpSourceAsNumber", "u"), 17: ("bgpDestinationAsNumber", "u"),
    21: ("flowEndSysUpTime", "up"), 22: ("flowStartSysUpTime", "up"), 27: ("sourceIPv6Address", "ip6"),
    28: ("destinationIPv6Address", "ip6"), 32: ("icmpTypeCodeIPv4", "u"), 56: ("sourceMacAddress", "mac"),
    58: ("vlanId", "u"), 80: ("destinationMacAddress", "mac"), 85: ("octetTotalCount", "u"),
    86: ("packetTotalCount", "u"), 136: ("flowEndReason", "u"), 139: ("icmpTypeCodeIPv6", "u"),
    150: ("flowStartSeconds", "s"), 151: ("flowEndSeconds", "s"), 152: ("flowStartMilliseconds", "ms"),
    153: ("flowEndMilliseconds", "ms"), 154: ("flowStartMicroseconds", "ntp"), 155: ("flowEndMicroseconds", "ntp"),
    156: ("flowStartNanoseconds", "ntp"), 157: ("flowEndNanoseconds", "ntp"), 160: ("systemInitTimeMilliseconds", "ms"),
    34: ("samplingInterval", "u"), 50: ("samplerRandomInterval", "u"), 305: ("samplingPacketInterval", "u"),
    231: ("initiatorOctets", "u"), 232: ("responderOctets", "u"), 298: ("initiatorPackets", "u"),
    299: ("responderPackets", "u"),
}  # fmt: skip
END_REASONS = {
    1: "idle timeout",
    2: "active timeout",
    3: "end of flow detected",
    4: "forced end",
    5: "lack of resources",
}
MAX_PENDING_SETS = 512  # data sets parked while waiting for their template, over all exporters
MAX_TEMPLATES = 8192
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux: drop counter as ancillary data
_ANCILLARY_SPACE = socket.CMSG_SPACE(4)


class NetflowError(Invalid):
    """The datagram is not a well-formed NetFlow/IPFIX export."""


@dataclass
class Template:
    # (ie id, enterprise number or 0, length; 65535 = variable length)
    fields: list[tuple[int, int, int]]
    options: bool = False
    record_len: int | None = None  # None when any field is variable-length
    unpack: Callable[[bytes, int], tuple] | None = None
    # (position in the unpacked tuple, ie, bytes-to-int needed) of the fields Sentinel maps
    wanted: list[tuple[int, int, bool]] = field(default_factory=list)

    @classmethod
    def build(cls, fields: list[tuple[int, int, int]], options: bool = False) -> Template:
        tpl = cls(fields, options)
        if any(length == 65535 for _, _, length in fields):
            return tpl
        fmt = ["!"]
        for pos, (ie, pen, length) in enumerate(fields):
            kind = IE.get(ie, ("", ""))[1] if pen == 0 else ""
            code = _INT_CODES.get(length) if kind in _NUMERIC else None
            fmt.append(code or f"{length}s")
            if kind:
                # reduced-size encoding (RFC 7011 6.2) gives odd widths: 3, 5, 6, 7 bytes
                tpl.wanted.append((pos, ie, kind in _NUMERIC and code is None))
        compiled = struct.Struct("".join(fmt))
        tpl.record_len = compiled.size
        tpl.unpack = compiled.unpack_from
        return tpl


_NUMERIC = frozenset({"u", "s", "ms", "up", "ntp"})
_INT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


@dataclass
class ExporterCounters:
    packets: int = 0
    records: int = 0
    malformed: int = 0
    missing_template: int = 0  # data sets parked or dropped for want of a template
    dropped_sets: int = 0
    options_records: int = 0
    # Export sequence numbers that never arrived (v5/IPFIX count records, v9 counts packets): loss on the
    # way from the exporter, which the collector cannot see any other way.
    sequence_gap: int = 0


@dataclass
class _Header:
    version: int
    exporter: str
    domain: int
    sequence: int
    export_time: float  # epoch seconds
    uptime_ms: int | None  # v9: exporter uptime at export time


class NetflowDecoder:
    """Datagram in, ECS flow events out; keeps templates and counters per exporter."""

    def __init__(self, *, set_direction: bool = True, error_interval: float = 10.0) -> None:
        self.set_direction = set_direction
        self.error_interval = error_interval
        self.templates: OrderedDict[tuple[str, int, int], Template] = OrderedDict()
        self.pending: OrderedDict[tuple[str, int, int], list[tuple[_Header, bytes, int]]] = OrderedDict()
        self.pending_count = 0
        self.exporters: dict[str, ExporterCounters] = {}
        self._last_error: dict[str, tuple[float, int]] = {}
        self._ingested = ""  # event.ingested of the datagram being decoded
        self._next_sequence: dict[tuple[str, int, int], int] = {}
        # (exporter, domain) -> sampling interval announced in v5 headers or v9/IPFIX options records
        self.sampling: dict[tuple[str, int], int] = {}

    def counters(self, exporter: str) -> ExporterCounters:
        c = self.exporters.get(exporter)
        if c is None:
            c = self.exporters[exporter] = ExporterCounters()
        return c

    def decode(self, data: bytes, exporter: str, now: float | None = None) -> list[dict[str, Any]]:
        """Events from one datagram; a malformed one yields (rate-limited) error events and never raises."""
        c = self.counters(exporter)
        c.packets += 1
        out: list[dict[str, Any]] = []
        self._ingested = ts_text(time.time())
        try:
            if len(data) < 4:
                raise NetflowError(f"{len(data)}-byte datagram is too short for a NetFlow header")
            version = (data[0] << 8) | data[1]
            if version == 5:
                self._v5(data, exporter, out)
            elif version == 9:
                self._v9(data, exporter, out)
            elif version == 10:
                self._ipfix(data, exporter, out)
            else:
                raise NetflowError(f"version {version} is not NetFlow v5, v9 or IPFIX (10)")
        except (NetflowError, struct.error, IndexError, ValueError) as exc:
            c.malformed += 1
            reason = str(exc) if isinstance(exc, NetflowError) else f"malformed export: {exc}"
            self._report(out, exporter, data, reason, now)
        except Exception as exc:
            c.malformed += 1
            self._report(out, exporter, data, f"could not decode ({type(exc).__name__}: {exc})", now)
        c.records += sum(1 for e in out if e["event"]["kind"] == "event")
        return out

    def _report(self, out: list, exporter: str, data: bytes, reason: str, now: float | None) -> None:
        now = time.monotonic() if now is None else now
        last, suppressed = self._last_error.get(exporter, (-1e18, 0))
        if now - last < self.error_interval:
            self._last_error[exporter] = (last, suppressed + 1)
            return
        if suppressed:
            reason += f" ({suppressed} more malformed datagrams from this exporter since the last report)"
        self._last_error[exporter] = (now, 0)
        c = self.counters(exporter)
        doc = error_event(
            source=f"netflow:{exporter}",
            position=f"datagram:{c.packets}",
            raw=data,
            dataset=DATASET,
            module="netflow",
            reason=reason,
        )
        doc["observer"] = {"ip": exporter}
        out.append(doc)

    # --- v5 ----------------------------------------------------------------------------------------

    def _v5(self, data: bytes, exporter: str, out: list) -> None:
        if len(data) < 24:
            raise NetflowError("NetFlow v5 header is cut off")
        _, count, uptime, secs, nsecs, seq, _etype, engine_id, sampling = _V5_HEADER.unpack_from(data)
        if not 1 <= count <= 30 or len(data) < 24 + 48 * count:
            raise NetflowError(
                f"NetFlow v5 header says {count} records but the datagram holds {(len(data) - 24) // 48}"
            )
        hdr = _Header(5, exporter, engine_id, seq, secs + nsecs / 1e9, uptime)
        self._note_sampling(hdr, sampling & 0x3FFF)  # the top two bits are the sampling mode
        self._sequence(hdr, count)
        for i in range(count):
            off = 24 + 48 * i
            (src, dst, _nh, in_if, out_if, pkts, octets, first, last, sport, dport, flags, proto, _tos, src_as, dst_as,
             _sm, _dm) = _V5_RECORD.unpack_from(data, off)  # fmt: skip
            rec = {8: src, 12: dst, 10: in_if, 14: out_if, 2: pkts, 1: octets, 22: first, 21: last, 7: sport}
            rec.update({11: dport, 6: flags, 4: proto, 16: src_as, 17: dst_as})
            out.append(self._event(rec, hdr, i, data[off : off + 48]))

    # --- v9 ----------------------------------------------------------------------------------------

    def _v9(self, data: bytes, exporter: str, out: list) -> None:
        if len(data) < 20:
            raise NetflowError("NetFlow v9 header is cut off")
        _, _count, uptime, secs, seq, source_id = _V9_HEADER.unpack_from(data)
        hdr = _Header(9, exporter, source_id, seq, float(secs), uptime)
        self._sequence(hdr, 1)
        self._sets(data, 20, len(data), hdr, out, template_ids=(0, 1))

    # --- IPFIX -------------------------------------------------------------------------------------

    def _ipfix(self, data: bytes, exporter: str, out: list) -> None:
        if len(data) < 16:
            raise NetflowError("IPFIX message header is cut off")
        _, length, export_time, seq, domain = _IPFIX_HEADER.unpack_from(data)
        if length < 16 or length > len(data):
            raise NetflowError(f"IPFIX message length {length} does not fit the {len(data)}-byte datagram")
        hdr = _Header(10, exporter, domain, seq, float(export_time), None)
        c = self.counters(exporter)
        parked = c.missing_template
        records = self._sets(data, 16, length, hdr, out, template_ids=(2, 3))
        # IPFIX counts data records; if a set waits for its template its record count is unknown.
        self._sequence(hdr, records if c.missing_template == parked else None)

    def _note_sampling(self, hdr: _Header, interval: int | None) -> None:
        """Remember the exporter's packet sampling (1 in N); its flow events then say so."""
        if interval and interval > 1:
            self.sampling[(hdr.exporter, hdr.domain)] = interval
        elif interval is not None:
            self.sampling.pop((hdr.exporter, hdr.domain), None)

    def _sequence(self, hdr: _Header, advance: int | None) -> None:
        """Count sequence numbers skipped since the last export of this exporter and domain."""
        key = (hdr.exporter, hdr.version, hdr.domain)
        expected = self._next_sequence.get(key)
        if expected is not None:
            gap = (hdr.sequence - expected) & 0xFFFFFFFF
            if 0 < gap < 1 << 31:  # a jump back is an exporter restart or reordering, not loss
                self.counters(hdr.exporter).sequence_gap += gap
        if advance is None:
            self._next_sequence.pop(key, None)
        else:
            self._next_sequence[key] = (hdr.sequence + advance) & 0xFFFFFFFF

    def _sets(self, data: bytes, off: int, end: int, hdr: _Header, out: list, template_ids: tuple[int, int]) -> int:
        """Decode the sets of one export; returns the number of data records (flows and options)."""
        record_index = 0
        while off + 4 <= end:
            set_id, set_len = _SET_HEADER.unpack_from(data, off)
            if set_len < 4 or off + set_len > end:
                raise NetflowError(f"set {set_id} at offset {off} claims {set_len} bytes, {end - off} left")
            body, body_end = off + 4, off + set_len
            if set_id == template_ids[0]:
                self._templates(data, body, body_end, hdr, options=False, out=out)
            elif set_id == template_ids[1]:
                self._templates(data, body, body_end, hdr, options=True, out=out)
            elif set_id >= 256:
                record_index = self._data_set(data[body:body_end], hdr, set_id, out, record_index)
            off = body_end
        return record_index

    def _templates(self, data: bytes, off: int, end: int, hdr: _Header, *, options: bool, out: list) -> None:
        ipfix = hdr.version == 10
        while off + 4 <= end:
            if options:
                if ipfix:
                    tid, count, _scope = struct.unpack_from("!HHH", data, off)
                    off += 6 if count else 4
                else:
                    tid, scope_len, opt_len = struct.unpack_from("!HHH", data, off)
                    if scope_len % 4 or opt_len % 4:
                        raise NetflowError(f"options template {tid} has field lengths not in 4-byte units")
                    count = (scope_len + opt_len) // 4
                    off += 6
            else:
                tid, count = _SET_HEADER.unpack_from(data, off)
                off += 4
            if tid < 256:
                if tid == 0 and count == 0:
                    break  # padding at the end of a set
                raise NetflowError(f"template id {tid} is reserved (data templates start at 256)")
            key = (hdr.exporter, hdr.domain, tid)
            if count == 0:  # IPFIX template withdrawal
                self.templates.pop(key, None)
                continue
            fields = []
            for _ in range(count):
                ie, length = _SET_HEADER.unpack_from(data, off)
                off += 4
                pen = 0
                if ipfix and ie & 0x8000:
                    pen = struct.unpack_from("!I", data, off)[0]
                    ie &= 0x7FFF
                    off += 4
                if length == 0:
                    raise NetflowError(f"template {tid} has a zero-length field {ie}")
                if not ipfix and length == 65535:
                    raise NetflowError(f"template {tid}: variable-length fields exist only in IPFIX")
                fields.append((ie, pen, length))
            if off > end:
                raise NetflowError(f"template {tid} runs past the end of its set")
            self.templates[key] = Template.build(fields, options)
            self.templates.move_to_end(key)
            if len(self.templates) > MAX_TEMPLATES:
                self.templates.popitem(last=False)
            for parked_hdr, body, index in self.pending.pop(key, []):
                self.pending_count -= 1
                self._data_set(body, parked_hdr, tid, out, index)

    def _data_set(self, body: bytes, hdr: _Header, tid: int, out: list, index: int) -> int:
        key = (hdr.exporter, hdr.domain, tid)
        tpl = self.templates.get(key)
        c = self.counters(hdr.exporter)
        if tpl is None:
            c.missing_template += 1
            self.pending.setdefault(key, []).append((hdr, body, index))
            self.pending_count += 1
            if self.pending_count > MAX_PENDING_SETS:
                old_key, parked = next(iter(self.pending.items()))
                parked.pop(0)
                self.pending_count -= 1
                if not parked:
                    del self.pending[old_key]
                self.counters(old_key[0]).dropped_sets += 1
                raise NetflowError(
                    f"no template {old_key[2]} (domain {old_key[1]}) from {old_key[0]}: a parked data set was "
                    "dropped; check that the exporter sends templates (template refresh interval)"
                )
            return index + 1
        off, end = 0, len(body)
        if tpl.record_len is not None:
            rlen = tpl.record_len
            while off + rlen <= end:
                values = tpl.unpack(body, off)
                rec = {
                    ie: int.from_bytes(values[pos], "big") if to_int else values[pos] for pos, ie, to_int in tpl.wanted
                }
                if tpl.options:
                    c.options_records += 1
                    self._options(rec, hdr)
                else:
                    out.append(self._event(rec, hdr, index, body[off : off + rlen]))
                index += 1
                off += rlen
            return index  # what is left is padding
        while off < end:
            start = off
            rec: dict[int, Any] = {}
            try:
                for ie, pen, length in tpl.fields:
                    if length == 65535:
                        length = body[off]
                        off += 1
                        if length == 255:
                            length = int.from_bytes(body[off : off + 2], "big")
                            off += 2
                    raw = body[off : off + length]
                    if len(raw) != length:
                        raise IndexError
                    off += length
                    kind = IE.get(ie, ("", ""))[1] if pen == 0 else ""
                    if kind:
                        rec[ie] = int.from_bytes(raw, "big") if kind in _NUMERIC else raw
            except IndexError:
                if end - start < 4:
                    break  # padding
                raise NetflowError(f"variable-length record of template {tid} runs past the end of its set") from None
            if tpl.options:
                c.options_records += 1
                self._options(rec, hdr)
            else:
                out.append(self._event(rec, hdr, index, body[start:off]))
            index += 1
        return index

    def _options(self, rec: dict[int, Any], hdr: _Header) -> None:
        for ie in (34, 305, 50):
            if isinstance(rec.get(ie), int):
                self._note_sampling(hdr, rec[ie])
                return

    # --- ECS ---------------------------------------------------------------------------------------

    def _time(self, rec: dict[int, Any], hdr: _Header, which: str) -> float | None:
        ms_ie, s_ie, us_ie, ns_ie, up_ie = (152, 150, 154, 156, 22) if which == "start" else (153, 151, 155, 157, 21)
        if ms_ie in rec:
            return rec[ms_ie] / 1000
        if s_ie in rec:
            return float(rec[s_ie])
        for ie in (us_ie, ns_ie):
            if ie in rec:
                v = rec[ie]
                return (v >> 32) - NTP_EPOCH_OFFSET + (v & 0xFFFFFFFF) / 2**32
        if up_ie in rec:
            if hdr.uptime_ms is not None:
                return hdr.export_time - (hdr.uptime_ms - rec[up_ie]) / 1000
            if 160 in rec:
                return (rec[160] + rec[up_ie]) / 1000
        return None

    def _event(self, rec: dict[int, Any], hdr: _Header, index: int, raw: bytes) -> dict[str, Any]:
        src, dst = rec.get(8) or rec.get(27), rec.get(12) or rec.get(28)
        start = self._time(rec, hdr, "start")
        end = self._time(rec, hdr, "end")
        start = hdr.export_time if start is None else start
        end = start if end is None else max(end, start)
        proto = rec.get(4, 0)
        eid = ecs.event_id(f"netflow:{hdr.exporter}:{hdr.domain}", f"{hdr.sequence}:{index}", raw)
        reason = END_REASONS.get(rec.get(136, 0))
        extra = {"reason": reason} if reason else {}
        start_text = ts_text(start)
        doc = envelope(
            eid=eid,
            ts=start_text,
            dataset=DATASET,
            module="netflow",
            category=["network"],
            type=["connection", "end"],
            action="netflow_flow",
            start=start_text,
            end=ts_text(end),
            duration=round((end - start) * 1e6) * 1000,
            ingested=self._ingested,
            **extra,
        )
        packets = rec.get(2, rec.get(86, 0))
        octets = rec.get(1, rec.get(85, 0))
        source: dict[str, Any] = {"bytes": rec.get(231, octets), "packets": rec.get(298, packets)}
        destination: dict[str, Any] = {}
        if 232 in rec:
            destination.update(bytes=rec[232], packets=rec.get(299, 0))
        network: dict[str, Any] = {
            "transport": IANA_TRANSPORT.get(proto, str(proto)),
            "iana_number": str(proto),
            "bytes": source["bytes"] + destination.get("bytes", 0),
            "packets": source["packets"] + destination.get("packets", 0),
        }
        sport, dport = rec.get(7, 0), rec.get(11, 0)
        icmp = rec.get(32, rec.get(139))
        if proto in (1, 58) and icmp is None:
            icmp = dport  # v5 and many v9 exporters put type*256+code in the destination port
        if isinstance(src, bytes) and isinstance(dst, bytes) and len(src) == len(dst) and len(src) in (4, 16):
            source["ip"], destination["ip"] = ip_text(src), ip_text(dst)
            network["type"] = "ipv4" if len(src) == 4 else "ipv6"
            if proto in (1, 58):
                network["community_id"] = community_id(src, dst, proto, (icmp or 0) >> 8, (icmp or 0) & 0xFF)
            else:
                network["community_id"] = community_id(src, dst, proto, sport, dport)
            if self.set_direction:
                network["direction"] = direction(src, dst)
        if proto in (6, 17, 132):
            source["port"], destination["port"] = sport, dport
        flow_doc: dict[str, Any] = {"final": True}
        if proto == 6 and 6 in rec:
            flow_doc["tcp_flags"] = list(TCP_FLAGS[rec[6] & 0xFF])
        elif proto in (1, 58) and icmp is not None:
            flow_doc["icmp"] = {"type": icmp >> 8, "code": icmp & 0xFF}
        observer: dict[str, Any] = {"ip": hdr.exporter}
        if 10 in rec:
            observer["ingress"] = {"interface": {"id": str(rec[10])}}
        if 14 in rec:
            observer["egress"] = {"interface": {"id": str(rec[14])}}
        if 58 in rec:
            network["vlan"] = {"id": str(rec[58])}
        for ie, side in ((16, source), (17, destination)):
            if rec.get(ie):
                side["as"] = {"number": rec[ie]}
        for ie, side in ((56, source), (80, destination)):
            if isinstance(rec.get(ie), bytes) and len(rec[ie]) == 6:
                side["mac"] = "-".join(f"{b:02X}" for b in rec[ie])
        doc.update(source=source, destination=destination, network=network, flow=flow_doc, observer=observer)
        doc["netflow"] = {"version": hdr.version, "sequence": hdr.sequence, "observation_domain": hdr.domain}
        sampling = self.sampling.get((hdr.exporter, hdr.domain))
        if sampling:
            doc["netflow"]["sampling_interval"] = sampling  # counts are as exported: 1 in N packets
        ports = (f":{sport}", f":{dport}") if "port" in source else ("", "")
        doc["message"] = (
            f"netflow v{hdr.version} from {hdr.exporter}: {network['transport']} {source.get('ip', '?')}{ports[0]} -> "
            f"{destination.get('ip', '?')}{ports[1]}: {network['packets']} packets, {network['bytes']} bytes"
        )
        return doc


def parse_listen(url: str) -> tuple[str, int]:
    """``udp://HOST:PORT`` (``udp://[::1]:2055`` for IPv6) -> (host, port), with a message saying what is wrong."""
    parts = urlsplit(url if "://" in url else f"udp://{url}")
    if parts.scheme != "udp":
        raise ValueError(f"{url!r}: NetFlow/IPFIX is received over UDP; use udp://HOST:PORT, e.g. udp://0.0.0.0:2055")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ValueError(f"{url!r}: give a host and port, e.g. udp://0.0.0.0:2055")
    return parts.hostname, port


class NetflowSource(Source):
    """Listens on one or more UDP addresses and yields flow events in batches (by size, or every ``flush_interval``)."""

    replayable = False

    def __init__(
        self,
        listen: str | Sequence[str] = "udp://127.0.0.1:2055",
        *,
        name: str | None = None,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        set_direction: bool = True,
        receive_buffer: int = 8 << 20,
    ) -> None:
        addrs = [parse_listen(u) for u in ([listen] if isinstance(listen, str) else listen)]
        if not addrs:
            raise ValueError("give at least one udp://HOST:PORT to listen on")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.decoder = NetflowDecoder(set_direction=set_direction)
        self.socks: list[socket.socket] = []
        try:
            for host, port in addrs:
                sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
                self.socks.append(sock)
                with contextlib.suppress(OSError):  # capped by net.core.rmem_max; a smaller buffer still works
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
                with contextlib.suppress(OSError):  # Linux: each datagram carries the socket's drop count
                    sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
                try:
                    sock.bind((host, port))
                except OSError as exc:
                    raise OSError(exc.errno, f"cannot listen on udp://{host}:{port}: {exc.strerror}") from None
                sock.setblocking(False)
        except OSError:
            self.close()
            raise
        # Port 0 asks the kernel for a free port; report the one it chose.
        self.addresses = [sock.getsockname()[:2] for sock in self.socks]
        self.port = self.addresses[0][1]
        self.name = name or "netflow:" + ",".join(f"{h}:{p}" for h, p in self.addresses)
        # Datagrams the kernel dropped because the receive buffer was full, per socket (cumulative).
        self.kernel_drops = [0] * len(self.socks)

    def batches(self, stop: threading.Event) -> Iterator[Batch]:
        pending: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.flush_interval
        decode = self.decoder.decode
        try:
            while not stop.is_set():
                ready, _, _ = select.select(self.socks, [], [], 0.2)
                for sock in ready:
                    slot = self.socks.index(sock)
                    for _ in range(256):  # drain what is queued, then look at the clock again
                        try:
                            data, ancillary, _, addr = sock.recvmsg(65535, _ANCILLARY_SPACE)
                        except (BlockingIOError, InterruptedError):
                            break
                        for level, kind, value in ancillary:
                            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                                self.kernel_drops[slot] = struct.unpack("I", value[:4])[0]
                        pending.extend(decode(data, addr[0]))
                now = time.monotonic()
                if len(pending) >= self.batch_size or (pending and now >= deadline):
                    yield Batch(pending)
                    pending = []
                if now >= deadline:
                    deadline = now + self.flush_interval
            if pending:
                yield Batch(pending)
        finally:
            self.close()

    def close(self) -> None:
        for sock in self.socks:
            sock.close()

    def status(self) -> SourceStatus:
        counters = self.decoder.exporters.values()
        return SourceStatus(
            name=self.name,
            read=sum(c.records for c in counters),
            parse_errors=sum(c.malformed for c in counters),
            dropped=sum(self.kernel_drops) + sum(c.dropped_sets for c in counters),
            errors=[
                f"{exp}: {c.malformed} malformed, {c.dropped_sets} data sets dropped without template, "
                f"{c.sequence_gap} sequence numbers missing (lost between exporter and collector)"
                for exp, c in self.decoder.exporters.items()
                if c.malformed or c.dropped_sets or c.sequence_gap
            ]
            + (
                [f"{sum(self.kernel_drops)} datagrams dropped: receive buffer full (collector too slow)"]
                if any(self.kernel_drops)
                else []
            ),
        )
