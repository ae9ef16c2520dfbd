"""Seeded synthetic traffic for the network-collector tests and benchmarks, built with scapy.

Scapy is the independent encoder here: Sentinel's fast decoders never wrote
these bytes, so agreement between what was generated and what was decoded
checks the decoders. Each helper returns ``(timestamp, scapy packet)`` pairs.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.layers.tls.all import TLS, ServerName, TLS_Ext_ServerName, TLSClientHello
from scapy.packet import Packet, Raw
from scapy.utils import PcapNgWriter, PcapWriter

Timed = list[tuple[float, Packet]]


def _eth(dst: str = "02:00:00:00:00:02") -> Packet:
    return Ether(src="02:00:00:00:00:01", dst=dst)


def _l3(src: str, dst: str) -> Packet:
    return IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)


def tcp_session(
    client: str,
    server: str,
    sport: int,
    dport: int,
    t0: float,
    c2s: list[bytes] = (),
    s2c: list[bytes] = (),
    close: str | None = "fin",
    vlan: int | None = None,
) -> Timed:
    """Handshake, alternating payloads, then FIN/FIN/ACK (``fin``), a RST (``rst``) or nothing."""
    out: Timed = []
    t = t0

    def emit(fwd: bool, flags: str, payload: bytes = b"") -> None:
        nonlocal t
        ip = _l3(client, server) if fwd else _l3(server, client)
        seg = TCP(sport=sport if fwd else dport, dport=dport if fwd else sport, flags=flags)
        frame = _eth() / (Dot1Q(vlan=vlan) / ip if vlan else ip) / seg
        if payload:
            frame = frame / Raw(payload)
        out.append((t, frame))
        t += 0.001

    emit(True, "S")
    emit(False, "SA")
    emit(True, "A")
    for i in range(max(len(c2s), len(s2c))):
        if i < len(c2s):
            emit(True, "PA", c2s[i])
        if i < len(s2c):
            emit(False, "PA", s2c[i])
    if close == "fin":
        emit(True, "FA")
        emit(False, "FA")
        emit(True, "A")
    elif close == "rst":
        emit(False, "R")
    return out


def dns_exchange(client: str, resolver: str, sport: int, t0: float, name: str, answers: list[str]) -> Timed:
    qid = sport & 0xFFFF
    query = _eth() / _l3(client, resolver) / UDP(sport=sport, dport=53) / DNS(id=qid, rd=1, qd=DNSQR(qname=name))
    rrs = [DNSRR(rrname=name, type="AAAA" if ":" in a else "A", ttl=300, rdata=a) for a in answers]
    an = None
    for rr in rrs:
        an = rr if an is None else an / rr
    resp = (
        _eth()
        / _l3(resolver, client)
        / UDP(sport=53, dport=sport)
        / DNS(id=qid, qr=1, rd=1, ra=1, rcode=0 if answers else 3, qd=DNSQR(qname=name), an=an)
    )
    return [(t0, query), (t0 + 0.01, resp)]


def icmp_echo(src: str, dst: str, t0: float, count: int = 2) -> Timed:
    out: Timed = []
    for i in range(count):
        out.append((t0 + i, _eth() / IP(src=src, dst=dst) / ICMP(type=8, id=7, seq=i)))
        out.append((t0 + i + 0.002, _eth() / IP(src=dst, dst=src) / ICMP(type=0, id=7, seq=i)))
    return out


def client_hello(server_name: str) -> bytes:
    return bytes(TLS(msg=[TLSClientHello(ciphers=[0x1301, 0xC02F], ext=[_sni(server_name)])]))


def _sni(server_name: str) -> Packet:
    return TLS_Ext_ServerName(servernames=[ServerName(servername=server_name.encode())])


def http_get(host: str, path: str, agent: str = "Mozilla/5.0 (test)") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nAccept: */*\r\n\r\n".encode()


def arp(t0: float) -> Timed:
    return [(t0, _eth("ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2"))]


def mixed(seed: int, sessions: int, t0: float = 1_767_225_600.0, bulk: int = 0) -> Timed:
    """A seeded mix: HTTP and HTTPS sessions, DNS lookups, pings, IPv6, VLAN tags and ARP, time-ordered.

    ``bulk`` adds that many 1200-byte server segments to each TCP session (downloads).
    """
    rng = random.Random(seed)
    more = [b"z" * 1200] * bulk
    out: Timed = []
    for i in range(sessions):
        t = t0 + i * 0.05
        client = f"10.{rng.randrange(1, 34)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        server = f"203.113.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        sport = 20000 + i
        kind = i % 6
        if kind == 0:
            out += tcp_session(
                client,
                server,
                sport,
                80,
                t,
                [http_get("dichvucong.gov.vn", f"/p/{i}?q={i}")],
                [b"HTTP/1.1 200 OK\r\n\r\n", *more],
            )
        elif kind == 1:
            out += tcp_session(
                client, server, sport, 443, t, [client_hello(f"s{i}.gov.vn")], [b"\x16\x03\x03\x00\x02hi", *more]
            )
        elif kind == 2:
            out += dns_exchange(client, "8.8.8.8", sport, t, f"h{i}.example.vn", [f"203.113.1.{i % 250 + 1}"])
        elif kind == 3:
            out += icmp_echo(client, server, t)
        elif kind == 4:
            out += tcp_session(
                f"2001:db8::{i:x}", "2001:db8:ffff::1", sport, 443, t, [b"x" * 100], [b"y" * 300, *more], "rst"
            )
        else:
            out += tcp_session(client, server, sport, 8080, t, [b"hello"], [b"world", *more], vlan=100 + i % 10)
            out += arp(t)
    out.sort(key=lambda p: p[0])
    return out


def write(path: Path, packets: Timed, fmt: str = "pcap") -> Path:
    """Write with scapy's own writers (pcap, or pcapng with enhanced packet blocks)."""
    writer = PcapNgWriter(str(path)) if fmt == "pcapng" else PcapWriter(str(path), sync=False)
    with writer:
        for ts, pkt in packets:
            pkt.time = ts
            writer.write(pkt)
    return path


def write_raw_pcap(path: Path, frames: list[tuple[float, bytes]], linktype: int = 1, nanos: bool = False) -> Path:
    """Write frames with a plain pcap header (for link types and timestamp units scapy's writer does not pick)."""
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    scale = 1_000_000_000 if nanos else 1_000_000
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 262144, linktype))
        for ts, data in frames:
            sec = int(ts)
            f.write(struct.pack("<IIII", sec, round((ts - sec) * scale), len(data), len(data)))
            f.write(data)
    return path


# --- NetFlow / IPFIX exports --------------------------------------------------------------------------

V9_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (1, 4), (2, 4), (22, 4), (21, 4), (10, 2), (14, 2)]


def netflow_v5(records: list[dict], seq: int = 1, uptime: int = 600_000, secs: int = 1_767_225_600) -> bytes:
    """A v5 export (scapy's encoder); record keys are scapy's NetflowRecordV5 field names."""
    from scapy.layers.netflow import NetflowHeader, NetflowHeaderV5, NetflowRecordV5

    pkt = NetflowHeader() / NetflowHeaderV5(count=len(records), sysUptime=uptime, unixSecs=secs, flowSequence=seq)
    for rec in records:
        pkt = pkt / NetflowRecordV5(**rec)
    return bytes(pkt)


def netflow_v9(
    records: list[dict],
    *,
    seq: int = 1,
    source_id: int = 1,
    template_id: int = 256,
    fields: list[tuple[int, int]] = V9_FIELDS,
    with_template: bool = True,
    with_data: bool = True,
    uptime: int = 600_000,
    secs: int = 1_767_225_600,
) -> bytes:
    """A v9 export (scapy's encoder): template flowset and/or data flowset; records use scapy's v9 field names."""
    from scapy.layers.netflow import (
        GetNetflowRecordV9,
        NetflowDataflowsetV9,
        NetflowFlowsetV9,
        NetflowHeader,
        NetflowHeaderV9,
        NetflowTemplateFieldV9,
        NetflowTemplateV9,
    )

    tpl = NetflowFlowsetV9(
        flowSetID=0,
        templates=[
            NetflowTemplateV9(
                templateID=template_id,
                template_fields=[NetflowTemplateFieldV9(fieldType=t, fieldLength=n) for t, n in fields],
            )
        ],
    )
    pkt = NetflowHeader() / NetflowHeaderV9(sysUptime=uptime, unixSecs=secs, packageSequence=seq, SourceID=source_id)
    if with_template:
        pkt = pkt / tpl
    if with_data:
        rec_cls = GetNetflowRecordV9(tpl)
        pkt = pkt / NetflowDataflowsetV9(templateID=template_id, records=[rec_cls(**r) for r in records])
    return bytes(pkt)


def ipfix_message(
    sets: list[tuple[int, bytes]], *, seq: int = 1, domain: int = 1, export_time: int = 1_767_225_600
) -> bytes:
    """An IPFIX message from (set id, body) pairs (RFC 7011 layout; scapy's IPFIX lengths are unreliable)."""
    body = b"".join(struct.pack("!HH", sid, 4 + len(b)) + b for sid, b in sets)
    return struct.pack("!HHIII", 10, 16 + len(body), export_time, seq, domain) + body


def ipfix_template(template_id: int, fields: list[tuple[int, int, int]]) -> bytes:
    """Template record; fields are (ie, length, enterprise number or 0)."""
    out = struct.pack("!HH", template_id, len(fields))
    for ie, length, pen in fields:
        out += struct.pack("!HH", ie | (0x8000 if pen else 0), length) + (struct.pack("!I", pen) if pen else b"")
    return out
