"""Pieces every network source shares: the ECS envelope, Community ID, direction, error records.

pcap files, live capture and NetFlow exporters all describe the same thing (a
conversation between two endpoints), so they build their events here and a
rule written against ``source.ip``/``network.community_id`` works for all three.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import socket
import struct
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sentinel import ecs

IANA_TRANSPORT = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 58: "ipv6-icmp", 132: "sctp"}
PORT_PROTOCOLS = frozenset({6, 17, 132})
ICMP_PROTOCOLS = frozenset({1, 58})

# ICMP request/response pairs: both directions of an exchange map to one flow (Zeek's pairing, which
# Community ID v1 adopts). Types not listed are one-way (errors, redirects).
ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
ICMP6_PAIRS = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 139: 140, 140: 139}
ICMP6_PAIRS.update({144: 145, 145: 144})

# Keep this much of a malformed input as evidence in pipeline_error events (hex doubles it).
MAX_EVIDENCE_BYTES = 2048

_PORTS = struct.Struct("!HH")


@lru_cache(maxsize=65536)
def ip_text(packed: bytes) -> str:
    """Printable address from 4 or 16 packed bytes (cached: a capture repeats few addresses)."""
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


def icmp_ports(proto: int, icmp_type: int, icmp_code: int) -> tuple[int, int, bool]:
    """ICMP type/code as the (source port, destination port, one-way) triple Community ID and flows use."""
    pairs = ICMP4_PAIRS if proto == 1 else ICMP6_PAIRS
    counter = pairs.get(icmp_type)
    if counter is None:
        return icmp_type, icmp_code, True
    return icmp_type, counter, False


def community_id(src: bytes, dst: bytes, proto: int, sport: int, dport: int, seed: int = 0) -> str:
    """Community ID v1 of a flow (packed addresses), identical for both directions.

    For ICMP, ``sport``/``dport`` are the type and code as seen on the wire.
    Zeek, Suricata, Packetbeat and Elasticsearch compute the same value, so an
    analyst can pivot from a Sentinel flow to their records by string equality.
    """
    one_way = False
    if proto in ICMP_PROTOCOLS:
        sport, dport, one_way = icmp_ports(proto, sport, dport)
    with_ports = proto in PORT_PROTOCOLS or proto in ICMP_PROTOCOLS
    if not one_way and (dst, dport) < (src, sport):
        src, dst, sport, dport = dst, src, dport, sport
    h = hashlib.sha1(struct.pack("!H", seed & 0xFFFF), usedforsecurity=False)
    h.update(src)
    h.update(dst)
    h.update(bytes((proto, 0)))
    if with_ports:
        h.update(_PORTS.pack(sport, dport))
    return "1:" + base64.b64encode(h.digest()).decode()


# Inside addresses for direction when no address plan is configured: RFC 1918, carrier-grade NAT
# (RFC 6598, common on provincial links), loopback, link-local, IPv6 unique-local and link-local.
_INSIDE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"]
_INSIDE += ["::1/128", "fc00::/7", "fe80::/10"]
INSIDE_NETWORKS = tuple(ipaddress.ip_network(n) for n in _INSIDE)


@lru_cache(maxsize=65536)
def _is_private(packed: bytes) -> bool:
    addr = ipaddress.ip_address(packed)
    return any(addr in net for net in INSIDE_NETWORKS if net.version == addr.version)


def direction(src: bytes, dst: bytes) -> str:
    """ECS ``network.direction`` from address scope alone, for when no address plan is configured.

    :data:`INSIDE_NETWORKS` count as inside: inside->outside is
    ``outbound``, outside->inside ``inbound``, both inside ``internal``.
    """
    s, d = _is_private(src), _is_private(dst)
    if s and d:
        return "internal"
    if s:
        return "outbound"
    if d:
        return "inbound"
    return "external"


@lru_cache(maxsize=4096)
def _second(sec: int) -> str:
    return ecs.format_ts(datetime.fromtimestamp(sec, UTC))[:-5]  # drop ".mmmZ"


def ts_text(ts: float) -> str:
    """ECS timestamp from epoch seconds; the per-second prefix is cached (flows end in bursts)."""
    sec = int(ts // 1)
    try:
        prefix = _second(sec)
    except (OverflowError, OSError, ValueError):
        # A capture or exporter with a nonsense clock must not stop ingest; keep the event at epoch 0.
        prefix, ts, sec = _second(0), 0.0, 0
    return f"{prefix}.{min(round((ts - sec) * 1e6) // 1000, 999):03d}Z"


_clock: list = [0, ""]  # [second, its text]: events are built in bursts within one second


def now_text() -> str:
    """The current time as ECS text, formatted once per second (``event.ingested`` of a burst of events)."""
    now = time.time()
    if int(now) != _clock[0]:
        _clock[0], _clock[1] = int(now), ts_text(int(now))
    return _clock[1]


def envelope(
    *,
    eid: str,
    ts: float | str,
    dataset: str,
    module: str,
    category: list[str],
    kind: str = "event",
    ingested: str | None = None,
    **types: Any,
) -> dict[str, Any]:
    """The common top of every network event; ``types`` are extra ``event.*`` keys (``type``, ``action``).

    ``ts`` is epoch seconds, or the already formatted text when the caller has it; ``ingested``
    likewise lets a caller building many events at once format the clock once.
    """
    now = ingested or now_text()
    event: dict[str, Any] = {"id": eid, "kind": kind, "category": category, "dataset": dataset, "module": module}
    event.update(types)
    event["ingested"] = now
    return {
        "@timestamp": ts if isinstance(ts, str) else ts_text(ts),
        "ecs": {"version": ecs.ECS_VERSION},
        "event": event,
    }


def error_event(*, source: str, position: int | str, raw: bytes, dataset: str, module: str, reason: str) -> dict:
    """A ``pipeline_error`` record for input that could not be decoded, with a hex excerpt as evidence.

    Network inputs are binary, so the evidence is hex; the position says where
    (file offset, exporter and sequence) to find the rest.
    """
    eid = ecs.event_id(source, position, raw)
    now = ecs.now_ts()
    doc: dict[str, Any] = {
        "@timestamp": now,
        "ecs": {"version": ecs.ECS_VERSION},
        "event": {
            "id": eid,
            "kind": "pipeline_error",
            "dataset": dataset,
            "module": module,
            "original": raw[:MAX_EVIDENCE_BYTES].hex(),
            "ingested": now,
        },
        "error": {"message": reason, "type": "decode_error"},
        "log": {"file": {"path": source}},
        "message": f"{source} at {position}: {reason}",
    }
    if isinstance(position, int):
        doc["log"]["offset"] = position
    if len(raw) > MAX_EVIDENCE_BYTES:
        doc["labels"] = {"original_truncated": "true"}
    return doc
