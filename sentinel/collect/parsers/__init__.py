"""Line parsers: raw bytes in, one ECS event out (or a kept ``pipeline_error`` event).

Formats: ``access`` (nginx/Apache), ``json`` (application JSON lines, or lines
already in ECS), and ``auto`` (JSON when the line starts with ``{``, else
access log) for :func:`parse_line`. Collectors with other formats (syslog,
firewall, NetFlow) build their events in their own modules and use
:func:`build_event` for the envelope. :class:`LineReader` reads a whole file or
pipe in any of the formats the collectors parse, including ``syslog`` (auth
logs, firewall syslog) and bare ``firewall`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from sentinel.collect.parsers.accesslog import parse_access_line
from sentinel.collect.parsers.common import MAX_LINE_BYTES, ParseError, build_event, decode, strip_eol
from sentinel.collect.parsers.jsonlog import parse_json_line
from sentinel.collect.parsers.portal import PortalProfile, default_profile

FORMATS: dict[str, Callable[[str], dict[str, Any]]] = {
    "access": parse_access_line,
    "json": parse_json_line,
}
DEFAULT_DATASETS = {"access": "nginx.access", "json": "portal.app"}

__all__ = ["FORMATS", "LINE_FORMATS", "LineReader", "ParseError", "build_event", "parse_line"]

# Every format a whole stream can be read in (sentinel ingest / detect).
LINE_FORMATS = ("auto", "access", "json", "syslog", "firewall")
# <PRI>, a BSD timestamp ("Jun 14 15:16:01") or an ISO timestamp followed by a host: a syslog line.
_SYSLOG_START = re.compile(
    rb"^(?:<\d{1,3}>|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d |\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \S)"
)
_FIREWALL_START = re.compile(rb"^(?:date=|\S*logid=|\d+,[^,]*,[^,]*,\d+,|\S*IN=\S* OUT=)")


def detect_format(raw: bytes) -> str:
    return "json" if raw.lstrip()[:1] == b"{" else "access"


def parse_line(
    raw: bytes,
    *,
    source: str,
    position: int | str,
    fmt: str = "auto",
    dataset: str | None = None,
    profile: PortalProfile | None = None,
) -> dict[str, Any]:
    """Parse one log line into a stored event; never raises for bad input.

    ``source`` and ``position`` identify where the line came from (file identity
    and byte offset): with the raw bytes they make the deterministic
    ``event.id``, so reading the same line again yields the same event. Access
    lines are tagged with the kind of request by ``profile`` (default: the
    shipped portal profile).
    """
    raw = strip_eol(raw)
    kind = detect_format(raw) if fmt == "auto" else fmt
    if kind not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of: auto, {', '.join(FORMATS)}")
    ds = dataset or DEFAULT_DATASETS[kind]
    if len(raw) > MAX_LINE_BYTES:
        return build_event(
            None,
            raw,
            source=source,
            position=position,
            dataset=ds,
            error=f"line is {len(raw)} bytes, longer than the {MAX_LINE_BYTES}-byte limit",
        )
    if not raw or raw.isspace():
        return build_event(None, raw, source=source, position=position, dataset=ds, error="empty line")
    text = decode(raw)
    try:
        fields = FORMATS[kind](text)
        if kind == "access" or fields.get("event", {}).get("type") == ["access"]:  # JSON access logs too
            (profile or default_profile()).tag(fields)
    except ParseError as exc:
        return build_event(None, raw, source=source, position=position, dataset=ds, error=str(exc))
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        # a parser bug must not lose the line either: keep it and say what happened
        return build_event(
            None, raw, source=source, position=position, dataset=ds, error=f"parser failed: {type(exc).__name__}: {exc}"
        )
    return build_event(fields, raw, source=source, position=position, dataset=ds, text=text)


def sniff_format(raw: bytes) -> str:
    """The format of one line when the user did not say: json, syslog, firewall or access."""
    head = raw.lstrip()[:200]
    if head[:1] == b"{":
        return "json"
    if _SYSLOG_START.match(head):
        return "syslog"
    if _FIREWALL_START.match(head) or (b"logid=" in raw and b"type=" in raw):
        return "firewall"
    return "access"


class LineReader:
    """Reads the lines of one stream (a file or a pipe) in order, in any format the collectors parse.

    Syslog lines share state along a stream (the year of BSD timestamps, the
    message a ``last message repeated`` line repeats), so each stream gets its
    own reader. :meth:`parse` returns a list: a repeated message stands for
    several events. ``anchor`` is a time the stream's first event cannot be
    after (its file's modification time); ``year`` sets the first event's year;
    ``profile`` tags access lines with the kind of request (login, record, ...).
    """

    def __init__(
        self,
        fmt: str = "auto",
        *,
        dataset: str | None = None,
        tz: tzinfo | None = None,
        anchor: datetime | None = None,
        year: int | None = None,
        profile: PortalProfile | None = None,
    ) -> None:
        from sentinel.collect.syslog_parse import VIETNAM, SyslogStream, YearClock

        if fmt not in LINE_FORMATS:
            raise ValueError(f"unknown format {fmt!r}; use one of: {', '.join(LINE_FORMATS)}")
        self.fmt = fmt
        self.dataset = dataset
        self.tz = tz or VIETNAM
        self.profile = profile
        self._syslog = SyslogStream(tz=self.tz, clock=YearClock(anchor, year), dataset=dataset or "syslog")

    def parse(self, raw: bytes, *, source: str, position: int | str) -> list[dict[str, Any]]:
        raw = strip_eol(raw)
        kind = sniff_format(raw) if self.fmt == "auto" else self.fmt
        if kind == "syslog":
            return self._syslog.parse(raw, source=source, position=position)
        return self._parse_as(kind, raw, source, position)

    def parse_alone(self, raw: bytes, *, source: str, position: int | str) -> list[dict[str, Any]] | None:
        """:meth:`parse` for a line that needs nothing of the lines before it; None for a syslog line, which does.

        Lines of the other formats parse the same wherever they are read, so a worker process may read a
        part of a stream with a copy of this reader; a syslog line must go through the stream's own reader.
        """
        raw = strip_eol(raw)
        kind = sniff_format(raw) if self.fmt == "auto" else self.fmt
        return None if kind == "syslog" else self._parse_as(kind, raw, source, position)

    def _parse_as(self, kind: str, raw: bytes, source: str, position: int | str) -> list[dict[str, Any]]:
        if kind == "firewall":
            return [self._firewall(raw, source, position)]
        return [parse_line(raw, source=source, position=position, fmt=kind, dataset=self.dataset, profile=self.profile)]

    def _firewall(self, raw: bytes, source: str, position: int | str) -> dict[str, Any]:
        from sentinel.collect.syslog_parse import firewall_content

        ds = self.dataset or "firewall.log"
        if not raw.strip():
            return build_event(None, raw, source=source, position=position, dataset=ds, error="empty line")
        try:
            fields = firewall_content(decode(raw), self.tz)
        except ParseError as exc:
            return build_event(None, raw, source=source, position=position, dataset=ds, error=str(exc))
        if fields is None:
            return build_event(
                None, raw, source=source, position=position, dataset=ds,
                error="not a firewall line (expected FortiGate key=value, pfSense filterlog or iptables/nftables)",
            )  # fmt: skip
        if self.dataset:
            fields["event"]["dataset"] = self.dataset
        return build_event(fields, raw, source=source, position=position, dataset=fields["event"]["dataset"])
