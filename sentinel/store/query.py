"""The query language of ``sentinel search``, ``/api/events?q=`` and the console's search page.

One parser turns the text into an expression tree (:data:`Expr`); each store
translates the tree (SQL for SQLite, query DSL for Elasticsearch), so every
entry point accepts exactly the same queries. The grammar is documented in
``docs/query-language.md``::

    source.ip:203.0.113.7 AND http.response.status_code:[500 TO 599]
    (user.name:admin OR user.name:root) AND NOT event.outcome:success
    url.original:/wp-* "union select"

Terms side by side must all hold (an implicit AND). A malformed query raises
:class:`QuerySyntaxError` carrying the position (1-based) of the problem, so the
API can answer 400 and the CLI exit 2 with a pointer instead of searching for
something the analyst did not mean.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sentinel import ecs
from sentinel.store.base import EventQuery, InvalidQuery
from sentinel.store.expr import And, Expr, Not, Or, Range, Term

FIELD_COLON = re.compile(r"@?[A-Za-z_][\w.@-]*:")
OPERATORS = ("AND", "OR", "NOT")
# Characters that end a bare word (whitespace ends it too).
WORD_END = frozenset('()"')
BOUND_END = frozenset("]}")
RELATIVE = re.compile(r"now(?:-(\d+)([smhdw]))?")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# Why the parser stops, by code: the console shows each in the reader's language (``query_error_<code>`` in its
# catalogue, whose English a test holds to these), the CLI and the API show these.
REASONS = {
    "unmatched_close": "')' has no matching '('",
    "unexpected": "unexpected text",
    "term_after": "{op} needs a term after it",
    "term_before": "{op} needs a term before it",
    "too_many_terms": "too many terms: a query holds at most {limit}; narrow it or split it",
    "too_deep": "parentheses nested too deeply (50 levels at most)",
    "empty_parens": "empty parentheses: put a term inside",
    "unclosed_paren": "'(' is never closed",
    "value_after_colon": "give a value after the colon, e.g. {field}:something",
    "unclosed_quote": "the quote opened here is never closed",
    "trailing_backslash": "a backslash at the end escapes nothing",
    "expected_term": "expected a term",
    "free_text_wildcard": "in free text a wildcard works at the end of a word (admin*); use field:val*ue",
    "range_lower": "the range needs a lower bound",
    "range_upper": "the range needs an upper bound",
    "range_value": "the range needs a value",
    "bound_wildcard": "a range bound is a value or * (unbounded), not a wildcard",
    "range_form": "write a range as [low TO high] ({{}} excludes a bound, * leaves it open)",
    "unclosed_range": "the range opened here is never closed with ] or }}",
    "value_after_op": "give a value after {op}, e.g. {field}:{op}100",
    "op_star": "give a value after {op}, not *",
}


class QuerySyntaxError(InvalidQuery, ValueError):
    """A query that cannot be read; ``position`` is 1-based in the query text (0 when not about one place).

    ``code`` names the parser's reason in :data:`REASONS` (with ``values`` filling it), so a page can say it
    in another language; errors raised elsewhere carry only their text.
    """

    def __init__(
        self, reason: str, position: int = 0, text: str = "", code: str = "", values: dict[str, Any] | None = None
    ) -> None:
        self.reason = reason
        self.position = position
        self.text = text
        self.code = code
        self.values = values or {}
        super().__init__(f"position {position}: {reason}" if position else reason)

    def pointer(self) -> str:
        """The message, then the query with a caret under the position (for a terminal)."""
        if not self.position or not self.text:
            return str(self)
        return f"{self}\n  {self.text}\n  {' ' * (self.position - 1)}^"


def parse_query(text: str) -> EventQuery:
    """Parse a query into an :class:`EventQuery` whose ``where`` holds the tree (None: everything)."""
    return EventQuery(where=parse_expression(text))


def parse_expression(text: str) -> Expr | None:
    """The expression tree of ``text``; :class:`QuerySyntaxError` with a position when it cannot be read."""
    return _Parser(text).parse()


def is_prefix(value: str) -> bool:
    """Whether a wildcard value is a plain prefix (``abc*``, no other wildcard or escape)."""
    return value.endswith("*") and not any(c in "*?\\" for c in value[:-1])


def wildcard_parts(value: str) -> Iterator[tuple[str, bool]]:
    """A wildcard value as (piece, is_wildcard) pairs: literal characters and ``*``/``?``."""
    escaped = False
    for c in value:
        if escaped:
            yield c, False
            escaped = False
        elif c == "\\":
            escaped = True
        else:
            yield c, c in "*?"


def time_bound(text: str) -> datetime:
    """A time in a range: ISO 8601, a date, ``now`` or ``now-15m`` (s, m, h, d, w); ValueError otherwise."""
    m = RELATIVE.fullmatch(text)
    if m:
        back = int(m.group(1)) * UNITS[m.group(2)] if m.group(1) else 0
        return datetime.now(UTC) - timedelta(seconds=back)
    return ecs.parse_ts(text)


def number(text: str) -> float | None:
    """A range bound as a number, when it is one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


# Terms one query may hold: each becomes a clause (SQLite) or a query (Elasticsearch), whose own limits
# (expression depth, max_clause_count) would otherwise fail the search with an error instead of an answer.
MAX_TERMS = 256


class _Parser:
    """Recursive descent over the text; positions are 0-based inside, 1-based in errors."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0
        self.terms = 0

    # -- helpers ------------------------------------------------------------------------------------
    def fail(self, code: str, at: int | None = None, **values: Any) -> QuerySyntaxError:
        position = (self.pos if at is None else at) + 1
        return QuerySyntaxError(REASONS[code].format(**values), position, self.text, code, values)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_operator(self, name: str) -> bool:
        self.skip_space()
        end = self.pos + len(name)
        if self.text[self.pos : end] != name:
            return False
        return end == len(self.text) or self.text[end].isspace() or self.text[end] in "()"

    # -- grammar ------------------------------------------------------------------------------------
    def parse(self) -> Expr | None:
        if not self.peek():
            return None
        expr = self.or_(None)
        if self.peek() == ")":
            raise self.fail("unmatched_close")
        if self.peek():  # pragma: no cover - or_ consumes until ')' or the end
            raise self.fail("unexpected")
        return expr

    def or_(self, field: str | None) -> Expr:
        parts = [self.and_(field)]
        while self.at_operator("OR"):
            at = self.pos
            self.pos += 2
            if self.peek() in ("", ")") or self.at_operator("OR") or self.at_operator("AND"):
                raise self.fail("term_after", at, op="OR")
            parts.append(self.and_(field))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self, field: str | None) -> Expr:
        parts = [self.unary(field)]
        while True:
            c = self.peek()
            if c in ("", ")") or self.at_operator("OR"):
                break
            if self.at_operator("AND"):
                at = self.pos
                self.pos += 3
                if self.peek() in ("", ")") or self.at_operator("OR") or self.at_operator("AND"):
                    raise self.fail("term_after", at, op="AND")
            parts.append(self.unary(field))
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self, field: str | None) -> Expr:
        if self.at_operator("NOT"):
            at = self.pos
            self.pos += 3
            if self.peek() in ("", ")") or self.at_operator("OR") or self.at_operator("AND"):
                raise self.fail("term_after", at, op="NOT")
            return Not(self.unary(field))
        for op in ("AND", "OR"):
            if self.at_operator(op):
                raise self.fail("term_before", op=op)
        return self.primary(field)

    def primary(self, field: str | None) -> Expr:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.fail("too_many_terms", limit=MAX_TERMS)
        c = self.peek()
        if c == "(":
            return self.group(field)
        if c == ")":
            raise self.fail("unmatched_close")
        if c == '"':
            return Term(field, self.quoted(), "exact", phrase=True)
        if field is None:
            m = FIELD_COLON.match(self.text, self.pos)
            if m and not self.text.startswith("//", m.end()):
                name = m.group()[:-1]
                self.pos = m.end()
                return self.value(name, m.start())
        if field is not None and c in "[{<>":
            return self.value(field, self.pos)
        return self.word(field)

    def group(self, field: str | None) -> Expr:
        start = self.pos
        self.depth += 1
        if self.depth > 50:
            raise self.fail("too_deep")
        self.pos += 1
        if self.peek() == ")":
            raise self.fail("empty_parens", start)
        if not self.peek():
            raise self.fail("unclosed_paren", start)
        expr = self.or_(field)
        if self.peek() != ")":
            raise self.fail("unclosed_paren", start)
        self.pos += 1
        self.depth -= 1
        return expr

    def value(self, field: str, field_at: int) -> Expr:
        """What follows ``field:``: a value, a phrase, a range, a comparison or a parenthesised group."""
        if self.pos >= len(self.text) or self.text[self.pos].isspace():
            raise self.fail("value_after_colon", field_at, field=field)
        c = self.text[self.pos]
        if c == "(":
            return self.group(field)
        if c == '"':
            return Term(field, self.quoted(), "exact", phrase=True)
        if c in "[{":
            return self.range(field)
        if c in "<>":
            return self.comparison(field)
        if c == ")":
            raise self.fail("value_after_colon", field_at, field=field)
        return self.word(field)

    def quoted(self) -> str:
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if c == '"':
                self.pos += 1
                return "".join(out)
            out.append(c)
            self.pos += 1
        raise self.fail("unclosed_quote", start)

    def raw_word(self, ends: frozenset[str]) -> tuple[str, bool]:
        """Read a bare word; returns it in wildcard syntax (escapes kept) and whether it has a wildcard."""
        out: list[str] = []
        wild = False
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c.isspace() or c in ends:
                break
            if c == "\\":
                if self.pos + 1 >= len(self.text):
                    raise self.fail("trailing_backslash")
                nxt = self.text[self.pos + 1]
                out.append("\\" + nxt if nxt in "*?\\" else nxt)
                self.pos += 2
                continue
            if c in "*?":
                wild = True
            out.append(c)
            self.pos += 1
        return "".join(out), wild

    def word(self, field: str | None) -> Term:
        start = self.pos
        raw, wild = self.raw_word(WORD_END)
        if not raw:  # pragma: no cover - callers check for a word character first
            raise self.fail("expected_term")
        if not wild:
            return Term(field, _unescape(raw))
        if field is None:
            if not is_prefix(raw) or raw == "*":
                raise self.fail("free_text_wildcard", start)
            return Term(None, raw, "wildcard")
        if raw == "*":
            return Term(field, "", "exists")
        return Term(field, raw, "wildcard")

    def bound(self, what: str) -> str | None:
        """One bound of a range; ``what`` (lower, upper, value) names it in the reason when it is missing."""
        self.skip_space()
        if self.pos >= len(self.text):
            raise self.fail(f"range_{what}")
        if self.text[self.pos] == '"':
            return self.quoted()
        start = self.pos
        raw, wild = self.raw_word(BOUND_END | WORD_END)
        if raw == "*":
            return None
        if not raw:
            raise self.fail(f"range_{what}")
        if wild:
            raise self.fail("bound_wildcard", start)
        return _unescape(raw)

    def range(self, field: str) -> Range:
        start = self.pos
        include_low = self.text[self.pos] == "["
        self.pos += 1
        low = self.bound("lower")
        if not self.at_operator("TO"):
            raise self.fail("range_form", start)
        self.pos += 2
        high = self.bound("upper")
        self.skip_space()
        if self.pos >= len(self.text) or self.text[self.pos] not in BOUND_END:
            raise self.fail("unclosed_range", start)
        include_high = self.text[self.pos] == "]"
        self.pos += 1
        return Range(field, low, high, include_low, include_high)

    def comparison(self, field: str) -> Range:
        start = self.pos
        op = ">=" if self.text.startswith(">=", self.pos) else "<=" if self.text.startswith("<=", self.pos) else None
        op = op or self.text[self.pos]
        self.pos += len(op)
        if self.pos >= len(self.text) or self.text[self.pos].isspace():
            raise self.fail("value_after_op", start, op=op, field=field)
        value = self.bound("value")
        if value is None:
            raise self.fail("op_star", start, op=op)
        if op.startswith(">"):
            return Range(field, value, None, include_low=op == ">=")
        return Range(field, None, value, include_high=op == "<=")


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw)
