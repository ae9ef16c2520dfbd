"""Application-layer fields from packet payloads: DNS messages, HTTP request heads, TLS ClientHello.

Each decoder takes the transport payload and returns ECS fields (``dns.*``,
``http.*``/``url.*``/``user_agent.*``, ``tls.*``) or ``None`` when the payload
is not that protocol. A payload that claims to be the protocol but is broken
raises :class:`DecodeError`; the caller counts it and the packet still counts
in its flow. Every length read from the wire is bounds-checked, and DNS name
compression is limited in hops, because these bytes come from attackers.
"""

from __future__ import annotations

import hashlib
import socket
import struct
from typing import Any

from sentinel.errors import Invalid

_U16 = struct.Struct("!H")
_DNS_HEADER = struct.Struct("!HHHHHH")
_DNS_RR = struct.Struct("!HHIH")

DNS_TYPES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
    35: "NAPTR", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 52: "TLSA", 64: "SVCB", 65: "HTTPS",
    99: "SPF", 252: "AXFR", 255: "ANY", 257: "CAA",
}  # fmt: skip
DNS_CLASSES = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
DNS_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 9: "NOTAUTH"}
DNS_OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
_DNS_FLAGS = ((0x0400, "AA"), (0x0200, "TC"), (0x0100, "RD"), (0x0080, "RA"), (0x0020, "AD"), (0x0010, "CD"))
MAX_DNS_RECORDS = 64  # per section; more is either an attack or irrelevant to detection
MAX_NAME_HOPS = 32

HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE ")
HTTP_FIRST_BYTES = frozenset(m[0] for m in HTTP_METHODS)
MAX_HTTP_HEAD = 16384

TLS_VERSIONS = {0x0300: "3.0", 0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2", 0x0304: "1.3"}
# A ClientHello bigger than this is not reassembled (post-quantum key shares make ~2 KB ones common).
MAX_CLIENT_HELLO = 16384


class DecodeError(Invalid):
    """The payload claims a protocol but its structure is broken."""


# --- DNS -------------------------------------------------------------------------------------------


def _name(msg: bytes, off: int) -> tuple[str, int]:
    """Read a (possibly compressed) domain name; return it and the offset just after it in place."""
    labels: list[str] = []
    end = -1
    hops = 0
    total = 0
    while True:
        if off >= len(msg):
            raise DecodeError("DNS name runs past the end of the message")
        length = msg[off]
        if length & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise DecodeError("DNS compression pointer is cut off")
            if end < 0:
                end = off + 2
            hops += 1
            if hops > MAX_NAME_HOPS:
                raise DecodeError("DNS compression pointers loop")
            off = ((length & 0x3F) << 8) | msg[off + 1]
            continue
        if length & 0xC0:
            raise DecodeError(f"DNS label type 0x{length & 0xC0:02x} is not supported")
        off += 1
        if length == 0:
            break
        label = msg[off : off + length]
        if len(label) != length:
            raise DecodeError("DNS label runs past the end of the message")
        total += length + 1
        if total > 255:
            raise DecodeError("DNS name is longer than 255 bytes")
        labels.append(label.decode("ascii", "backslashreplace"))
        off += length
    return ".".join(labels), end if end >= 0 else off


def _rdata(msg: bytes, rtype: int, off: int, rdlen: int) -> str:
    data = msg[off : off + rdlen]
    if rtype == 1 and rdlen == 4:
        return socket.inet_ntop(socket.AF_INET, data)
    if rtype == 28 and rdlen == 16:
        return socket.inet_ntop(socket.AF_INET6, data)
    if rtype in (2, 5, 12):
        return _name(msg, off)[0]
    if rtype == 15 and rdlen >= 3:
        return f"{_U16.unpack_from(msg, off)[0]} {_name(msg, off + 2)[0]}"
    if rtype == 6:
        return _name(msg, off)[0]
    if rtype == 16:
        parts, i = [], 0
        while i < rdlen:
            n = data[i]
            parts.append(data[i + 1 : i + 1 + n].decode("utf-8", "backslashreplace"))
            i += 1 + n
        return " ".join(parts)
    return data.hex()


def parse_dns(payload: bytes) -> dict[str, Any]:
    """ECS ``dns`` fields from one DNS message (UDP payload, or TCP without the length prefix)."""
    if len(payload) < 12:
        raise DecodeError(f"DNS message of {len(payload)} bytes is shorter than its 12-byte header")
    ident, flags, qd, an, _ns, _ar = _DNS_HEADER.unpack_from(payload)
    response = bool(flags & 0x8000)
    dns: dict[str, Any] = {
        "id": str(ident),
        "type": "answer" if response else "query",
        "op_code": DNS_OPCODES.get((flags >> 11) & 0xF, str((flags >> 11) & 0xF)),
        "header_flags": [name for bit, name in _DNS_FLAGS if flags & bit],
    }
    if response:
        dns["response_code"] = DNS_RCODES.get(flags & 0xF, str(flags & 0xF))
    off = 12
    for i in range(min(qd, MAX_DNS_RECORDS)):
        name, off = _name(payload, off)
        if off + 4 > len(payload):
            raise DecodeError("DNS question is cut off")
        qtype, qclass = struct.unpack_from("!HH", payload, off)
        off += 4
        if i == 0:
            dns["question"] = {
                "name": name,
                "type": DNS_TYPES.get(qtype, str(qtype)),
                "class": DNS_CLASSES.get(qclass, str(qclass)),
            }
    if response:
        answers, resolved = [], []
        for _ in range(min(an, MAX_DNS_RECORDS)):
            name, off = _name(payload, off)
            if off + 10 > len(payload):
                raise DecodeError("DNS answer record is cut off")
            rtype, rclass, ttl, rdlen = _DNS_RR.unpack_from(payload, off)
            off += 10
            if off + rdlen > len(payload):
                raise DecodeError("DNS answer data runs past the end of the message")
            data = _rdata(payload, rtype, off, rdlen)
            off += rdlen
            answers.append(
                {
                    "name": name,
                    "type": DNS_TYPES.get(rtype, str(rtype)),
                    "class": DNS_CLASSES.get(rclass, str(rclass)),
                    "ttl": ttl,
                    "data": data,
                }
            )
            if rtype in (1, 28):
                resolved.append(data)
        if answers:
            dns["answers"] = answers
        if resolved:
            dns["resolved_ip"] = resolved
    return {"dns": dns, "network": {"protocol": "dns"}}


# --- HTTP ------------------------------------------------------------------------------------------


def looks_like_http_request(payload: bytes) -> bool:
    return bool(payload) and payload[0] in HTTP_FIRST_BYTES and payload.startswith(HTTP_METHODS)


def parse_http_request(payload: bytes) -> dict[str, Any] | None:
    """ECS ``http``/``url``/``user_agent`` fields from the head of an HTTP/1.x request, or ``None``."""
    if not looks_like_http_request(payload):
        return None
    head = payload[:MAX_HTTP_HEAD]
    line_end = head.find(b"\r\n")
    line = head if line_end < 0 else head[:line_end]
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        raise DecodeError("HTTP request line is not 'METHOD target HTTP/x.y'")
    method, target, version = (p.decode("latin-1") for p in parts)
    headers: dict[bytes, bytes] = {}
    if line_end >= 0:
        for raw in head[line_end + 2 :].split(b"\r\n"):
            if not raw:
                break
            key, sep, value = raw.partition(b":")
            if sep:
                headers.setdefault(key.strip().lower(), value.strip())
    url: dict[str, Any] = {"original": target}
    path, _, query = target.partition("?")
    if path.startswith(("http://", "https://")):  # absolute form, as sent to proxies
        scheme, _, rest = path.partition("://")
        host_part, slash, path_part = rest.partition("/")
        url["scheme"] = scheme
        url["domain"] = host_part.rsplit(":", 1)[0] if host_part.count(":") == 1 else host_part
        path = slash + path_part
    url["path"] = path
    if query:
        url["query"] = query
    host = headers.get(b"host", b"").decode("latin-1")
    if host and "domain" not in url:
        name, sep, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
        url["domain"] = name if sep else host
        if sep and port.isdigit():
            url["port"] = int(port)
    if "domain" in url and not target.startswith(("http://", "https://")):
        url["full"] = f"http://{host}{target}"
    request: dict[str, Any] = {"method": method}
    if b"referer" in headers:
        request["referrer"] = headers[b"referer"].decode("latin-1")
    if b"content-length" in headers and headers[b"content-length"].isdigit():
        request["body"] = {"bytes": int(headers[b"content-length"])}
    fields: dict[str, Any] = {
        "http": {"request": request, "version": version[5:]},
        "url": url,
        "network": {"protocol": "http"},
    }
    if b"user-agent" in headers:
        fields["user_agent"] = {"original": headers[b"user-agent"].decode("latin-1")}
    return fields


# --- TLS -------------------------------------------------------------------------------------------


def client_hello_length(payload: bytes) -> int | None:
    """Bytes the TLS record holding a ClientHello needs, or ``None`` when the payload does not start one."""
    if len(payload) < 6 or payload[0] != 0x16 or payload[1] != 3 or payload[5] != 1:
        return None
    return 5 + _U16.unpack_from(payload, 3)[0]


def _grease(value: int) -> bool:
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def parse_client_hello(payload: bytes) -> dict[str, Any] | None:
    """ECS ``tls`` fields (SNI, version, ALPN, JA3) from a TLS ClientHello record, or ``None``."""
    if client_hello_length(payload) is None:
        return None
    try:
        hs_len = int.from_bytes(payload[6:9], "big")
        body = payload[9 : 9 + hs_len]
        client_version = _U16.unpack_from(body, 0)[0]
        off = 34
        off += 1 + body[off]  # session id
        n = _U16.unpack_from(body, off)[0]
        ciphers = [_U16.unpack_from(body, off + 2 + i)[0] for i in range(0, n - n % 2, 2)]
        off += 2 + n
        off += 1 + body[off]  # compression methods
        ext_types: list[int] = []
        groups: list[int] = []
        point_formats: list[int] = []
        server_name = alpn = None
        best_version = client_version
        if off + 2 <= len(body):
            ext_end = min(len(body), off + 2 + _U16.unpack_from(body, off)[0])
            off += 2
            while off + 4 <= ext_end:
                etype, elen = struct.unpack_from("!HH", body, off)
                data = body[off + 4 : off + 4 + elen]
                off += 4 + elen
                if len(data) != elen:
                    raise DecodeError("TLS extension runs past the end of the ClientHello")
                if not _grease(etype):
                    ext_types.append(etype)
                if etype == 0 and len(data) >= 5 and data[2] == 0:
                    name_len = _U16.unpack_from(data, 3)[0]
                    server_name = data[5 : 5 + name_len].decode("ascii", "backslashreplace")
                elif etype == 16 and len(data) >= 3:
                    alpn = data[3 : 3 + data[2]].decode("ascii", "backslashreplace")
                elif etype == 10 and len(data) >= 2:
                    glen = _U16.unpack_from(data, 0)[0]
                    groups = [_U16.unpack_from(data, 2 + i)[0] for i in range(0, min(glen, len(data) - 2) & ~1, 2)]
                elif etype == 11 and len(data) >= 1:
                    point_formats = list(data[1 : 1 + data[0]])
                elif etype == 43 and len(data) >= 1:
                    versions = [_U16.unpack_from(data, 1 + i)[0] for i in range(0, min(data[0], len(data) - 1) & ~1, 2)]
                    known = [v for v in versions if v in TLS_VERSIONS]
                    if known:
                        best_version = max(known)
    except (struct.error, IndexError):
        raise DecodeError("TLS ClientHello is cut off or malformed") from None
    ja3 = ",".join(
        (
            str(client_version),
            "-".join(str(c) for c in ciphers if not _grease(c)),
            "-".join(str(e) for e in ext_types),
            "-".join(str(g) for g in groups if not _grease(g)),
            "-".join(str(p) for p in point_formats),
        )
    )
    tls: dict[str, Any] = {
        "version_protocol": "tls",
        "client": {"ja3": hashlib.md5(ja3.encode(), usedforsecurity=False).hexdigest()},
    }
    if best_version in TLS_VERSIONS:
        tls["version"] = TLS_VERSIONS[best_version]
    if server_name:
        tls["client"]["server_name"] = server_name
    if alpn:
        tls["next_protocol"] = alpn
    return {"tls": tls, "network": {"protocol": "tls"}}
