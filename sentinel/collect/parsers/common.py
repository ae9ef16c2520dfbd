"""What every line parser shares: decoding hostile bytes and building the event envelope.

A parser turns one raw record into ECS fields or raises :class:`ParseError`
with a reason. :func:`build_event` wraps either outcome into a stored event:
the parsed fields, or an ``event.kind: pipeline_error`` record that keeps the
raw line (``event.original``) so nothing read is ever dropped.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from sentinel import ecs
from sentinel.errors import Invalid

# Lines longer than this are kept (truncated) as parse errors rather than parsed.
MAX_LINE_BYTES = 1 << 20
# How much of an over-long or malformed line is kept as evidence.
MAX_ORIGINAL_CHARS = 64 * 1024


# The longest string a parser cache keeps (see :func:`remembered`).
LONGEST_REMEMBERED = 1024

Result = TypeVar("Result")
_CACHES: weakref.WeakSet[Any] = weakref.WeakSet()


class ParseError(Invalid):
    """The record is not in the expected format; the message says why."""


def remembered(maxsize: int) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Keep the last ``maxsize`` results of a pure function of a string (and flags), least recently used out.

    Log lines repeat their parts: the same user agents, referrers, requests and minutes come back line
    after line, and decoding or classifying them again costs more than splitting the line. Bounded twice:
    ``maxsize`` entries, and a first argument longer than :data:`LONGEST_REMEMBERED` characters is
    computed, never kept (a 1 MiB request target must not stay in memory); the other arguments are
    flags or short. The strings are raw request text, possibly personal data (a citizen's name in a
    search, an id in a query string): they stay in this process's memory only, are never written
    anywhere, and :func:`clear_caches` forgets them. A remembered function returns immutable values
    (str, tuple), so no caller can change what the next line gets.
    """

    def wrap(fn: Callable[..., Result]) -> Callable[..., Result]:
        cached = lru_cache(maxsize=maxsize)(fn)
        _CACHES.add(cached)

        @wraps(fn)
        def call(text: str, *args: Any) -> Result:
            return cached(text, *args) if len(text) <= LONGEST_REMEMBERED else fn(text, *args)

        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        return call

    return wrap


def clear_caches() -> None:
    """Forget every value the parsers remember (:func:`remembered`): the next lines are parsed from scratch."""
    for cache in list(_CACHES):
        cache.cache_clear()


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
    text: str | None = None,
) -> dict[str, Any]:
    """The stored event: parsed ``fields`` plus id and provenance, or a pipeline_error record.

    ``text``: ``decode(raw)`` when the caller has it already (the line parsers do), so it is not decoded twice.
    """
    eid = ecs.event_id(source, position, raw)
    if text is None:
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
