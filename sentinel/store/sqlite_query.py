"""Event queries as SQL for the embedded store: filters, free text, time and query expressions.

Hot fields are read from their indexed columns as plain comparisons (so
SQLite can use the index), fields of ``SPLIT_COLUMNS`` from their text and
number columns, others with ``json_extract``; free text goes to the FTS5 index
(``events_fts``). A condition on a missing field is NULL, which
AND and OR treat as false; under NOT it is made false first (``COALESCE``), so
``NOT field:value`` also matches events without the field, as in Elasticsearch.
"""

from __future__ import annotations

from typing import Any

from sentinel.store.base import EventQuery
from sentinel.store.expr import And, Expr, Not, Or, Range, Term
from sentinel.store.query import QuerySyntaxError, is_prefix, number, time_bound, wildcard_parts
from sentinel.store.sqlite_schema import COLUMNS, SPLIT_COLUMNS

TEXT_MATCH = "seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)"

# How likely SQLite is told a condition on a SPLIT_COLUMNS field is (``likelihood``). Without statistics
# it takes an equality as selective (a few rows) and a range as a quarter of the table, none of which
# holds for a status code (200: most events, 404: a few in a thousand). Told it matches many events:
# - beside an address, a user name or free text (an index of their own, a few events), it keeps their
#   index, as when the status was JSON, rather than read every event with that status;
# - a term alone still reads the status index, newest first, with no sort;
# - a page of a range or a wildcard (4*, [400 TO 499], >=500) walks the events newest first as before,
#   reading the column, not the JSON; taking the index would sort every match first ([200 TO 299]: most
#   of the store, seconds at a million events);
# - counts read the index alone (tests/core/test_sqlite_store.py, bench/RESULTS.md).
SPLIT_TERM_LIKELIHOOD = 0.9


def event_where(q: EventQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (with its leading keyword, or empty) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if q.since is not None:
        clauses.append("ts >= ?")
        params.append(int(q.since.timestamp() * 1000))
    if q.until is not None:
        clauses.append("ts < ?")
        params.append(int(q.until.timestamp() * 1000))
    for fname, values in q.filters.items():
        ors = []
        for v in values:
            # a filter value is literal but for a trailing * (a prefix)
            term = Term(fname, _literal(v[:-1]) + "*", "wildcard") if v.endswith("*") else Term(fname, v)
            ors.append(_condition(term, params))
        if ors:
            clauses.append("(" + " OR ".join(ors) + ")")
    if q.text and q.text.strip():
        match = _fts_words(q.text)
        if match:
            clauses.append(TEXT_MATCH)
            params.append(match)
        else:  # only characters the index never holds (NUL): nothing can contain them
            clauses.append("0")
    if q.where is not None:
        clauses.append(_condition(q.where, params))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _is_column(field: str) -> bool:
    return field == "event.id" or field in COLUMNS


def _column(field: str) -> str:
    """The SQL reading ``field``: its hot column, or the JSON path (field names are checked by the parser)."""
    col = "id" if field == "event.id" else COLUMNS.get(field)
    if col:
        return col
    return json_value(field)


def json_value(field: str) -> str:
    """``field`` read from the stored document."""
    path = "$." + ".".join(f'"{p}"' for p in field.split("."))
    return f"json_extract(doc, '{path}')"


def as_text(raw: str) -> str:
    """A value as terms, wildcards and ranges between texts compare it."""
    return f"CAST({raw} AS TEXT)"


def as_number(raw: str) -> str:
    """A value as a range between numbers compares it: a number, or text that reads as one ("500"), else NULL."""
    return (
        f"(CASE WHEN typeof({raw}) IN ('integer', 'real') THEN {raw} "
        f"WHEN typeof({raw}) = 'text' AND {raw} GLOB '*[0-9]*' AND NOT {raw} GLOB '*[^0-9.eE+-]*' "
        f"THEN CAST({raw} AS REAL) END)"
    )


def _likely(field: str, condition: str) -> str:
    """``condition`` (on ``field``) with the likelihood SQLite is told, if ``field`` is in SPLIT_COLUMNS."""
    return f"likelihood({condition}, {SPLIT_TERM_LIKELIHOOD})" if field in SPLIT_COLUMNS else condition


def _condition(expr: Expr, params: list[Any]) -> str:
    if isinstance(expr, And):
        return "(" + " AND ".join(_condition(p, params) for p in expr.parts) + ")"
    if isinstance(expr, Or):
        return "(" + " OR ".join(_condition(p, params) for p in expr.parts) + ")"
    if isinstance(expr, Not):
        return f"(NOT COALESCE({_condition(expr.part, params)}, 0))"
    if isinstance(expr, Range):
        return _range(expr, params)
    if expr.field is None:
        return _text(expr, params)
    split = SPLIT_COLUMNS.get(expr.field)
    value = split[0] if split else _column(expr.field)  # NULL exactly where the JSON value is
    if expr.kind == "exists":
        return f"({value} IS NOT NULL)"
    # hot and split columns hold text already (and keep their index usable); JSON values may be numbers
    text = value if split or _is_column(expr.field) else as_text(value)
    if expr.kind == "wildcard":
        params.append(_glob(expr.value))
        condition = f"({text} GLOB ?)"
    else:
        params.append(expr.value)
        condition = f"({text} = ?)"
    return _likely(expr.field, condition)


def _range(r: Range, params: list[Any]) -> str:
    """Times on ``@timestamp``, numbers when both bounds are numbers, text order otherwise."""
    if r.field == "@timestamp":
        value = "ts"
        bounds = [_ms(b) if b is not None else None for b in (r.low, r.high)]
    elif all(b is None or number(b) is not None for b in (r.low, r.high)):
        # a number, or text that reads as one ("500"); anything else is outside every numeric range
        split = SPLIT_COLUMNS.get(r.field)
        value = split[1] if split else as_number(_column(r.field))
        bounds = [number(b) if b is not None else None for b in (r.low, r.high)]
    else:
        split = SPLIT_COLUMNS.get(r.field)
        value = split[0] if split else as_text(_column(r.field))
        bounds = [r.low, r.high]
    parts = []
    for bound, op in ((bounds[0], ">=" if r.include_low else ">"), (bounds[1], "<=" if r.include_high else "<")):
        if bound is not None:
            parts.append(_likely(r.field, f"{value} {op} ?"))
            params.append(bound)
    if not parts:
        return f"({value} IS NOT NULL)"
    return "(" + " AND ".join(parts) + ")"


def _ms(text: str) -> int:
    try:
        return int(time_bound(text).timestamp() * 1000)
    except ValueError:
        raise QuerySyntaxError(f"{text!r} is not a time: use ISO 8601 (2026-07-01T08:00:00Z) or now-15m") from None


def _text(term: Term, params: list[Any]) -> str:
    if term.kind == "wildcard" and is_prefix(term.value):
        match = _fts_words(term.value[:-1])
        match = match + "*" if match and " " not in match else match
    elif term.phrase:
        words = _words(term.value)
        match = '"' + " ".join(words).replace('"', '""') + '"' if words else ""
    else:
        match = _fts_words(term.value)
    if not match:
        return "0"
    params.append(match)
    return TEXT_MATCH


def _words(text: str) -> list[str]:
    return [w for w in text.replace("\x00", " ").split() if w]


def _fts_words(text: str) -> str:
    # Quote every word so FTS5 operators in user input are taken literally; FTS5 ends a query at NUL.
    return " ".join('"' + w.replace('"', '""') + '"' for w in _words(text))


def _literal(text: str) -> str:
    """Text as a wildcard value that matches only itself."""
    return "".join("\\" + c if c in "*?\\" else c for c in text)


def _glob(value: str) -> str:
    """A wildcard value as a GLOB pattern (``[`` and literal ``*``/``?`` bracketed)."""
    out = []
    for piece, wild in wildcard_parts(value):
        out.append(piece if wild else (f"[{piece}]" if piece in "*?[" else piece))
    return "".join(out)
