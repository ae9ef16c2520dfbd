"""Line parsers: raw bytes in, one ECS event out (or a kept ``pipeline_error`` event).

Formats: ``access`` (nginx/Apache), ``json`` (application JSON lines, or lines
already in ECS), and ``auto`` (JSON when the line starts with ``{``, else
access log). Collectors with other formats (syslog, firewall, NetFlow) build
their events in their own modules and use :func:`build_event` for the envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sentinel.collect.parsers.accesslog import parse_access_line
from sentinel.collect.parsers.common import MAX_LINE_BYTES, ParseError, build_event, decode, strip_eol
from sentinel.collect.parsers.jsonlog import parse_json_line

FORMATS: dict[str, Callable[[str], dict[str, Any]]] = {
    "access": parse_access_line,
    "json": parse_json_line,
}
DEFAULT_DATASETS = {"access": "nginx.access", "json": "portal.app"}

__all__ = ["FORMATS", "ParseError", "build_event", "parse_line"]


def detect_format(raw: bytes) -> str:
    return "json" if raw.lstrip()[:1] == b"{" else "access"


def parse_line(
    raw: bytes, *, source: str, position: int | str, fmt: str = "auto", dataset: str | None = None
) -> dict[str, Any]:
    """Parse one log line into a stored event; never raises for bad input.

    ``source`` and ``position`` identify where the line came from (file identity
    and byte offset): with the raw bytes they make the deterministic
    ``event.id``, so reading the same line again yields the same event.
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
    if not raw.strip():
        return build_event(None, raw, source=source, position=position, dataset=ds, error="empty line")
    try:
        fields = FORMATS[kind](decode(raw))
    except ParseError as exc:
        return build_event(None, raw, source=source, position=position, dataset=ds, error=str(exc))
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        # a parser bug must not lose the line either: keep it and say what happened
        return build_event(
            None, raw, source=source, position=position, dataset=ds, error=f"parser failed: {type(exc).__name__}: {exc}"
        )
    return build_event(fields, raw, source=source, position=position, dataset=ds)
