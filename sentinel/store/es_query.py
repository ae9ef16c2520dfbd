"""Event queries in Elasticsearch's query DSL: filters, free text, time and query expressions.

Pure functions (unit-tested without a cluster, and against the simulator in
``tests/store/es_sim.py`` with the same tests as SQLite). Each term follows the
mapped type of its field: numbers and addresses take whole values, prefixes and
ranges; keyword and wildcard fields take any wildcard; text fields take
phrases and prefixes. Everything is in filter context: no scoring.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sentinel import ecs
from sentinel.store.base import EventQuery
from sentinel.store.es_templates import field_type
from sentinel.store.expr import And, Expr, Not, Or, Range
from sentinel.store.query import QuerySyntaxError, is_prefix, number, time_bound, wildcard_parts

# Where free-text words are looked for (the text variants of the searchable fields).
TEXT_SEARCH_FIELDS = ["event.original", "message", "url.original.text", "user_agent.original.text", "error.message"]
NUMERIC = {"long", "integer", "short", "byte", "unsigned_long"}


def _numeric_prefix(name: str, digits: str) -> dict[str, Any]:
    """``4*`` on a number: every non-negative integer whose decimal form starts with 4."""
    if not digits.isdigit():
        return {"match_none": {}}
    p = int(digits)
    ranges = [{"range": {name: {"gte": p * 10**k, "lt": (p + 1) * 10**k}}} for k in range(19 - len(digits))]
    if p == 0:  # "0*" is only 0 itself (no leading zeros in numbers)
        ranges = [{"term": {name: 0}}]
    return {"bool": {"should": ranges, "minimum_should_match": 1}}


def _ip_prefix(name: str, text: str) -> dict[str, Any]:
    """``10.1.*`` on an IPv4 field as CIDR blocks, so it matches what a text prefix would."""
    *whole, partial = text.split(".")
    valid_whole = all(p.isdigit() and int(p) < 256 for p in whole)
    if len(whole) > 3 or not valid_whole or not (partial.isdigit() or partial == ""):
        return {"match_none": {}}
    octets = [int(p) for p in whole]
    if not whole and partial == "":
        return {"exists": {"field": name}}
    blocks = [[*octets, v] for v in range(256) if str(v).startswith(partial)] if partial else [octets]
    if not blocks:
        return {"match_none": {}}
    return {"terms": {name: [".".join(map(str, b + [0] * (4 - len(b)))) + f"/{8 * len(b)}" for b in blocks]}}


def _exact(name: str, ftype: str | None, value: str) -> dict[str, Any]:
    if ftype in NUMERIC:
        try:
            return {"term": {name: int(value)}}
        except ValueError:
            return {"match_none": {}}
    if ftype == "ip":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return {"match_none": {}}
    if ftype == "date":
        try:
            ecs.parse_ts(value)
        except ValueError:
            return {"match_none": {}}
    if ftype == "text":
        return {"match_phrase": {name: value}}
    return {"term": {name: value}}


def _prefix(name: str, ftype: str | None, value: str) -> dict[str, Any]:
    if ftype in NUMERIC:
        return _numeric_prefix(name, value)
    if ftype == "ip":
        return _ip_prefix(name, value)
    if ftype == "text":
        return {"match_phrase_prefix": {name: value}}
    if ftype in (None, "keyword", "wildcard", "constant_keyword"):
        return {"prefix": {name: value}}
    raise QuerySyntaxError(f"{name} is a {ftype} field: give a whole value, a prefix (*) works on text and numbers")


def event_query(q: EventQuery) -> dict[str, Any]:
    """The Elasticsearch query for an :class:`EventQuery`."""
    filters: list[dict[str, Any]] = []
    if q.since is not None or q.until is not None:
        rng: dict[str, Any] = {"format": "strict_date_optional_time"}
        if q.since is not None:
            rng["gte"] = ecs.format_ts(q.since)
        if q.until is not None:
            rng["lt"] = ecs.format_ts(q.until)
        filters.append({"range": {"@timestamp": rng}})
    for name, values in q.filters.items():
        ftype = field_type(name)
        ors = [_prefix(name, ftype, v[:-1]) if v.endswith("*") else _exact(name, ftype, v) for v in values]
        if ors:
            filters.append(ors[0] if len(ors) == 1 else _any(ors))
    for word in (q.text or "").split():
        filters.append(_text_match(word, "phrase"))
    if q.where is not None:
        filters.append(expression_query(q.where))
    return {"bool": {"filter": filters}} if filters else {"match_all": {}}


def expression_query(expr: Expr) -> dict[str, Any]:
    """One query expression (``sentinel.store.query``) as a query clause."""
    if isinstance(expr, And):
        return {"bool": {"filter": [expression_query(p) for p in expr.parts]}}
    if isinstance(expr, Or):
        return _any([expression_query(p) for p in expr.parts])
    if isinstance(expr, Not):
        return {"bool": {"must_not": [expression_query(expr.part)]}}
    if isinstance(expr, Range):
        return _range(expr)
    if expr.field is None:
        if expr.kind == "wildcard":
            return _text_match(expr.value[:-1], "phrase_prefix")
        return _text_match(expr.value, "phrase")
    ftype = field_type(expr.field)
    if expr.kind == "exists":
        return {"exists": {"field": expr.field}}
    if expr.kind == "wildcard":
        if is_prefix(expr.value):
            return _prefix(expr.field, ftype, expr.value[:-1])
        return _wildcard(expr.field, ftype, expr.value)
    return _exact(expr.field, ftype, expr.value)


def _any(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def _text_match(text: str, kind: str) -> dict[str, Any]:
    return {"multi_match": {"query": text, "type": kind, "fields": TEXT_SEARCH_FIELDS}}


def _wildcard(name: str, ftype: str | None, value: str) -> dict[str, Any]:
    if ftype in (None, "keyword", "wildcard", "constant_keyword"):
        return {"wildcard": {name: {"value": value}}}
    literal = "".join(piece for piece, _ in wildcard_parts(value))
    raise QuerySyntaxError(
        f"{name} is a {ftype} field: a wildcard works at the end of its value only ({literal[:20]}*), or give a range"
    )


def _range(r: Range) -> dict[str, Any]:
    ftype = field_type(r.field)
    bounds: list[Any] = [r.low, r.high]
    if ftype == "date":
        try:
            bounds = [ecs.format_ts(time_bound(b)) if b is not None else None for b in bounds]
        except ValueError:
            raise QuerySyntaxError(
                f"{r.field} is a date field: give times as ISO 8601 (2026-07-01T08:00:00Z) or now-15m"
            ) from None
    elif ftype in NUMERIC or ftype == "float" or (ftype is None and all(number(b) is not None for b in bounds if b)):
        if any(b is not None and number(b) is None for b in bounds):
            raise QuerySyntaxError(f"{r.field} is a number field: give numbers as range bounds")
        bounds = [number(b) if b is not None else None for b in bounds]
    elif ftype == "ip":
        for b in bounds:
            if b is not None:
                try:
                    ipaddress.ip_address(b)
                except ValueError:
                    raise QuerySyntaxError(f"{r.field} is an address field: give addresses as range bounds") from None
    rng: dict[str, Any] = {}
    if bounds[0] is not None:
        rng["gte" if r.include_low else "gt"] = bounds[0]
    if bounds[1] is not None:
        rng["lte" if r.include_high else "lt"] = bounds[1]
    if not rng:
        return {"exists": {"field": r.field}}
    if ftype == "date":
        rng["format"] = "strict_date_optional_time"
    return {"range": {r.field: rng}}
