"""Compile a pySigma rule (after its processing pipeline) into a matcher over flattened events.

pySigma parses the detection and condition (``1 of selection_*``, ``all of them``,
``and``/``or``/``not``, parentheses) into a tree of ``ConditionAND``/``OR``/``NOT``
whose leaves are field/value or value-only (keyword) expressions. Each leaf
becomes a predicate from :mod:`sentinel.detect.values`; alternatives on the same
field are merged into a single test. Alongside the matcher the compiler derives
the rule's *need*: literals one of which must occur in the event for the rule to
possibly match, which the prefilter (:mod:`sentinel.detect.prefilter`) uses to
skip rules without evaluating them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaLogSource, SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from sentinel.detect import values as V
from sentinel.detect.needs import (
    SEP,
    Need,
    all_of,
    any_of,
    cidr_need,
    literal_need,
    number_need,
    regex_may_fold,
    regex_need,
)
from sentinel.detect.values import CompileError, Matcher, StringPattern


@dataclass
class CompiledRule:
    """A Sigma rule ready to evaluate: ``matches(event)`` on a nested or flattened ECS event."""

    id: str
    title: str
    level: str
    tags: list[str]
    logsource: SigmaLogSource
    source_path: str | None
    matcher: Matcher
    need: Need
    description: str | None = None
    generate: bool = True  # False when only correlations use it (``generate: false`` upstream)
    name: str | None = None
    sigma: SigmaRule | None = field(default=None, repr=False)

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether the rule's detection matches ``event`` (log source is not checked here)."""
        from sentinel.detect.view import EventView

        return bool(self.matcher(EventView(event), {}))


@dataclass
class _Strings:
    """Alternatives on one field not yet turned into a matcher, so OR can merge them."""

    field: str | None
    cased: bool
    patterns: list[StringPattern]

    def matcher(self) -> Matcher:
        if self.field is None:
            return V.keyword_matcher(self.patterns)
        return V.string_matcher(self.field, self.patterns)

    def need(self) -> Need:
        return literal_need(self.field, [_anchored(p) if self.field is not None else p.literal for p in self.patterns])


# A node under construction: merged strings, or a finished (matcher, need).
_Node = _Strings | tuple[Matcher, Need]


def compile_condition(cond: Any, placeholders: Mapping[str, list[str]]) -> tuple[Matcher, Need]:
    """Matcher and need for a parsed pySigma condition tree."""
    return _finish(_node(cond, placeholders))


def _finish(node: _Node) -> tuple[Matcher, Need]:
    if isinstance(node, _Strings):
        return node.matcher(), node.need()
    return node


def _node(cond: Any, ph: Mapping[str, list[str]]) -> _Node:
    if isinstance(cond, ConditionOR):
        return _or([_node(a, ph) for a in cond.args])
    if isinstance(cond, ConditionAND):
        return _and([_finish(_node(a, ph)) for a in cond.args])
    if isinstance(cond, ConditionNOT):
        inner, _ = _finish(_node(cond.args[0], ph))
        return (lambda flat, low: not inner(flat, low)), None
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return _leaf(cond.field, cond.value, ph)
    if isinstance(cond, ConditionValueExpression):
        return _leaf(None, cond.value, ph)
    raise CompileError(f"unsupported condition element {type(cond).__name__}")


def _or(nodes: list[_Node]) -> _Node:
    merged: dict[tuple[str | None, bool], _Strings] = {}
    others: list[tuple[Matcher, Need]] = []
    for node in nodes:
        if isinstance(node, _Strings):
            key = (node.field, node.cased)
            if key in merged:
                merged[key].patterns.extend(node.patterns)
            else:
                merged[key] = _Strings(node.field, node.cased, list(node.patterns))
        else:
            others.append(node)
    if not others and len(merged) == 1:
        return next(iter(merged.values()))
    parts = [m.matcher() for m in merged.values()] + [m for m, _ in others]
    need = any_of([m.need() for m in merged.values()] + [n for _, n in others])
    if len(parts) == 2:
        a, b = parts
        return (lambda flat, low: a(flat, low) or b(flat, low)), need
    return (lambda flat, low: any(p(flat, low) for p in parts)), need


def _and(nodes: list[tuple[Matcher, Need]]) -> tuple[Matcher, Need]:
    parts = [m for m, _ in nodes]
    need = all_of([n for _, n in nodes])
    if len(parts) == 1:
        return parts[0], need
    if len(parts) == 2:
        a, b = parts
        return (lambda flat, low: a(flat, low) and b(flat, low)), need
    return (lambda flat, low: all(p(flat, low) for p in parts)), need


def _leaf(fld: str | None, value: Any, ph: Mapping[str, list[str]]) -> _Node:
    if isinstance(value, SigmaExpansion):
        return _or([_leaf(fld, v, ph) for v in value.values])
    if isinstance(value, SigmaString):
        cased = isinstance(value, SigmaCasedString)
        expanded = V.resolve_placeholders(value, ph)
        if fld is None:  # full-text search: a keyword may occur anywhere in a field's text
            expanded = [_surround(s) for s in expanded]
        return _Strings(fld, cased, [V.string_pattern(s, cased) for s in expanded])
    if isinstance(value, SigmaRegularExpression):
        if value.regexp.contains_placeholder():
            alternatives = value.replace_placeholders(lambda p: V.placeholder_values(p.name, ph))
            return _or([_regex(fld, r) for r in alternatives])
        return _regex(fld, value)
    if fld is None:
        if isinstance(value, SigmaNumber):
            pattern = V.string_pattern(SigmaString(str(value.number)), False)
            return _Strings(None, False, [pattern])
        raise CompileError(f"a keyword detection cannot use a {type(value).__name__} value")
    if isinstance(value, SigmaTimestampPart):
        return V.timestamp_part_matcher(fld, value.timestamp_part.name, int(value.number)), None
    if isinstance(value, SigmaBool):
        return V.bool_matcher(fld, value.boolean), None
    if isinstance(value, SigmaNumber):
        return V.number_matcher(fld, value.number), number_need(fld, value.number)
    if isinstance(value, SigmaNull):
        return V.null_matcher(fld), None
    if isinstance(value, SigmaExists):
        return V.exists_matcher(fld, value.exists), None
    if isinstance(value, SigmaCompareExpression):
        return V.compare_matcher(fld, value.op, value.number.number), None
    if isinstance(value, SigmaCIDRExpression):
        return V.cidr_matcher(fld, [value.network]), cidr_need(fld, value.network)
    if isinstance(value, SigmaFieldReference):
        return V.fieldref_matcher(fld, value.field, value.starts_with, value.ends_with), None
    raise CompileError(f"field {fld!r}: value type {type(value).__name__} is not supported by the engine")


def _regex(fld: str | None, value: SigmaRegularExpression) -> tuple[Matcher, Need]:
    matcher = V.regex_matcher(fld, value)
    need = regex_need(fld, str(value.regexp), V.regex_flags(value))
    if need is None or fld is None:
        return matcher, need
    # Gate the search on the literals it cannot match without: a rule admitted by another of its
    # detections (``1 of them``) then rarely runs its regex at all. Text the regex may fold onto an
    # ASCII literal is always searched, and any non-ASCII text for a non-ASCII literal (see
    # sentinel.detect.needs on case folding).
    literals = tuple(lit for _, lit, _ in need[0])  # the most selective of the literals it requires
    unsure = regex_may_fold if all(lit.isascii() for lit in literals) else _not_ascii
    field = fld

    def gated(flat: Mapping[str, Any], low: dict[str, Any]) -> bool:
        text = V.cached_lower(flat, low, field)
        if text is None:
            return False
        for t in (text,) if type(text) is str else text:
            if any(lit in t for lit in literals) or unsure(t):
                return matcher(flat, low)
        return False

    return gated, need


def _not_ascii(text: str) -> bool:
    return not text.isascii()


def _anchored(pattern: StringPattern) -> str:
    """The pattern's literal with NUL where it must start or end a field value (see sentinel.detect.needs)."""
    if pattern.kind == "exact":
        return SEP + pattern.literal + SEP
    if pattern.kind == "prefix":
        return SEP + pattern.literal
    if pattern.kind == "suffix":
        return pattern.literal + SEP
    return pattern.literal


def _surround(value: SigmaString) -> SigmaString:
    star = SpecialChars.WILDCARD_MULTI
    if not value.startswith(star):
        value = star + value
    if not value.endswith(star):
        value = value + star
    return value
