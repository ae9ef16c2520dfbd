"""Matching one Sigma value (after its modifiers) against the value of one event field.

pySigma has already applied the value modifiers when a rule is parsed: ``contains``
became wildcards, ``base64offset``/``windash`` became an expansion of
alternatives, ``wide``/``utf16*`` re-encoded the text, ``re`` produced a regular
expression with its flags, ``cidr``/``lt``/``fieldref``/``exists`` produced typed
values. This module turns each of those typed values into a predicate.

Semantics (shared with :mod:`sentinel.detect.compile`, checked against pySigma's
SQLite backend in ``tests/detect/test_oracle.py``):

* Strings match case-insensitively (``str.lower``) unless ``cased``; ``*`` and
  ``?`` are wildcards, the whole value must match (``contains`` etc. add ``*``).
* Numbers and booleans are matched as their text (``200``, ``true``) by string
  patterns; numeric values match numbers and numeric strings by value.
* A list value matches when any element matches.
* An absent field, ``None`` and an empty list are "null": they match only ``null``
  and ``exists: false``, and never a string, number or pattern.
* Regular expressions are searched (not anchored) in the original, un-lowered text,
  with Python ``re`` syntax and semantics, but through the ``regex`` engine with a
  time box: a backtracking blow-up (``(a+)+$``, or a pack pattern meeting a crafted
  URL) gives up after :data:`REGEX_TIMEOUT` seconds of its own searching (a search that ran out of
  the box while its thread waited for a core is tried again), counts as no match, and is logged and
  counted in :data:`regex_timeouts`, instead of stalling detection.
"""

from __future__ import annotations

import ipaddress
import logging
import operator
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache
from typing import Any

import regex
from sigma.modifiers import SigmaWideModifier, modifier_mapping
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from sentinel import ecs
from sentinel.errors import Invalid

# A matcher reads a flattened event and a per-event cache of lowered field texts.
Matcher = Callable[[Mapping[str, Any], dict[str, Any]], bool]

# The Sigma specification names the UTF-16LE modifier ``utf16le``; pySigma 1.5 knows it only as
# ``wide``. Registering the specification's name lets rules written to the spec load.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)

ALL_FIELDS = "\0all"  # cache key for the texts of every field (keyword detections)
MISSING = object()
_NUMERIC = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*")

log = logging.getLogger(__name__)

# Seconds one regular-expression search may take on one value before it gives up.
REGEX_TIMEOUT = 0.05
# Searches that ran out of the box while this thread did not spend it (waiting for a core) are tried again.
REGEX_RETRIES = 4
# Searches that gave up, per pattern (read by tests and operators; a rising count names a pattern to fix).
regex_timeouts: Counter[str] = Counter()


class CompileError(Invalid):
    """A rule uses something the engine cannot evaluate; the message says what."""


def text_of(value: Any) -> str | tuple[str, ...] | None:
    """The text(s) string patterns see for an event value; None for null values."""
    t = type(value)
    if t is str:
        return value
    if value is None:
        return None
    if t is bool:
        return "true" if value else "false"
    if t is int or t is float:
        return str(value)
    if t is list or t is tuple:
        out: list[str] = []
        for item in value:
            sub = text_of(item)
            if isinstance(sub, str):
                out.append(sub)
            elif sub:
                out.extend(sub)
        return tuple(out) or None
    if isinstance(value, Mapping):
        return None  # an empty object left by flattening
    return str(value)


def lowered(value: Any) -> str | tuple[str, ...] | None:
    """:func:`text_of`, lower-cased (what case-insensitive patterns are matched against)."""
    text = text_of(value)
    if text is None or type(text) is str:
        return text.lower() if text is not None else None
    return tuple(t.lower() for t in text)


def cached_lower(flat: Mapping[str, Any], low: dict[str, Any], field: str) -> str | tuple[str, ...] | None:
    """Lowered text of ``field``, computed once per event and kept in ``low``."""
    text = low.get(field, MISSING)
    if text is MISSING:
        text = low[field] = lowered(flat.get(field))
    return text


def all_lowered(flat: Mapping[str, Any], low: dict[str, Any]) -> tuple[str, ...]:
    """Lowered texts of every field of the event (for keyword detections)."""
    texts = low.get(ALL_FIELDS)
    if texts is None:
        out: list[str] = []
        for value in flat.values():
            t = lowered(value)
            if type(t) is str:
                out.append(t)
            elif t:
                out.extend(t)
        texts = low[ALL_FIELDS] = tuple(out)
    return texts


def number_of(value: Any) -> int | float | None:
    """The numeric value of an event value (numbers and numeric strings), else None."""
    t = type(value)
    if t is int or t is float:
        return value
    if t is str and _NUMERIC.fullmatch(value):
        f = float(value)
        return int(f) if f.is_integer() else f
    return None


def _any_value(value: Any, pred: Callable[[Any], bool]) -> bool:
    if type(value) is list:
        return any(_any_value(v, pred) for v in value)
    return value is not None and pred(value)


def is_null(value: Any) -> bool:
    return value is None or (type(value) is list and not value) or (isinstance(value, Mapping) and not value)


# --- strings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StringPattern:
    """One Sigma string value as a match plan: exact, prefix, suffix, contains, any or wildcard."""

    kind: str  # "exact" | "prefix" | "suffix" | "contains" | "any" | "glob"
    text: str  # the literal (lowered unless cased); for "glob" a regular expression
    cased: bool
    literal: str  # longest literal run the value requires (lowered), "" if none


def resolve_placeholders(value: SigmaString, placeholders: Mapping[str, list[str]]) -> list[SigmaString]:
    """Expand ``%name%`` placeholders (the ``expand`` modifier) into one string per value."""
    if not value.contains_placeholder():
        return [value]
    return list(value.replace_placeholders(lambda p: map(SigmaString, placeholder_values(p.name, placeholders))))


def placeholder_values(name: str, placeholders: Mapping[str, list[str]]) -> list[str]:
    """The values of placeholder ``%name%``; a rule naming an undefined one cannot be evaluated."""
    if name not in placeholders:
        raise CompileError(f"placeholder %{name}% (expand modifier) has no values; set them in Engine placeholders")
    return list(placeholders[name])


def string_pattern(value: SigmaString, cased: bool) -> StringPattern:
    """Plan the match of a Sigma string (wildcards ``*``/``?``, escapes already parsed by pySigma)."""
    parts: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise CompileError(f"unresolved placeholder %{part.name}%")
        if isinstance(part, str):
            part = part if cased else part.lower()
            if parts and isinstance(parts[-1], str):
                parts[-1] += part
            else:
                parts.append(part)
        else:
            parts.append(part)
    literal = max((p.lower() for p in parts if isinstance(p, str)), key=len, default="")
    star, one = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
    if not parts:
        return StringPattern("exact", "", cased, "")
    if all(p is star for p in parts):
        return StringPattern("any", "", cased, "")
    if one not in parts:
        stars = [i for i, p in enumerate(parts) if p is star]
        inner = [p for p in parts if p is not star]
        if len(inner) == 1:
            lit = inner[0]
            if not stars:
                return StringPattern("exact", lit, cased, literal)
            if stars == [len(parts) - 1]:
                return StringPattern("prefix", lit, cased, literal)
            if stars == [0]:
                return StringPattern("suffix", lit, cased, literal)
            if stars == [0, 2]:
                return StringPattern("contains", lit, cased, literal)
    rx = "".join(".*" if p is star else "." if p is one else re.escape(p) for p in parts)
    return StringPattern("glob", rx, cased, literal)


def string_check(patterns: list[StringPattern]) -> Callable[[str], bool]:
    """One test for "the text matches any of ``patterns``".

    Alternatives are merged: exact values into a set, prefixes and suffixes into
    one ``startswith``/``endswith`` call, wildcards into one regex.
    """
    exact = frozenset(p.text for p in patterns if p.kind == "exact")
    prefixes = tuple(p.text for p in patterns if p.kind == "prefix")
    suffixes = tuple(p.text for p in patterns if p.kind == "suffix")
    contains = tuple(p.text for p in patterns if p.kind == "contains")
    globs = [p.text for p in patterns if p.kind == "glob"]
    if any(p.kind == "any" for p in patterns):
        return lambda s: True
    rx = re.compile("|".join(f"(?:{g})" for g in globs), re.DOTALL) if globs else None
    checks: list[Callable[[str], bool]] = []
    if exact:
        checks.append(exact.__contains__)
    if prefixes:
        checks.append(lambda s: s.startswith(prefixes))
    if suffixes:
        checks.append(lambda s: s.endswith(suffixes))
    if len(contains) == 1:
        (c,) = contains
        checks.append(lambda s: c in s)
    elif contains:
        checks.append(lambda s: any(c in s for c in contains))
    if rx is not None:
        checks.append(lambda s: rx.fullmatch(s) is not None)
    if len(checks) == 1:
        return checks[0]
    return lambda s: any(c(s) for c in checks)


def string_matcher(field: str, patterns: list[StringPattern]) -> Matcher:
    """Match any of ``patterns`` (all cased, or all not) against ``field``."""
    check = string_check(patterns)
    if patterns[0].cased:

        def match_cased(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
            text = text_of(flat.get(field))
            if text is None:
                return False
            if type(text) is str:
                return check(text)
            return any(check(t) for t in text)

        return match_cased

    def match(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
        text = low.get(field, MISSING)
        if text is MISSING:
            text = low[field] = lowered(flat.get(field))
        if text is None:
            return False
        if type(text) is str:
            return check(text)
        return any(check(t) for t in text)

    return match


def keyword_matcher(patterns: list[StringPattern]) -> Matcher:
    """Full-text (keyword) detection: the text of any field matches any of ``patterns``."""
    check = string_check(patterns)
    if patterns[0].cased:

        def match_cased(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
            texts = text_of(list(flat.values()))
            return texts is not None and any(check(t) for t in ((texts,) if type(texts) is str else texts))

        return match_cased
    return lambda flat, low: any(check(t) for t in all_lowered(flat, low))


# --- other value types -----------------------------------------------------------------------


def number_matcher(field: str, number: int | float) -> Matcher:
    def match(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
        return _any_value(flat.get(field), lambda v: type(v) is not bool and number_of(v) == number)

    return match


def bool_matcher(field: str, wanted: bool) -> Matcher:
    text = "true" if wanted else "false"

    def pred(v: Any) -> bool:
        if type(v) is bool:
            return v is wanted
        if type(v) is int:
            return v == int(wanted)
        return isinstance(v, str) and v.lower() == text

    def match(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
        return _any_value(flat.get(field), pred)

    return match


def null_matcher(field: str) -> Matcher:
    def match(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
        return is_null(flat.get(field))

    return match


def exists_matcher(field: str, wanted: bool) -> Matcher:
    def match(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
        return is_null(flat.get(field)) is not wanted

    return match


_COMPARE = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}


def compare_matcher(field: str, op: CompareOperators, number: int | float) -> Matcher:
    fn = _COMPARE[op]

    def pred(v: Any) -> bool:
        n = number_of(v) if type(v) is not bool else None
        return n is not None and fn(n, number)

    def match(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
        return _any_value(flat.get(field), pred)

    return match


def regex_flags(value: SigmaRegularExpression) -> int:
    """Python ``re`` flags for the Sigma regex flags (``i``, ``m``, ``s``)."""
    flags = 0
    for flag in value.flags:
        flags |= SigmaRegularExpression.sigma_to_python_flags[flag]
    return flags


def regex_matcher(field: str | None, value: SigmaRegularExpression) -> Matcher:
    pattern = str(value.regexp)
    try:
        re.compile(pattern, regex_flags(value))  # the accepted syntax stays Python's re
        rx = regex.compile(pattern, regex_flags(value))
    except (re.error, regex.error) as exc:
        raise CompileError(f"regular expression {pattern!r} is invalid: {exc}") from None

    def found(t: str) -> bool:
        try:
            return rx.search(t, timeout=REGEX_TIMEOUT) is not None
        except TimeoutError:
            pass
        # The box is wall-clock time: on a busy machine a thread can wait longer than that for a core, or
        # for the interpreter, in the middle of an honest search. Try again while this thread has not
        # itself spent the box searching; only a search that really runs that long counts as a blow-up.
        for _ in range(REGEX_RETRIES):
            cpu = time.thread_time()
            try:
                return rx.search(t, timeout=REGEX_TIMEOUT) is not None
            except TimeoutError:
                if time.thread_time() - cpu >= REGEX_TIMEOUT / 2:
                    break
        regex_timeouts[pattern] += 1
        n = regex_timeouts[pattern]
        if n & (n - 1) == 0:  # 1st, 2nd, 4th, 8th ... time: visible without flooding the log
            log.warning(
                "regular expression %r gave up after %gs on a %d-character value (%d times so far); "
                "treated as no match: simplify the pattern (nested repetition backtracks)",
                pattern,
                REGEX_TIMEOUT,
                len(t),
                n,
            )
        return False

    def search(text: str | tuple[str, ...] | None) -> bool:
        if text is None:
            return False
        if type(text) is str:
            return found(text)
        return any(found(t) for t in text)

    if field is None:
        return lambda flat, low: search(text_of(list(flat.values())))
    return lambda flat, low: search(text_of(flat.get(field)))


@lru_cache(maxsize=65536)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def cidr_matcher(field: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> Matcher:
    def pred(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        ip = _ip(v)
        return ip is not None and any(ip.version == n.version and ip in n for n in networks)

    def match(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
        return _any_value(flat.get(field), pred)

    return match


def fieldref_matcher(field: str, other: str, starts: bool, ends: bool) -> Matcher:
    if starts and ends:

        def rel(a: str, b: str) -> bool:
            return b in a
    elif starts:

        def rel(a: str, b: str) -> bool:
            return a.startswith(b)
    elif ends:

        def rel(a: str, b: str) -> bool:
            return a.endswith(b)
    else:

        def rel(a: str, b: str) -> bool:
            return a == b

    def match(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
        a = cached_lower(flat, low, field)
        b = cached_lower(flat, low, other)
        if a is None or b is None:
            return False
        left = (a,) if type(a) is str else a
        right = (b,) if type(b) is str else b
        return any(rel(x, y) for x in left for y in right)

    return match


_TS_PARTS = {"MINUTE": "%M", "HOUR": "%H", "DAY": "%d", "WEEK": "%W", "MONTH": "%m", "YEAR": "%Y"}


def timestamp_part_matcher(field: str, part: str, number: int) -> Matcher:
    fmt = _TS_PARTS[part]

    def pred(v: Any) -> bool:
        try:
            return int(ecs.parse_ts(v).astimezone(UTC).strftime(fmt)) == number
        except (ValueError, OverflowError, OSError):
            return False

    def match(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
        return _any_value(flat.get(field), pred)

    return match
