"""Query DSL evaluation for the simulated cluster, following Elasticsearch's documented semantics.

Covers the clauses the store generates (``bool``, ``term``, ``terms`` with CIDR
on ``ip`` fields, ``prefix``, ``wildcard``, ``range``, ``exists``, phrase and
phrase-prefix ``match``/``multi_match``, ``ids``, ``match_all``/``match_none``),
with each field's mapped type from the store's own templates. Text is analysed
like the templates' folded analyzer (word tokens, lower case, accents folded).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from sentinel import ecs
from sentinel.store.es_templates import field_type

NUMERIC = {"long", "integer", "short", "byte", "unsigned_long", "float", "double"}


def matches(query: dict[str, Any], doc_id: str, source: dict[str, Any]) -> bool:
    """Whether the document satisfies ``query``."""
    (kind, spec), *_ = query.items()
    if kind == "match_all":
        return True
    if kind == "match_none":
        return False
    if kind == "ids":
        return doc_id in spec["values"]
    if kind == "bool":
        required = [*spec.get("filter", []), *spec.get("must", [])]
        if not all(matches(q, doc_id, source) for q in required):
            return False
        if any(matches(q, doc_id, source) for q in spec.get("must_not", [])):
            return False
        should = spec.get("should", [])
        need = spec.get("minimum_should_match", 0 if required else 1) if should else 0
        return sum(matches(q, doc_id, source) for q in should) >= need
    if kind == "multi_match":
        return any(_phrase(f, spec["query"], source, spec.get("type") == "phrase_prefix") for f in spec["fields"])
    if kind in ("match_phrase", "match_phrase_prefix"):
        (name, text), *_ = spec.items()
        return _phrase(name, text, source, kind == "match_phrase_prefix")
    if kind == "exists":
        return bool(_values(source, spec["field"]))
    (name, arg), *_ = spec.items()
    ftype = _type(name)
    values = _values(source, name)
    if kind == "term":
        return any(_equal(ftype, v, arg) for v in values)
    if kind == "terms":
        return any(_equal(ftype, v, a) for v in values for a in arg)
    if kind == "prefix":
        return any(isinstance(v, str) and v.startswith(arg) for v in values)
    if kind == "wildcard":
        pattern = _wildcard_regex(arg["value"] if isinstance(arg, dict) else arg)
        return any(isinstance(v, str) and pattern.fullmatch(v) for v in values)
    if kind == "range":
        return any(_in_range(ftype, v, arg) for v in values)
    raise ValueError(f"the simulator does not evaluate {kind} queries")


def _type(name: str) -> str | None:
    return field_type(name)


def _values(source: dict[str, Any], name: str) -> list[Any]:
    value = ecs.get_field(source, name)
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if v is not None]


def _equal(ftype: str | None, value: Any, wanted: Any) -> bool:
    if ftype == "ip":
        try:
            if isinstance(wanted, str) and "/" in wanted:
                return ipaddress.ip_address(value) in ipaddress.ip_network(wanted, strict=False)
            return ipaddress.ip_address(value) == ipaddress.ip_address(wanted)
        except ValueError:
            return False
    if ftype in NUMERIC or (ftype is None and isinstance(value, int | float) and not isinstance(value, bool)):
        try:
            return float(value) == float(wanted)
        except (TypeError, ValueError):
            return False
    if ftype == "date":
        return ecs.parse_ts(str(value)) == ecs.parse_ts(str(wanted))
    return str(value) == str(wanted) if not isinstance(value, dict | list) else False


def _in_range(ftype: str | None, value: Any, spec: dict[str, Any]) -> bool:
    def key(v: Any) -> Any:
        if ftype == "date":  # a bound in epoch_millis format is a number
            return datetime.fromtimestamp(v / 1000, UTC) if isinstance(v, int | float) else ecs.parse_ts(str(v))
        if ftype == "ip":
            return int(ipaddress.ip_address(v))
        if ftype in NUMERIC or isinstance(v, int | float):
            return float(v)
        return str(v)

    try:
        x = key(value)
        checks = {
            "gte": lambda b: x >= key(b),
            "gt": lambda b: x > key(b),
            "lte": lambda b: x <= key(b),
            "lt": lambda b: x < key(b),
        }
        return all(check(spec[op]) for op, check in checks.items() if op in spec)
    except (TypeError, ValueError):
        return False


def _wildcard_regex(value: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.S)


def _tokens(text: str) -> list[str]:
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.findall(r"\w+", folded.lower().replace("đ", "d"))


def _phrase(name: str, text: str, source: dict[str, Any], prefix: bool) -> bool:
    """A phrase (its tokens in order, next to each other) in a text field; ``.text`` sub-fields read the parent."""
    field = name.removesuffix(".text")
    wanted = _tokens(text)
    if not wanted:
        return False
    for value in _values(source, field):
        tokens = _tokens(str(value))
        for i in range(len(tokens) - len(wanted) + 1):
            head, last = tokens[i : i + len(wanted) - 1], tokens[i + len(wanted) - 1]
            if head == wanted[:-1] and (last.startswith(wanted[-1]) if prefix else last == wanted[-1]):
                return True
    return False
