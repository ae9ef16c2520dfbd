"""What every line parser shares: decoding hostile bytes and building the event envelope.

A parser turns one raw record into ECS fields or raises :class:`ParseError`
with a reason. :func:`build_event` wraps either outcome into a stored event:
the parsed fields, or an ``event.kind: pipeline_error`` record that keeps the
raw line (``event.original``) so nothing read is ever dropped.
"""

from __future__ import annotations

from typing import Any

from sentinel import ecs
from sentinel.errors import Invalid

# Lines longer than this are kept (truncated) as parse errors rather than parsed.
MAX_LINE_BYTES = 1 << 20
# How much of an over-long or malformed line is kept as evidence.
MAX_ORIGINAL_CHARS = 64 * 1024


class ParseError(Invalid):
    """The record is not in the expected format; the message says why."""


def decode(raw: bytes) -> str:
    """Decode log bytes: UTF-8, with invalid bytes shown as ``\\xNN`` instead of failing.

    Invalid UTF-8 is common in attack traffic (scanners send raw bytes); the
    escape keeps the evidence readable and the document valid JSON.
    """
    return raw.decode("utf-8", "backslashreplace")


def strip_eol(raw: bytes) -> bytes:
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw


def build_event(
    fields: dict[str, Any] | None,
    raw: bytes,
    *,
    source: str,
    position: int | str,
    dataset: str,
    error: str | None = None,
) -> dict[str, Any]:
    """The stored event: parsed ``fields`` plus id and provenance, or a pipeline_error record."""
    eid = ecs.event_id(source, position, raw)
    text = decode(raw)
    if error is not None or fields is None:
        truncated = len(text) > MAX_ORIGINAL_CHARS
        return {
            "@timestamp": ecs.now_ts(),
            "ecs": {"version": ecs.ECS_VERSION},
            "event": {
                "id": eid,
                "kind": "pipeline_error",
                "dataset": dataset,
                "original": text[:MAX_ORIGINAL_CHARS],
                "ingested": ecs.now_ts(),
            },
            "error": {"message": error or "unparsed", "type": "parse_error"},
            "log": {"file": {"path": source}, "offset": position},
            "labels": {"original_truncated": "true"} if truncated else {},
        }
    event = fields
    ev = event.setdefault("event", {})
    ev["id"] = ev.get("id") or eid
    ev.setdefault("dataset", dataset)
    ev.setdefault("kind", "event")
    ev.setdefault("original", text)
    ev["ingested"] = ecs.now_ts()
    event.setdefault("ecs", {"version": ecs.ECS_VERSION})
    event.setdefault("log", {}).setdefault("offset", position)
    event["log"].setdefault("file", {"path": source})
    if "@timestamp" not in event:
        event["@timestamp"] = ev["ingested"]
    return event
