"""Firewall log formats found at commune offices, normalised to ECS.

* FortiGate: ``key=value`` pairs (values quoted when they hold spaces).
* pfSense / OPNsense ``filterlog``: comma-separated fields whose layout depends
  on the IP version and the protocol.
* Linux iptables / nftables kernel log lines: ``PREFIX IN=.. OUT=.. SRC=.. DST=..``.

Each parser returns ECS fields, or raises :class:`ParseError` with the reason,
so a malformed line becomes a counted ``pipeline_error`` event, never a crash.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from sentinel.collect.parsers import ParseError
from sentinel.ecs import format_ts, set_field

IANA_TRANSPORT = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 58: "ipv6-icmp", 132: "sctp"}
TRANSPORT_NUMBER = {v: k for k, v in IANA_TRANSPORT.items()} | {"icmpv6": 58}
DENY_WORDS = ("deny", "denied", "drop", "block", "reject", "blocked", "dropped")
ALLOW_WORDS = ("accept", "allow", "pass", "permit", "close", "timeout", "client-rst", "server-rst", "start")

_KV = re.compile(r'([A-Za-z_][\w-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def _ip(value: str, what: str) -> str:
    """The address in canonical form; ParseError when it is not one."""
    try:
        socket.inet_pton(socket.AF_INET, value)  # the common case, checked in C
        return value
    except (OSError, ValueError):  # ValueError: an embedded NUL byte
        pass
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ParseError(f"{what} {value!r} is not an IP address") from None


def _port(value: str, what: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise ParseError(f"{what} {value!r} is not a port number")
    return int(value)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _verdict(action: str) -> tuple[list[str], str | None]:
    """ECS event.type and event.outcome for a firewall action word.

    ECS categorisation: the firewall did what it was configured to do, so a
    blocked connection is a *successful* event whose verdict is in
    ``event.type: denied`` (and ``event.action``), not a failure.
    """
    a = action.lower()
    if any(w in a for w in DENY_WORDS):
        return ["connection", "denied"], "success"
    if any(w in a for w in ALLOW_WORDS):
        return ["connection", "allowed"], "success"
    return ["connection"], None


def parse_kv(text: str) -> dict[str, str]:
    """``key=value`` pairs; quoted values lose their quotes."""
    out = {}
    for key, value in _KV.findall(text):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"')
        out[key] = value
    return out


# -- FortiGate ---------------------------------------------------------------------------------
FORTI_KEYS = {
    "srcip": "source.ip",
    "dstip": "destination.ip",
    "srcport": "source.port",
    "dstport": "destination.port",
    "transip": "source.nat.ip",
    "transport": "source.nat.port",
    "sentbyte": "source.bytes",
    "rcvdbyte": "destination.bytes",
    "sentpkt": "source.packets",
    "rcvdpkt": "destination.packets",
    "devname": "observer.name",
    "devid": "observer.serial_number",
    "srcintf": "observer.ingress.interface.name",
    "dstintf": "observer.egress.interface.name",
    "policyid": "rule.id",
    "policyname": "rule.name",
    "user": "user.name",
    "unauthuser": "source.user.name",
    "remip": "source.ip",
    "remport": "source.port",
    "locip": "destination.ip",
    "locport": "destination.port",
    "tranip": "destination.nat.ip",
    "tranport": "destination.nat.port",
    "srcname": "source.domain",
    "hostname": "url.domain",
    "url": "url.path",
    "msg": "message",
    "level": "log.level",
    "sessionid": "network.session_id",
    "attack": "threat.technique.name",
}
FORTI_INT = {
    "source.port",
    "destination.port",
    "source.nat.port",
    "destination.nat.port",
    "source.bytes",
    "destination.bytes",
    "source.packets",
    "destination.packets",
}


# Fields FortiOS fills with "N/A" when there is nothing to say.
FORTI_OPTIONAL = {"user.name", "source.user.name", "source.domain", "url.domain", "rule.name", "source.nat.ip",
                  "destination.nat.ip", "source.ip", "destination.ip"}  # fmt: skip
FORTI_LOGIN_ACTIONS = {"login", "logout", "tunnel-up", "tunnel-down", "ssl-login-fail", "ssl-web-login", "auth"}
FORTI_STATUS = {"success": "success", "succeeded": "success", "failure": "failure", "failed": "failure",
                "fail": "failure", "negotiate_error": "failure"}  # fmt: skip


def looks_fortigate(text: str) -> bool:
    """FortiGate key=value: a ``logid`` with the device or the log type (exports may drop devname/devid)."""
    return "logid=" in text and ("devname=" in text or "devid=" in text or "type=" in text)


def parse_fortigate(text: str, tz: timezone) -> dict[str, Any]:
    kv = parse_kv(text)
    if "logid" not in kv or "type" not in kv:
        raise ParseError("FortiGate line without logid/type")
    doc: dict[str, Any] = {
        "observer": {"vendor": "Fortinet", "product": "Fortigate", "type": "firewall"},
        "event": {"module": "fortinet", "category": ["network"], "code": kv["logid"]},
        "fortinet": {"firewall": {}},
    }
    extra = doc["fortinet"]["firewall"]
    for key, value in kv.items():
        path = FORTI_KEYS.get(key)
        if path is None:
            if key not in ("date", "time", "eventtime", "tz", "proto", "action", "logid"):
                extra[key] = value
            continue
        if value in ("N/A", "") and path in FORTI_OPTIONAL:
            continue  # FortiOS writes N/A for "no user", "no address"
        if path in ("source.ip", "destination.ip", "source.nat.ip", "destination.nat.ip"):
            value = _ip(value, key)
        if path in FORTI_INT:
            if not value.isdigit():
                raise ParseError(f"FortiGate {key}={value!r} is not a number")
            set_field(doc, path, int(value))
        else:
            set_field(doc, path, value)
    if "proto" in kv and kv["proto"].isdigit():
        num = int(kv["proto"])
        doc["network"] = {"iana_number": str(num)}
        if num in IANA_TRANSPORT:
            doc["network"]["transport"] = IANA_TRANSPORT[num]
    if "service" in kv:
        doc.setdefault("network", {})["protocol"] = kv["service"].lower()
    action = kv.get("action") or kv.get("utmaction") or ""
    if action:
        doc["event"]["action"] = action
        doc["event"]["type"], outcome = _verdict(action)
        if outcome:
            doc["event"]["outcome"] = outcome
    _forti_login(doc, kv, action)
    if kv.get("type") == "utm" or kv.get("subtype") in ("ips", "virus", "webfilter", "app-ctrl"):
        doc["event"]["category"] = ["network", "intrusion_detection"]
    ts = _forti_time(kv, tz)
    if ts:
        doc["@timestamp"] = ts
    return doc


def _forti_login(doc: dict[str, Any], kv: dict[str, str], action: str) -> None:
    """Administrator logins and VPN tunnels: authentication events whose outcome is ``status``."""
    subtype = kv.get("subtype", "")
    login = action.lower() in FORTI_LOGIN_ACTIONS or "login" in action.lower()
    if not (login or subtype == "vpn"):
        return
    ev = doc["event"]
    outcome = FORTI_STATUS.get(kv.get("status", "").lower())
    if outcome is None and "fail" in action.lower():
        outcome = "failure"  # ssl-login-fail carries no status
    if login:
        ev["category"] = ["authentication"] + (["session"] if subtype == "vpn" else [])
        ev["type"] = ["start"] if outcome == "success" else ["info"]
    else:
        ev["category"] = ["network", "session"]
        ev["type"] = ["connection"]
    if outcome:
        ev["outcome"] = outcome
    else:
        ev.pop("outcome", None)
    if "vpntype" in kv or "tunneltype" in kv:
        doc.setdefault("network", {})["protocol"] = (kv.get("tunneltype") or kv.get("vpntype", "")).lower()


def _forti_time(kv: dict[str, str], tz: timezone) -> str | None:
    ev = kv.get("eventtime", "")
    if ev.isdigit():
        n = int(ev)
        # seconds, milliseconds, microseconds or nanoseconds depending on the firmware
        while n > 10**11:
            n //= 1000
        return format_ts(datetime.fromtimestamp(n, UTC))
    if "date" in kv and "time" in kv:
        return _local_time(kv["date"], kv["time"], kv.get("tz"), tz)
    return None


@lru_cache(maxsize=4096)
def _local_time(date: str, time: str, tz_field: str | None, tz: timezone) -> str:
    """FortiGate's local date and time as ECS UTC time (cached: a busy firewall repeats each second)."""
    try:
        dt = datetime.strptime(f"{date} {time}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ParseError(f"FortiGate date/time {date!r} {time!r} is not YYYY-MM-DD HH:MM:SS") from None
    return format_ts(dt.replace(tzinfo=_tz_offset(tz_field) or tz))


def _tz_offset(value: str | None) -> timezone | None:
    m = re.fullmatch(r'"?([+-])(\d{2}):?(\d{2})"?', value or "")
    if not m:
        return None
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(delta if m.group(1) == "+" else -delta)


# -- pfSense filterlog -------------------------------------------------------------------------
def parse_filterlog(text: str) -> dict[str, Any]:
    """pfSense/OPNsense filterlog CSV (IPv4 and IPv6; TCP, UDP, ICMP and others)."""
    f = text.strip().split(",")
    if len(f) < 9:
        raise ParseError(f"filterlog line has {len(f)} fields, expected at least 9")
    rule, _sub, _anchor, tracker, iface, reason, action, direction, version = f[:9]
    doc: dict[str, Any] = {
        "observer": {"vendor": "Netgate", "product": "pfSense", "type": "firewall"},
        "event": {"module": "pfsense", "category": ["network"], "action": action, "reason": reason},
        "rule": {"id": tracker or rule, "ruleset": rule},
        # ECS asks perimeter devices for inbound/outbound (Elastic's pfSense integration maps in/out so)
        "network": {"direction": {"in": "inbound", "out": "outbound"}.get(direction, direction)},
    }
    doc["event"]["type"], outcome = _verdict(action)
    if outcome:
        doc["event"]["outcome"] = outcome
    doc["observer"]["ingress" if direction == "in" else "egress"] = {"interface": {"name": iface}}
    if version == "4":
        if len(f) < 20:
            raise ParseError(f"filterlog IPv4 line has {len(f)} fields, expected at least 20")
        proto_id, proto, length, src, dst, rest = f[15], f[16], f[17], f[18], f[19], f[20:]
        doc["network"]["type"] = "ipv4"
    elif version == "6":
        if len(f) < 17:
            raise ParseError(f"filterlog IPv6 line has {len(f)} fields, expected at least 17")
        proto, proto_id, length, src, dst, rest = f[12], f[13], f[14], f[15], f[16], f[17:]
        doc["network"]["type"] = "ipv6"
    else:
        raise ParseError(f"filterlog IP version {version!r} is neither 4 nor 6")
    doc["source"] = {"ip": _ip(src, "filterlog source")}
    doc["destination"] = {"ip": _ip(dst, "filterlog destination")}
    proto = proto.lower()
    doc["network"]["transport"] = proto
    if proto_id.isdigit():
        doc["network"]["iana_number"] = proto_id
    if length.isdigit():
        doc["network"]["bytes"] = int(length)
    if proto in ("tcp", "udp") and len(rest) >= 2:
        doc["source"]["port"] = _port(rest[0], "filterlog source port")
        doc["destination"]["port"] = _port(rest[1], "filterlog destination port")
        if proto == "tcp" and len(rest) >= 4 and rest[3]:
            doc["pfsense"] = {"tcp": {"flags": rest[3]}}
    return doc


# -- iptables / nftables -----------------------------------------------------------------------
def _split_mac(doc: dict[str, Any], mac: str) -> None:
    """``MAC=`` is destination (6 octets), source (6) and ethertype (2): ECS wants the first two apart."""
    octets = mac.split(":")
    if len(octets) < 12 or not all(len(o) == 2 for o in octets[:12]):
        return
    doc["destination"]["mac"] = "-".join(octets[:6]).upper()
    doc["source"]["mac"] = "-".join(octets[6:12]).upper()


# IN= after a blank, or glued to a bracketed prefix (EdgeOS/Ubiquiti: "[WAN_LOCAL-default-D]IN=eth0").
_NETFILTER = re.compile(r"(?:^|(?<=[\s\]]))IN=\S*\s+OUT=\S*")


def looks_netfilter(text: str) -> bool:
    return " SRC=" in text and _NETFILTER.search(text) is not None


def parse_netfilter(text: str) -> dict[str, Any]:
    """A kernel log line from an iptables ``LOG`` target or an nftables ``log`` statement."""
    m = _NETFILTER.search(text)
    if m is None:
        raise ParseError("no IN=/OUT= fields: not an iptables/nftables log line")
    prefix = re.sub(r"^\[\s*\d+\.\d+\]\s*", "", text[: m.start()]).strip()
    body = text[m.start() :]
    # an ICMP error quotes the packet it answers in brackets: its SRC/DST/PROTO are not this packet's
    inner_at = body.find("[SRC=")
    inner = parse_kv(body[inner_at + 1 : body.find("]", inner_at)]) if inner_at >= 0 else {}
    if inner_at >= 0:
        body = body[:inner_at]
    kv = parse_kv(body)
    flags = [w for w in body.split() if "=" not in w and w.isupper()]
    if "SRC" not in kv or "DST" not in kv:
        raise ParseError("iptables/nftables line without SRC= and DST=")
    doc: dict[str, Any] = {
        "observer": {"product": "netfilter", "type": "firewall"},
        "event": {"module": "iptables", "category": ["network"]},
        "source": {"ip": _ip(kv["SRC"], "SRC")},
        "destination": {"ip": _ip(kv["DST"], "DST")},
        "network": {"type": "ipv6" if ":" in kv["SRC"] else "ipv4"},
    }
    if prefix:
        doc["log"] = {"logger": prefix}
        doc["rule"] = {"name": prefix.strip("[]: ")}
        # the verdict word as the action (rules and ES queries match it); the prefix stays the rule's name.
        # EdgeOS/VyOS name their log prefixes [RULESET-RULE-A|D|R]: accept, drop, reject
        edge = re.search(r"-([ADR])\]?$", prefix)
        words = re.findall(r"[a-z]+", prefix.lower())
        verdict = {"A": "accept", "D": "drop", "R": "reject"}[edge.group(1)] if edge else None
        verdict = verdict or next((w for w in words if w in DENY_WORDS or w in ALLOW_WORDS), None)
        doc["event"]["action"] = verdict or prefix.strip("[]: ")
        doc["event"]["type"], outcome = _verdict(verdict or prefix)
        if outcome:
            doc["event"]["outcome"] = outcome
    else:
        doc["event"]["type"] = ["connection"]
    if kv.get("IN"):
        doc["observer"]["ingress"] = {"interface": {"name": kv["IN"]}}
    if kv.get("OUT"):
        doc["observer"]["egress"] = {"interface": {"name": kv["OUT"]}}
    proto = kv.get("PROTO", "").lower()
    proto = "ipv6-icmp" if proto == "icmpv6" else proto
    if proto:
        if proto.isdigit():
            doc["network"]["iana_number"] = proto
            proto = IANA_TRANSPORT.get(int(proto), proto)
        doc["network"]["transport"] = proto
        if proto in TRANSPORT_NUMBER:
            doc["network"]["iana_number"] = str(TRANSPORT_NUMBER[proto])
    if "SPT" in kv:
        doc["source"]["port"] = _port(kv["SPT"], "SPT")
    if "DPT" in kv:
        doc["destination"]["port"] = _port(kv["DPT"], "DPT")
    length = _int(kv.get("LEN"))
    if length is not None:
        doc["network"]["bytes"] = length
    extra: dict[str, Any] = {}
    if kv.get("MAC"):
        extra["mac"] = kv["MAC"]  # destination, source and ethertype run together
        _split_mac(doc, kv["MAC"])
    if inner:
        extra["icmp"] = {
            "original": {k.lower(): v for k, v in inner.items() if k in ("SRC", "DST", "PROTO", "SPT", "DPT")}
        }
    if "TYPE" in kv and proto in ("icmp", "ipv6-icmp"):
        extra.setdefault("icmp", {}).update(type=kv["TYPE"], code=kv.get("CODE"))
    tcp_flags = [f for f in flags if f in ("SYN", "ACK", "FIN", "RST", "PSH", "URG")]
    if tcp_flags:
        extra["tcp"] = {"flags": tcp_flags}
    if extra:
        doc["iptables"] = extra
    return doc
