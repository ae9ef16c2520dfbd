"""Reading pcap/pcapng captures: a fast struct path, and scapy's full dissection.

Both paths turn a capture into the same :data:`Packet` tuples, which the flow
table (:mod:`sentinel.collect.flows`) and the application decoders
(:mod:`sentinel.collect.netdecode`) consume. The fast path reads the file
through ``mmap`` and decodes link, IP and transport headers with
``struct.unpack_from``; scapy's dissection builds a Python object per layer and
is ~100x slower (``bench/pcap.py``), so it is kept for cross-checking and for
link types the fast path does not know (``--engine scapy``).

Hostile files: bad magic raises :class:`CaptureError`; a truncated record or a
length that cannot be true (larger than the file, the block or 256 KiB) ends
reading with :attr:`CaptureReader.error` set, since a pcap has no markers to
resynchronise on. Frames that are too short for the headers they claim are
counted by :func:`decode_frame` raising :class:`MalformedFrame`.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sentinel.errors import Invalid

# (version, src, dst, proto, sport, dport, tcp_flags, ip_bytes, payload)
# src/dst are packed addresses; for ICMP sport/dport are type/code; payload is the transport payload.
Packet = tuple[int, bytes, bytes, int, int, int, int, int, bytes]

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
SUPPORTED_LINKTYPES = frozenset({0, 1, 12, 14, 101, 108, 113, 228, 229, 276})

# libpcap's own ceiling for a captured packet; a record claiming more is corrupt.
MAX_CAPLEN = 262144

_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e6),
    b"\xa1\xb2\xc3\xd4": (">", 1e6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e9),
    b"\xa1\xb2\x3c\x4d": (">", 1e9),
}
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D

_U16 = struct.Struct("!H")
_ETH_TYPE = struct.Struct("!H")
_IP4 = struct.Struct("!BxHxxHxBxx4s4s")  # version/IHL, total length, flags/fragment offset, proto, src, dst
_IP6 = struct.Struct("!4xHBx16s16s")  # payload length, next header, src, dst
_PORTS = struct.Struct("!HH")
_TCP = struct.Struct("!HH8xBB")  # ports, data offset, flags
_IP6_EXT = frozenset({0, 43, 60, 135, 139, 140})


class CaptureError(Invalid):
    """The file is not a capture Sentinel can read (bad magic, empty, unknown link type)."""


class MalformedFrame(Invalid):
    """A frame too short for the headers it claims; counted per packet, reading goes on."""


class CaptureReader:
    """Iterate ``(timestamp, linktype, frame bytes, wire length)`` from a pcap or pcapng file.

    ``offset`` tells how far reading got (for progress); ``error`` says why
    reading stopped early, or is ``None`` when the file was read to its end.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.error: str | None = None
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed by close()/context manager
        self.size = os.fstat(self._file.fileno()).st_size
        if self.size < 12:
            self._file.close()
            raise CaptureError(f"{self.path}: {self.size} bytes is too short to be a pcap or pcapng file")
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        head = self._map[:4]
        if head in _PCAP_MAGIC:
            self.format = "pcap"
        elif int.from_bytes(head, "little") == _PCAPNG_SHB:
            self.format = "pcapng"
        else:
            self.close()
            raise CaptureError(
                f"{self.path}: not a capture (starts with {head.hex()}); expected a pcap or pcapng file "
                "as written by tcpdump, Wireshark or dumpcap"
            )

    def fingerprint(self) -> str:
        """Identity of the capture by content (first 64 KiB + size), so a renamed copy replays to the same ids."""
        h = hashlib.blake2b(self._map[:65536], digest_size=10)
        h.update(str(self.size).encode())
        return h.hexdigest()

    def excerpt(self, offset: int, size: int) -> bytes:
        """Raw bytes at ``offset``, as evidence of where a file broke."""
        return self._map[offset : offset + size]

    def __iter__(self) -> Iterator[tuple[float, int, bytes, int]]:
        return self._classic() if self.format == "pcap" else self._pcapng()

    def close(self) -> None:
        if getattr(self, "_map", None) is not None:
            self._map.close()
            self._map = None
        self._file.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _classic(self) -> Iterator[tuple[float, int, bytes, int]]:
        mm, end = self._map, self.size
        if end < 24:
            self.error = f"truncated file header ({end} of 24 bytes)"
            return
        endian, per_second = _PCAP_MAGIC[mm[:4]]
        snaplen, linktype = struct.unpack_from(endian + "II", mm, 16)
        linktype &= 0xFFFF  # upper bits carry FCS information
        limit = max(snaplen, MAX_CAPLEN)
        unpack = struct.Struct(endian + "IIII").unpack_from
        off = 24
        while off + 16 <= end:
            sec, frac, caplen, wirelen = unpack(mm, off)
            start = off + 16
            stop = start + caplen
            if caplen > limit:
                self.error = (
                    f"record at offset {off} claims {caplen} captured bytes (snaplen {snaplen}); file is corrupt"
                )
                return
            if stop > end:
                self.error = f"truncated record at offset {off}: {caplen} bytes claimed, {end - start} left"
                return
            off = self.offset = stop
            yield sec + frac / per_second, linktype, mm[start:stop], wirelen
        if off != end:
            self.error = f"truncated record header at offset {off} ({end - off} of 16 bytes)"

    def _pcapng(self) -> Iterator[tuple[float, int, bytes, int]]:
        mm, end = self._map, self.size
        off = 0
        endian = "<"
        # interface id -> (linktype, snaplen, timestamp units per second, offset seconds)
        interfaces: list[tuple[int, int, float, int]] = []
        while off + 12 <= end:
            btype, blen = struct.unpack_from(endian + "II", mm, off)
            if btype == _PCAPNG_SHB:
                bom = mm[off + 8 : off + 12]
                endian = "<" if int.from_bytes(bom, "little") == _PCAPNG_BOM else ">"
                if int.from_bytes(bom, "little" if endian == "<" else "big") != _PCAPNG_BOM:
                    self.error = f"section header at offset {off} has a bad byte-order magic {bom.hex()}"
                    return
                blen = struct.unpack_from(endian + "I", mm, off + 4)[0]
                interfaces = []
            if blen < 12 or blen % 4:
                self.error = f"block at offset {off} has an impossible length {blen}; file is corrupt"
                return
            if off + blen > end:
                self.error = f"truncated block at offset {off}: {blen} bytes claimed, {end - off} left"
                return
            body = off + 8
            body_end = off + blen - 4
            if btype == 6 and body_end - body >= 20:  # enhanced packet block
                ifid, ts_hi, ts_lo, caplen, wirelen = struct.unpack_from(endian + "IIIII", mm, body)
                if ifid >= len(interfaces) or caplen > body_end - body - 20:
                    self.error = f"packet block at offset {off}: interface {ifid} or length {caplen} is invalid"
                    return
                linktype, _, per_second, ts_offset = interfaces[ifid]
                off = self.offset = off + blen
                yield (
                    ((ts_hi << 32) | ts_lo) / per_second + ts_offset,
                    linktype,
                    mm[body + 20 : body + 20 + caplen],
                    wirelen,
                )
                continue
            if btype == 3 and body_end - body >= 4:  # simple packet block: interface 0, no timestamp
                if not interfaces:
                    self.error = f"simple packet block at offset {off} before any interface description"
                    return
                wirelen = struct.unpack_from(endian + "I", mm, body)[0]
                linktype, snaplen, _, _ = interfaces[0]
                caplen = min(wirelen, snaplen or wirelen, body_end - body - 4)
                off = self.offset = off + blen
                yield 0.0, linktype, mm[body + 4 : body + 4 + caplen], wirelen
                continue
            if btype == 2 and body_end - body >= 20:  # obsolete packet block
                ifid, _, ts_hi, ts_lo, caplen, wirelen = struct.unpack_from(endian + "HHIIII", mm, body)
                if ifid >= len(interfaces) or caplen > body_end - body - 20:
                    self.error = f"packet block at offset {off}: interface {ifid} or length {caplen} is invalid"
                    return
                linktype, _, per_second, ts_offset = interfaces[ifid]
                off = self.offset = off + blen
                yield (
                    ((ts_hi << 32) | ts_lo) / per_second + ts_offset,
                    linktype,
                    mm[body + 20 : body + 20 + caplen],
                    wirelen,
                )
                continue
            if btype == 1:  # interface description
                if body_end - body < 8:
                    self.error = f"interface block at offset {off} is too short"
                    return
                linktype, _, snaplen = struct.unpack_from(endian + "HHI", mm, body)
                interfaces.append((linktype, snaplen, *_idb_clock(mm, body + 8, body_end, endian)))
            off = self.offset = off + blen
        if off != end:
            self.error = f"truncated block at offset {off} ({end - off} bytes left)"


def _idb_clock(mm: Any, off: int, end: int, endian: str) -> tuple[float, int]:
    """Timestamp units per second and offset from an interface block's options (if_tsresol, if_tsoffset).

    Dividing by an exact power (not multiplying by 1e-6) keeps 0.4 s from reading as 0.39999.
    """
    per_second, ts_offset = 1e6, 0
    while off + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", mm, off)
        if code == 0:
            break
        value = mm[off + 4 : off + 4 + length]
        if code == 9 and length >= 1:
            res = value[0]
            per_second = 2.0 ** (res & 0x7F) if res & 0x80 else 10.0 ** min(res, 30)
        elif code == 14 and length >= 8:
            ts_offset = struct.unpack_from(endian + "q", value)[0]
        off += 4 + ((length + 3) & ~3)
    return per_second, ts_offset


def decode_frame(data: bytes, linktype: int) -> Packet | None:
    """Decode link, IP and transport headers; ``None`` for frames that carry no IP (ARP, LLDP, ...).

    Raises :class:`MalformedFrame` when the frame is shorter than its headers.
    """
    try:
        if linktype == LINKTYPE_ETHERNET:
            etype = _ETH_TYPE.unpack_from(data, 12)[0]
            off = 14
            while etype in (0x8100, 0x88A8, 0x9100):  # 802.1Q / QinQ tags
                etype = _ETH_TYPE.unpack_from(data, off + 2)[0]
                off += 4
            if etype == 0x0800:
                return _ipv4(data, off)
            if etype == 0x86DD:
                return _ipv6(data, off)
            if etype in (0x8847, 0x8848):  # MPLS: skip labels to the bottom of the stack, then IP
                while not data[off + 2] & 0x01:
                    off += 4
                version = data[off + 4] >> 4
                return _ipv4(data, off + 4) if version == 4 else _ipv6(data, off + 4) if version == 6 else None
            if etype == 0x8864:  # PPPoE session: 6-byte header, then the PPP protocol number
                ppp = _ETH_TYPE.unpack_from(data, off + 6)[0]
                return _ipv4(data, off + 8) if ppp == 0x0021 else _ipv6(data, off + 8) if ppp == 0x0057 else None
            return None
        if linktype in (LINKTYPE_RAW, 12, 14):
            version = data[0] >> 4
            return _ipv4(data, 0) if version == 4 else _ipv6(data, 0) if version == 6 else None
        if linktype == LINKTYPE_LINUX_SLL:
            etype = _ETH_TYPE.unpack_from(data, 14)[0]
            return _ipv4(data, 16) if etype == 0x0800 else _ipv6(data, 16) if etype == 0x86DD else None
        if linktype == LINKTYPE_LINUX_SLL2:
            etype = _ETH_TYPE.unpack_from(data, 0)[0]
            return _ipv4(data, 20) if etype == 0x0800 else _ipv6(data, 20) if etype == 0x86DD else None
        if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
            family = int.from_bytes(data[:4], "big" if linktype == LINKTYPE_LOOP else "little")
            if family not in (2, 24, 28, 30) and linktype == LINKTYPE_NULL:
                family = int.from_bytes(data[:4], "big")  # written on a host of the other byte order
            return _ipv4(data, 4) if family == 2 else _ipv6(data, 4) if family in (24, 28, 30) else None
        if linktype == LINKTYPE_IPV4:
            return _ipv4(data, 0)
        if linktype == LINKTYPE_IPV6:
            return _ipv6(data, 0)
    except (struct.error, IndexError):
        raise MalformedFrame(f"frame of {len(data)} bytes is shorter than its link/IP headers") from None
    raise MalformedFrame(f"link type {linktype} is not decoded by the fast path; try --engine scapy")


def _ipv4(data: bytes, off: int) -> Packet:
    ver_ihl, total, frag, proto, src, dst = _IP4.unpack_from(data, off)
    ihl = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != 4 or ihl < 20:
        raise MalformedFrame(f"bad IPv4 header (version/IHL byte 0x{ver_ihl:02x})")
    l4 = off + ihl
    end = min(len(data), off + total) if total >= ihl else len(data)
    if frag & 0x1FFF:  # a later fragment: no transport header in it
        return 4, src, dst, proto, 0, 0, 0, total, b""
    return _transport(data, l4, end, 4, src, dst, proto, total)


def _ipv6(data: bytes, off: int) -> Packet:
    plen, nxt, src, dst = _IP6.unpack_from(data, off)
    if data[off] >> 4 != 6:
        raise MalformedFrame(f"bad IPv6 header (version nibble {data[off] >> 4})")
    l4 = off + 40
    end = min(len(data), l4 + plen) if plen else len(data)
    while nxt in _IP6_EXT or nxt == 44 or nxt == 51:
        if nxt == 44:  # fragment header
            frag = _U16.unpack_from(data, l4 + 2)[0]
            nxt = data[l4]
            l4 += 8
            if frag & 0xFFF8:
                return 6, src, dst, nxt, 0, 0, 0, plen + 40, b""
        elif nxt == 51:  # authentication header counts 4-byte units
            nxt, hlen = data[l4], (data[l4 + 1] + 2) * 4
            l4 += hlen
        else:
            nxt, hlen = data[l4], (data[l4 + 1] + 1) * 8
            l4 += hlen
    return _transport(data, l4, end, 6, src, dst, nxt, plen + 40)


def _transport(data: bytes, l4: int, end: int, version: int, src: bytes, dst: bytes, proto: int, size: int) -> Packet:
    if proto == 6:
        sport, dport, doff, flags = _TCP.unpack_from(data, l4)
        return version, src, dst, 6, sport, dport, flags, size, data[l4 + (doff >> 4) * 4 : end]
    if proto == 17:
        sport, dport = _PORTS.unpack_from(data, l4)
        return version, src, dst, 17, sport, dport, 0, size, data[l4 + 8 : end]
    if proto == 1 or proto == 58:
        return version, src, dst, proto, data[l4], data[l4 + 1], 0, size, b""
    if proto == 132:
        sport, dport = _PORTS.unpack_from(data, l4)
        return version, src, dst, 132, sport, dport, 0, size, b""
    return version, src, dst, proto, 0, 0, 0, size, b""


def scapy_packets(path: str | Path) -> Iterator[tuple[float, Packet | None]]:
    """Dissect every packet with scapy (``PcapReader`` picks pcap or pcapng) into the same tuples.

    Slow (one object per layer per packet) but covers every link type scapy
    knows; the bench compares it with the fast path on the same file.
    """
    import socket

    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
    from scapy.utils import PcapReader

    with PcapReader(str(path)) as reader:
        for pkt in reader:
            ts = float(pkt.time)
            ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            if ip is None:
                yield ts, None
                continue
            l4 = ip.payload
            if ip.version == 4:
                version, family, proto, size, later = 4, socket.AF_INET, ip.proto, ip.len, bool(ip.frag)
            else:
                version, family, proto, size, later = 6, socket.AF_INET6, ip.nh, ip.plen + 40, False
                while hasattr(l4, "nh") and l4.name.startswith("IPv6 Extension Header"):
                    later = later or (isinstance(l4, IPv6ExtHdrFragment) and l4.offset > 0)
                    proto, l4 = l4.nh, l4.payload
            pkt_src, pkt_dst = socket.inet_pton(family, ip.src), socket.inet_pton(family, ip.dst)
            head = (version, pkt_src, pkt_dst, proto)
            if later:
                yield ts, (*head, 0, 0, 0, size, b"")
            elif proto == 6 and isinstance(l4, TCP):
                yield ts, (*head, l4.sport, l4.dport, int(l4.flags) & 0xFF, size, bytes(l4.payload))
            elif proto == 17 and isinstance(l4, UDP):
                yield ts, (*head, l4.sport, l4.dport, 0, size, bytes(l4.payload))
            elif proto in (1, 58) and hasattr(l4, "type") and hasattr(l4, "code"):
                yield ts, (*head, l4.type, l4.code, 0, size, b"")
            elif proto == 132 and hasattr(l4, "sport"):
                yield ts, (*head, l4.sport, l4.dport, 0, size, b"")
            else:
                yield ts, (*head, 0, 0, 0, size, b"")
