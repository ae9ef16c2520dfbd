"""Syslog messages (RFC 5424, RFC 3164 and the common variants) to ECS events.

Devices at communes send whatever their firmware does: RFC 5424 with
structured data, BSD-style RFC 3164 with or without a hostname, an ISO
timestamp in place of the BSD one, or just ``<PRI>`` followed by key=value
pairs (FortiGate). The header is read leniently; the content is then handed to
the firewall parsers when it is a FortiGate, pfSense filterlog or
iptables/nftables line. A message without a valid ``<PRI>`` or with an
unreadable header becomes a counted ``pipeline_error`` event that keeps the
raw bytes.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from sentinel.collect import firewall
from sentinel.collect.parsers import ParseError, build_event
from sentinel.ecs import format_ts

SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")
FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5",
    "local6", "local7",
)  # fmt: skip
MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}
VIETNAM = timezone(timedelta(hours=7))

# A receiver passes one ``now`` per batch: format it once.
_format_now = lru_cache(maxsize=16)(format_ts)

_PRI = re.compile(rb"<(\d{1,3})>")
_BSD_TS = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) ")
_ISO_TS = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?) ")
_TAG = re.compile(r"([\w./@()-]{1,64})(?:\[([^\]\s]{1,32})\])?: ?")
_RFC5424 = re.compile(r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ")


@lru_cache(maxsize=4096)
def _iso(text: str, tz: timezone) -> str:
    if text == "-":
        raise ParseError("RFC 5424 message without a timestamp")
    t = text.replace("Z", "+00:00")
    if "." in t:  # Python reads at most 6 fraction digits
        head, _, frac = t.partition(".")
        digits = re.match(r"\d+", frac)
        if digits is None:
            raise ParseError(f"timestamp {text!r} is not RFC 3339 (no digits after the decimal point)")
        t = f"{head}.{digits.group()[:6].ljust(6, '0')}{frac[digits.end() :]}"
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        raise ParseError(f"timestamp {text!r} is not RFC 3339") from None
    return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=tz))


def _bsd_time(m: re.Match[str], tz: timezone, now: datetime) -> str:
    local_today = now.astimezone(tz).date()
    return _bsd_time_cached(m.group(1), int(m.group(2)), m.group(3, 4, 5), tz, local_today)


@lru_cache(maxsize=4096)
def _bsd_time_cached(month: str, day: int, hms: tuple[str, str, str], tz: timezone, today: date) -> str:
    """A BSD timestamp (no year, no zone) in ``tz`` as ECS UTC time; the year is inferred from ``today``."""
    mon = MONTHS.get(month)
    if mon is None:
        raise ParseError(f"month {month!r} in the BSD timestamp is not an English abbreviation")
    try:
        dt = datetime(today.year, mon, day, int(hms[0]), int(hms[1]), int(hms[2]), tzinfo=tz)
    except ValueError as exc:
        raise ParseError(f"BSD timestamp is not a date: {exc}") from None
    if dt.date() - today > timedelta(days=7):  # December messages read in January
        dt = dt.replace(year=dt.year - 1)
    return format_ts(dt)


def _structured_data(text: str) -> tuple[dict[str, dict[str, str]], str]:
    """RFC 5424 STRUCTURED-DATA at the start of ``text``; returns it and the rest (the message)."""
    if text.startswith("-"):
        return {}, text[2:] if text.startswith("- ") else text[1:]
    sd: dict[str, dict[str, str]] = {}
    i = 0
    n = len(text)
    while i < n and text[i] == "[":
        end_id = i + 1
        while end_id < n and text[end_id] not in " ]":
            end_id += 1
        elem = sd.setdefault(text[i + 1 : end_id], {})
        i = end_id
        while i < n and text[i] == " ":
            eq = text.find("=", i)
            if eq < 0 or eq + 1 >= n or text[eq + 1] != '"':
                raise ParseError('structured data parameter without ="value"')
            name = text[i + 1 : eq]
            j = eq + 2
            value = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n and text[j + 1] in '"\\]':
                    j += 1
                value.append(text[j])
                j += 1
            if j >= n:
                raise ParseError("structured data value without its closing quote")
            elem[name] = "".join(value)
            i = j + 1
        if i >= n or text[i] != "]":
            raise ParseError("structured data element without its closing ]")
        i += 1
    if i == 0:
        raise ParseError("RFC 5424 message: structured data must be '-' or start with '['")
    return sd, text[i + 1 :] if text[i : i + 1] == " " else text[i:]


def _header(text: str, tz: timezone, now: datetime) -> dict[str, Any]:
    """Fields of the syslog header after ``<PRI>``; ``message`` holds the content."""
    m = _RFC5424.match(text)
    if m and m.group(1) == "1":
        _, ts, host, app, procid, msgid = m.groups()
        sd, msg = _structured_data(text[m.end() :])
        out: dict[str, Any] = {"@timestamp": _iso(ts, tz), "version": "1", "message": msg.removeprefix("\ufeff")}
        for key, value in (("hostname", host), ("appname", app), ("procid", procid), ("msgid", msgid)):
            if value != "-":
                out[key] = value
        if sd:
            out["structured_data"] = sd
        return out
    out = {}
    rest = text
    if bsd := _BSD_TS.match(rest):
        out["@timestamp"] = _bsd_time(bsd, tz, now)
        rest = rest[bsd.end() :]
    elif iso := _ISO_TS.match(rest):
        out["@timestamp"] = _iso(iso.group(1), tz)
        rest = rest[iso.end() :]
    else:
        out["message"] = rest  # <PRI> then content only (FortiGate and others)
        return out
    tag = _TAG.match(rest)
    if tag is None:
        host, _, after = rest.partition(" ")
        if host and after:
            out["hostname"] = host
            rest = after
            tag = _TAG.match(rest)
    if tag is not None:
        out["appname"] = tag.group(1)
        if tag.group(2):
            out["procid"] = tag.group(2)
        rest = rest[tag.end() :]
    out["message"] = rest
    return out


def parse_syslog(
    raw: bytes,
    *,
    source: str,
    position: int | str,
    peer: str | None = None,
    dataset: str = "syslog",
    tz: timezone = VIETNAM,
    now: datetime | None = None,
    from_file: bool = False,
) -> dict[str, Any]:
    """One syslog message (without framing) as a stored ECS event; never raises for bad input.

    ``from_file``: a line of a file written by a syslog daemon, where ``<PRI>`` is usually left out.
    """
    raw = raw.rstrip(b"\r\n\x00")
    now = now or datetime.now(UTC)
    try:
        fields = _parse(raw, tz, now, dataset, from_file)
        event = build_event(fields, raw, source=source, position=position, dataset=fields["event"]["dataset"])
    except ParseError as exc:
        event = build_event(None, raw, source=source, position=position, dataset=dataset, error=str(exc))
    if not from_file:
        del event["log"]["file"]
        event["log"].pop("offset", None)
    if peer:
        event["log"]["source"] = {"address": peer}
    return event


def _parse(raw: bytes, tz: timezone, now: datetime, dataset: str, from_file: bool) -> dict[str, Any]:
    pri_m = _PRI.match(raw)
    syslog: dict[str, Any] = {}
    if pri_m is not None:
        pri = int(pri_m.group(1))
        if pri > 191:
            raise ParseError(f"syslog priority {pri} is out of range (0-191)")
        facility, severity = divmod(pri, 8)
        syslog = {
            "priority": pri,
            "facility": {"code": facility, "name": FACILITIES[facility]},
            "severity": {"code": severity, "name": SEVERITIES[severity]},
        }
    elif not from_file:
        raise ParseError("not a syslog message: it does not start with <PRI> (e.g. <134>)")
    text = raw[pri_m.end() if pri_m else 0 :].decode("utf-8", "backslashreplace")
    head = _header(text, tz, now)
    if pri_m is None and "@timestamp" not in head:
        raise ParseError("not a syslog file line: it starts with neither <PRI> nor a timestamp")
    message = head.pop("message")
    for key in ("hostname", "appname", "procid", "msgid", "version", "structured_data"):
        if key in head:
            syslog[key] = head[key]
    doc: dict[str, Any] = _content(message, syslog.get("appname"), tz)
    ev = doc.setdefault("event", {})
    ev.setdefault("dataset", dataset)
    ev["created"] = _format_now(now)
    log = doc.setdefault("log", {})
    log["syslog"] = syslog
    if "severity" in syslog:
        log.setdefault("level", syslog["severity"]["name"])
    doc.setdefault("message", message)
    doc.setdefault("@timestamp", head.get("@timestamp") or _format_now(now))
    if "hostname" in syslog:
        doc.setdefault("host", {})["hostname"] = syslog["hostname"]
        doc.setdefault("observer", {}).setdefault("hostname", syslog["hostname"])
    if "appname" in syslog:
        proc: dict[str, Any] = {"name": syslog["appname"]}
        if str(syslog.get("procid", "")).isdigit():
            proc["pid"] = int(syslog["procid"])
        doc["process"] = proc
    return doc


def _content(message: str, app: str | None, tz: timezone) -> dict[str, Any]:
    """Firewall fields when the content is a known firewall format, else nothing special."""
    if app == "filterlog":
        doc = firewall.parse_filterlog(message)
        doc["event"]["dataset"] = "pfsense.log"
        return doc
    if firewall.looks_fortigate(message):
        doc = firewall.parse_fortigate(message, tz)
        doc["event"]["dataset"] = "fortinet.firewall"
        return doc
    if firewall.looks_netfilter(message):
        doc = firewall.parse_netfilter(message)
        doc["event"]["dataset"] = "iptables.log"
        return doc
    return {}
