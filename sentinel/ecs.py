"""Helpers for Elastic Common Schema (ECS) documents.

Events travel through Sentinel as nested ``dict`` documents shaped like ECS
(``{"source": {"ip": ...}, "event": {...}}``). Rules, policies and queries name
fields by dotted path (``source.ip``), so these helpers convert between the two.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

ECS_VERSION = "8.11.0"

_MISSING = object()


def get_field(doc: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """Return the value at dotted ``path`` in a nested (or partly flattened) document.

    ECS documents may arrive with dotted keys (``{"source.ip": ...}``) as well as
    nested objects, so each prefix is tried as a literal key before descending.
    """
    if path in doc:
        return doc[path]
    head, dot, rest = path.partition(".")
    while dot:
        value = doc.get(head, _MISSING)
        if isinstance(value, Mapping):
            found = get_field(value, rest, _MISSING)
            if found is not _MISSING:
                return found
        nxt, dot, rest = rest.partition(".")
        head = f"{head}.{nxt}"
    return default


def set_field(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at dotted ``path``, creating nested objects on the way."""
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested objects to dotted keys; lists are kept as values."""
    return dict(_iter_flat(doc, prefix))


def _iter_flat(doc: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in doc.items():
        path = f"{prefix}{key}"
        # type() first: the ABC isinstance check costs more than the rest of the loop on plain dicts
        if value and (type(value) is dict or isinstance(value, Mapping)):
            yield from _iter_flat(value, path + ".")
        else:
            yield path, value


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten`."""
    doc: dict[str, Any] = {}
    for key, value in flat.items():
        set_field(doc, key, value)
    return doc


def event_id(source: str, position: int | str, raw: bytes | str) -> str:
    """Deterministic event id from where the record came from and what it said.

    The same line read again from the same place (a replay, a retry, a restart)
    gets the same id, so the store and Elasticsearch (``op_type=create``) can
    refuse it as a duplicate. Including the raw bytes keeps ids distinct when a
    file is truncated and rewritten with new content at the same offsets.
    """
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
    # one call over the joined bytes hashes what updates part by part would (ids are unchanged): every line pays it
    joined = b"%s\0%s\0%s" % (_source_bytes(source), str(position).encode(), data)
    return hashlib.blake2b(joined, digest_size=16).hexdigest()


@lru_cache(maxsize=64)
def _source_bytes(source: str) -> bytes:
    """A source's identity as hashed (a stream's lines all name the same file)."""
    return source.encode("utf-8", "surrogateescape")


def format_ts(dt: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``, the form ECS documents use."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    u = dt.astimezone(UTC)  # fields, not strftime: this runs for every event parsed
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}."
        f"{u.microsecond // 1000:03d}Z"
    )


def parse_ts(value: str | int | float | datetime) -> datetime:
    """Parse an ECS timestamp (ISO 8601, or epoch milliseconds) into an aware datetime.

    Raises ``ValueError`` with the offending value when it is not a timestamp.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def now_ts() -> str:
    """The current time as an ECS timestamp (cached per millisecond: ingest stamps every event)."""
    return _ts_of_ms(time.time_ns() // 1_000_000)


@lru_cache(maxsize=4)
def _ts_of_ms(ms: int) -> str:
    return format_ts(datetime.fromtimestamp(ms / 1000, UTC))


# --- reading many fields fast ----------------------------------------------------------------------


def has_dotted_key(node: dict[Any, Any]) -> bool:
    """Whether a key of ``node`` holds a dot (``{"source.ip": ...}``): then paths have two spellings."""
    try:
        return "." in "".join(node)
    except TypeError:  # a non-string key: let the general lookup decide
        return True


def value_list(names: list[str]) -> str:
    """Default result of a generated reader: the values, a non-empty object read as None (not a field value)."""
    return "[" + ", ".join(f"None if type({v}) is dict and {v} else {v}" for v in names) + "]"


def compile_reader(
    paths: Sequence[str], result: Callable[[list[str]], str] = value_list, env: Mapping[str, Any] | None = None
) -> Callable[[dict[str, Any]], Any]:
    """Generate ``read(doc)`` over a plain event: ``result`` of the values at ``paths``, or None.

    A plain event is a dict with no dotted key at its top level (check with
    :func:`has_dotted_key`). Reading a dozen fields of every event is a large
    part of what detection and the store cost per event, so this is generated
    Python: each object on the way (``http``, ``http.request``) is fetched once
    and every path is a chain of plain dict lookups. On a plain event the only
    other spelling of a path is a dotted key inside a nested object; the code
    checks for that only where a nested object is missing, and then returns None
    so the caller takes its general path (:func:`get_field`, or
    ``sentinel.detect.view.EventView``). ``result`` turns the names of the
    variables holding the raw values into the expression returned; ``env`` holds
    the names that expression uses.
    """
    names: dict[tuple[str, ...], str] = {(): "doc"}
    lines = ["def read(doc):"]

    def node(prefix: tuple[str, ...]) -> str:
        """The local variable holding the object at ``prefix`` (emitting its lookup the first time)."""
        if prefix in names:
            return names[prefix]
        parent = node(prefix[:-1])
        name = names[prefix] = f"n{len(names)}"
        lines.append(f"    {name} = {parent}.get({prefix[-1]!r})")
        lines.append(f"    if type({name}) is not dict:")
        if len(prefix) > 1:  # missing or a leaf here: the rest of the path may be one dotted key of the parent
            lines.append(f"        if {parent} is not _EMPTY and _dotted({parent}):")
            lines.append("            return None")
        lines.append(f"        {name} = _EMPTY")
        return name

    values = []
    for i, path in enumerate(paths):
        parts = tuple(path.split("."))
        lines.append(f"    v{i} = {node(parts[:-1])}.get({parts[-1]!r})")
        values.append(f"v{i}")
    lines.append(f"    return {result(values)}")
    namespace: dict[str, Any] = {"_EMPTY": {}, "_dotted": has_dotted_key, **(env or {})}
    exec(compile("\n".join(lines), f"<field reader {len(paths)}>", "exec"), namespace)
    return namespace["read"]
