"""Syslog messages (RFC 5424, RFC 3164 and the common variants) to ECS events.

Devices at communes send whatever their firmware does: RFC 5424 with
structured data, BSD-style RFC 3164 with or without a hostname, an ISO
timestamp in place of the BSD one, or just ``<PRI>`` followed by key=value
pairs (FortiGate). The header is read leniently; the content is then handed to
the firewall parsers when it is a FortiGate, pfSense filterlog or
iptables/nftables line, and to :mod:`sentinel.collect.parsers.hostauth` when
the program writes to the auth log (sshd, sudo, su, PAM: dataset
``system.auth``). A message without a valid ``<PRI>`` or with an unreadable
header becomes a counted ``pipeline_error`` event that keeps the raw bytes.

A BSD timestamp has no year. A live receiver takes it from the arrival time;
a file or pipe read from start to end (:class:`SyslogStream`) takes it from
the events' own sequence (:class:`YearClock`): the first event gets the year
of an anchor (``--year``, else the file's modification time, since the log was
written before it), and the year advances when the dates wrap from December to
January. rsyslog's ``message repeated N times: [ ... ]`` and syslogd's ``last
message repeated N times`` become N events, so N failed logins count as N.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any, BinaryIO

import orjson

from sentinel import ecs
from sentinel.collect import firewall
from sentinel.collect.parsers import hostauth
from sentinel.collect.parsers.common import ParseError, build_event
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
_REPEATED = re.compile(r"^message repeated (\d{1,6}) times?: \[ ?(.*?) ?\]$", re.DOTALL)
_FILTERLOG = re.compile(r"^\d+,[^,]*,[^,]*,\d+,[^,]+,[^,]*,(?:pass|block|reject|match)?,(?:in|out),[46],")
_LAST_REPEATED = re.compile(r"^last message repeated (\d{1,6}) times?$")
# A message repeated more often than this is kept as one event that says so (a flood must not explode).
MAX_REPEAT = 1000
# A date this far before the previous event's is taken as the next year (logs are roughly in order).
_YEAR_WRAP = timedelta(days=182)


class YearClock:
    """The year of yearless BSD timestamps, resolved from the sequence of a stream's events.

    ``anchor`` is a time the stream's first event cannot be later than (the
    file's modification time, or now); ``year`` overrides the first event's
    year. Afterwards the year follows the events: a date half a year before the
    previous one is in the next year, a date half a year after it (a late line
    from December just after New Year) is in the year before.
    """

    def __init__(self, anchor: datetime | None = None, year: int | None = None) -> None:
        self.anchor = anchor or datetime.now(UTC)
        self.year = year
        self.last: datetime | None = None

    def resolve(self, month: int, day: int, hms: tuple[int, int, int], tz: tzinfo) -> datetime:
        if self.year is None:
            local = self.anchor.astimezone(tz)
            self.year = local.year
            if _local(self.year, month, day, hms, tz) > local + timedelta(days=1):
                self.year -= 1
        dt = _local(self.year, month, day, hms, tz)
        if self.last is not None:
            if dt < self.last - _YEAR_WRAP:
                self.year += 1
                dt = _local(self.year, month, day, hms, tz)
            elif dt > self.last + _YEAR_WRAP:
                return _local(self.year - 1, month, day, hms, tz)
        self.last = dt
        return dt


def _local(year: int, month: int, day: int, hms: tuple[int, int, int], tz: tzinfo) -> datetime:
    try:
        return datetime(year, month, day, *hms, tzinfo=tz)
    except ValueError as exc:
        raise ParseError(f"BSD timestamp is not a date in {year}: {exc}") from None


def stream_anchor(f: BinaryIO) -> datetime:
    """When a stream's content was last written (its file's modification time), else now."""
    try:
        return datetime.fromtimestamp(os.fstat(f.fileno()).st_mtime, UTC)
    except (AttributeError, OSError, ValueError):
        return datetime.now(UTC)


@lru_cache(maxsize=4096)
def _iso(text: str, tz: tzinfo) -> str:
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


def _bsd_time(m: re.Match[str], tz: tzinfo, now: datetime, clock: YearClock | None) -> str:
    if clock is None:
        local_today = now.astimezone(tz).date()
        return _bsd_time_cached(m.group(1), int(m.group(2)), m.group(3, 4, 5), tz, local_today)
    mon = MONTHS.get(m.group(1))
    if mon is None:
        raise ParseError(f"month {m.group(1)!r} in the BSD timestamp is not an English abbreviation")
    hms = (int(m.group(3)), int(m.group(4)), int(m.group(5)))
    return _format_ts(clock.resolve(mon, int(m.group(2)), hms, tz))


_format_ts = lru_cache(maxsize=4096)(format_ts)


@lru_cache(maxsize=4096)
def _bsd_time_cached(month: str, day: int, hms: tuple[str, str, str], tz: tzinfo, today: date) -> str:
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


def _header(text: str, tz: tzinfo, now: datetime, clock: YearClock | None = None) -> dict[str, Any]:
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
        out["@timestamp"] = _bsd_time(bsd, tz, now, clock)
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
    tz: tzinfo = VIETNAM,
    now: datetime | None = None,
    from_file: bool = False,
    clock: YearClock | None = None,
) -> dict[str, Any]:
    """One syslog message (without framing) as a stored ECS event; never raises for bad input.

    ``from_file``: a line of a file written by a syslog daemon, where ``<PRI>`` is usually left out.
    ``clock``: the year of BSD timestamps from the stream's sequence (default: the year of ``now``).
    """
    raw = raw.rstrip(b"\r\n\x00")
    now = now or datetime.now(UTC)
    try:
        fields = _parse(raw, tz, now, dataset, from_file, clock)
        event = build_event(fields, raw, source=source, position=position, dataset=fields["event"]["dataset"])
    except ParseError as exc:
        event = build_event(None, raw, source=source, position=position, dataset=dataset, error=str(exc))
    if not from_file:
        del event["log"]["file"]
        event["log"].pop("offset", None)
    if peer:
        event["log"]["source"] = {"address": peer}
    return event


def _parse(
    raw: bytes, tz: tzinfo, now: datetime, dataset: str, from_file: bool, clock: YearClock | None
) -> dict[str, Any]:
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
    head = _header(text, tz, now, clock)
    if pri_m is None and "@timestamp" not in head:
        raise ParseError("not a syslog file line: it starts with neither <PRI> nor a timestamp")
    message = head.pop("message")
    for key in ("hostname", "appname", "procid", "msgid", "version", "structured_data"):
        if key in head:
            syslog[key] = head[key]
    doc: dict[str, Any] = _content(message, syslog.get("appname"), tz)
    if (rep := _REPEATED.match(message)) is not None:
        doc = _content(rep.group(2), syslog.get("appname"), tz)
        doc.setdefault("message", rep.group(2))
        syslog["repeated"] = int(rep.group(1))
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
        proc: dict[str, Any] = doc.setdefault("process", {})
        proc["name"] = hostauth.program_name(syslog["appname"])
        if str(syslog.get("procid", "")).isdigit():
            proc["pid"] = int(syslog["procid"])
    return doc


def _content(message: str, app: str | None, tz: tzinfo) -> dict[str, Any]:
    """Firewall or auth-log fields when the content is a known format, else nothing special."""
    if hostauth.is_auth_program(app) or message.startswith("pam_"):
        return hostauth.parse_auth(app or "", message)
    return firewall_content(message, tz, app) or {}


def firewall_content(message: str, tz: tzinfo, app: str | None = None) -> dict[str, Any] | None:
    """ECS fields of a FortiGate, pfSense filterlog or iptables/nftables line; None when it is none of them."""
    if app == "filterlog" or (app is None and _FILTERLOG.match(message)):
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
    return None


def expand_repeats(event: dict[str, Any], raw: bytes, *, source: str, position: int | str) -> list[dict[str, Any]]:
    """The events one message stands for: N for ``message repeated N times: [ ... ]``, else itself.

    The copies keep the message's fields with their own ``event.id`` (the
    position plus ``#k``) and ``event.sequence`` k, so counting rules see N
    attempts and a replay stores each once.
    """
    n = min(event.get("log", {}).get("syslog", {}).get("repeated", 1), MAX_REPEAT)
    return [event] + [_copy(event, raw, source, position, k) for k in range(1, n)]


def _copy(event: dict[str, Any], raw: bytes, source: str, position: int | str, k: int) -> dict[str, Any]:
    copy = orjson.loads(orjson.dumps(event))
    copy["event"]["id"] = ecs.event_id(source, f"{position}#{k}", raw)
    copy["event"]["sequence"] = k
    return copy


class SyslogStream:
    """The messages of one syslog file or pipe read in order (``sentinel ingest``/``detect``).

    Holds what lines share: the :class:`YearClock` of BSD timestamps and the
    last message of each host, which syslogd's ``last message repeated N
    times`` refers to.
    """

    def __init__(
        self, *, tz: tzinfo = VIETNAM, clock: YearClock | None = None, dataset: str = "syslog", from_file: bool = True
    ) -> None:
        self.tz = tz
        self.clock = clock or YearClock()
        self.dataset = dataset
        self.from_file = from_file
        self._last: dict[str, dict[str, Any]] = {}

    def parse(self, raw: bytes, *, source: str, position: int | str) -> list[dict[str, Any]]:
        raw = raw.rstrip(b"\r\n\x00")
        event = parse_syslog(
            raw, source=source, position=position, dataset=self.dataset, tz=self.tz, from_file=self.from_file,
            clock=self.clock,
        )  # fmt: skip
        if event["event"]["kind"] == "pipeline_error":
            return [event]
        host = event.get("host", {}).get("hostname", "")
        m = _LAST_REPEATED.match(event.get("message", ""))
        previous = self._last.get(host)
        if m is None or previous is None:
            self._last[host] = event
            return expand_repeats(event, raw, source=source, position=position)
        repeats = []
        for k in range(min(int(m.group(1)), MAX_REPEAT)):
            copy = _copy(previous, raw, source, position, k + 1)
            copy["@timestamp"] = event["@timestamp"]
            copy["event"]["original"] = event["event"]["original"]
            copy["event"]["ingested"] = event["event"]["ingested"]
            copy["log"] = {**event["log"], "syslog": {**event["log"]["syslog"], "repeated": int(m.group(1))}}
            repeats.append(copy)
        return repeats
