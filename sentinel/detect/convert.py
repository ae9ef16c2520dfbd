"""Converting Sigma rules to Elasticsearch queries with pySigma's Elasticsearch backend.

The conversion uses the *same* field mapping as the streaming engine
(:func:`sentinel.detect.pipelines.sigma_pipeline`), and turns each rule's log
source into query conditions from the engine's own routing table
(:data:`sentinel.detect.logsource.ECS_TO_LOGSOURCE`), so a rule selects the same
events in Elasticsearch as in the stream.

Sigma compares strings case-insensitively and searches regular expressions
anywhere in a value; Elasticsearch keyword and wildcard fields compare
case-sensitively, and its regexes (ES|QL ``RLIKE``, Lucene ``/.../``) are
anchored Lucene regexes. :class:`SigmaESQLBackend` compares ``TO_LOWER(field)``
with lowered values; :class:`SigmaLuceneBackend` turns values with letters into
regexes accepting both cases; both rewrite Sigma regexes with
:mod:`sentinel.detect.lucene_regex` (``|cased`` values keep exact comparison).
ES|QL is what the scheduler runs (it also converts correlations). EQL is
pySigma's output with the regex translation: its ``:`` and ``like~`` are
case-insensitive already.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sigma.backends.elasticsearch import EqlBackend, ESQLBackend, LuceneBackend
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionNOT
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import SetStateTransformation
from sigma.processing.transformations.condition import ConditionTransformation
from sigma.rule import SigmaDetection, SigmaRule
from sigma.types import SigmaRegularExpression, SigmaRegularExpressionFlag, SigmaString, SpecialChars

from sentinel.detect.logsource import ECS_TO_LOGSOURCE, KEYS
from sentinel.detect.lucene_regex import UnsupportedRegex, to_lucene
from sentinel.detect.pipelines import sigma_pipeline

# The data streams the Elasticsearch store writes (logs-sentinel.<dataset>-<namespace>).
DEFAULT_INDEX = "logs-sentinel.*"

# Fields that may hold several values: ECS's array fields and the lists Sentinel's parsers write. ES|QL's
# LIKE, RLIKE and TO_LOWER return null for a multi-valued input, where Sigma (and the streaming engine) match
# when any value does; on these fields the ES|QL backend compares the values joined by MV_SEPARATOR instead.
# tests/detect/test_convert_semantics.py checks every list in the pack's test events is named here.
MULTI_VALUED_FIELDS = frozenset(
    {
        "event.category",
        "event.type",
        "related.ip",
        "related.user",
        "related.hosts",
        "related.hash",
        "tags",
        "user.roles",
        "process.args",
        "dns.answers.data",
        "nginx.access.remote_ip_list",
        "normalized.headers",
    }
)
# Joins the values of a multi-valued field (U+241F SYMBOL FOR UNIT SEPARATOR: visible in a printed query, absent
# from logs); a value holding it could only add a false match, never hide one.
MV_SEPARATOR = "\u241f"


class SigmaESQLBackend(ESQLBackend):
    """ES|QL with Sigma's matching semantics: case-insensitive strings, unanchored regular expressions."""

    name: ClassVar[str] = "ES|QL (Sigma semantics)"
    # Every string comparison is one LIKE on the lowered field: IN lists, STARTS_WITH and ENDS_WITH
    # would compare case-sensitively, and LIKE without wildcards is plain equality.
    convert_or_as_in: ClassVar[bool] = False
    eq_expression: ClassVar[str] = "TO_LOWER({field}) like {value}"
    startswith_expression: ClassVar[str | None] = None
    endswith_expression: ClassVar[str | None] = None
    wildcard_match_expression: ClassVar[str] = "TO_LOWER({field}) like {value}"
    # |cased values keep their case and compare the field as it is.
    case_sensitive_match_expression: ClassVar[str] = "{field} like {value}"

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        """A quoted LIKE pattern: literal ``\\ * ?`` escaped for LIKE, then the whole escaped for the string literal."""
        pattern = []
        for part in s.s:
            if part == SpecialChars.WILDCARD_MULTI:
                pattern.append("*")
            elif part == SpecialChars.WILDCARD_SINGLE:
                pattern.append("?")
            elif isinstance(part, str):
                pattern.extend("\\" + ch if ch in "\\*?" else ch for ch in part)
            else:
                raise NotImplementedError(f"placeholder {part} must be expanded before conversion")
        literal = "".join(pattern).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{literal}"'

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        """``not coalesce(x, false)``: ES|QL's ``x`` is null when its field is missing, and ``not null`` is null.

        Sigma's ``not sel`` holds for an event without the field, so the null is
        read as "did not match" before negating.
        """
        arg = cond.args[0]
        if arg is None:
            return None
        if arg.__class__ in self.precedence:
            expr = self.convert_condition_group(arg, state)
        else:
            expr = self.convert_condition(arg, state)
        if isinstance(expr, DeferredQueryExpression):
            return expr.negate()
        return None if expr is None else f"not coalesce({expr}, false)"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        if cond.field in MULTI_VALUED_FIELDS:
            return self._any_value(cond, cased=False)
        lowered = copy.copy(cond)
        lowered.value = _lower(cond.value)
        return super().convert_condition_field_eq_val_str(lowered, state)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        if cond.field in MULTI_VALUED_FIELDS:
            return self._any_value(cond, cased=True)
        return super().convert_condition_field_eq_val_str_case_sensitive(cond, state)

    def _any_value(self, cond: ConditionFieldEqualsValueExpression, *, cased: bool) -> str:
        """True when any value of a multi-valued field matches: the values joined and searched as one string.

        ``CONCAT(sep, MV_CONCAT(TO_STRING(f), sep), sep) rlike ".*sep<value>sep.*"``, where the value's
        wildcards never cross a separator, so each value is matched whole, as LIKE matches a single value.
        """
        sep = MV_SEPARATOR
        joined = f'MV_CONCAT(TO_STRING({self.escape_and_quote_field(cond.field)}), "{sep}")'
        if not cased:
            joined = f"TO_LOWER({joined})"
        value = cond.value if cased else _lower(cond.value)
        regex = "".join(_lucene_value_part(part, sep) for part in value.s)
        pattern = f".*{sep}{regex}{sep}.*".replace("\\", "\\\\").replace('"', '\\"')
        return f'CONCAT("{sep}", {joined}, "{sep}") rlike "{pattern}"'

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        if cond.field in MULTI_VALUED_FIELDS:
            raise NotImplementedError(f"a regular expression on the multi-valued field {cond.field} (ES|QL)")
        pattern = _sigma_regex_to_lucene(cond.value)
        quoted = pattern.replace("\\", "\\\\").replace('"', '\\"')
        # TO_STRING lets a pattern apply to dates (e.g. hour-of-day on @timestamp) and numbers as in the stream.
        return f'TO_STRING({self.escape_and_quote_field(cond.field)}) rlike "{quoted}"'


class SigmaLuceneBackend(LuceneBackend):
    """Lucene ``query_string`` with Sigma's matching semantics on Elasticsearch keyword and wildcard fields.

    Term and wildcard queries on those fields are case-sensitive, so a value
    with letters becomes a regular expression that accepts either case of
    each letter (``[uU][nN]...``); values without letters keep pySigma's plain
    form. Sigma regular expressions go through the Lucene translation.
    """

    name: ClassVar[str] = "Lucene (Sigma semantics)"
    convert_or_as_in: ClassVar[bool] = False  # each value through the conversion below

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        value = cond.value
        if not any(isinstance(p, str) and p.lower() != p.upper() for p in value.s):
            return super().convert_condition_field_eq_val_str(cond, state)
        regex = "".join(_lucene_regex_part(p) for p in value.s)
        return f"{self.escape_and_quote_field(cond.field)}:/{regex}/"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return f"{self.escape_and_quote_field(cond.field)}:/{_sigma_regex_to_lucene(cond.value)}/"


class SigmaEqlBackend(EqlBackend):
    """EQL as pySigma writes it (``:`` and ``like~`` are case-insensitive), with Sigma regexes translated.

    EQL's ``regex`` is a whole-value Lucene regex, so Sigma's unanchored PCRE-like
    patterns go through :mod:`sentinel.detect.lucene_regex` as for ES|QL.
    """

    name: ClassVar[str] = "EQL (Sigma semantics)"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        pattern = _sigma_regex_to_lucene(cond.value).replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.escape_and_quote_field(cond.field)} regex "{pattern}"'


def _lucene_regex_part(part: Any) -> str:
    """One part of a Sigma string as Lucene regex: wildcards, letters in both cases, the rest escaped."""
    if part == SpecialChars.WILDCARD_MULTI:
        return ".*"
    if part == SpecialChars.WILDCARD_SINGLE:
        return "."
    if not isinstance(part, str):
        raise NotImplementedError(f"placeholder {part} must be expanded before conversion")
    out = []
    for ch in part:
        if ch.lower() != ch.upper():
            out.append(f"[{ch.lower()}{ch.upper()}]")
        elif ch.isalnum():
            out.append(ch)
        else:
            out.append("\\" + ch)
    return "".join(out)


def _lucene_value_part(part: Any, separator: str) -> str:
    """One part of a Sigma string as Lucene regex within one value of a joined list: wildcards stop at ``separator``."""
    if part == SpecialChars.WILDCARD_MULTI:
        return f"[^{separator}]*"
    if part == SpecialChars.WILDCARD_SINGLE:
        return f"[^{separator}]"
    if not isinstance(part, str):
        raise NotImplementedError(f"placeholder {part} must be expanded before conversion")
    return "".join(ch if ch.isalnum() else "\\" + ch for ch in part)


def _sigma_regex_to_lucene(value: Any) -> str:
    """A Sigma ``|re`` value as a Lucene regex (whole-value match), or NotImplementedError saying why not."""
    if not isinstance(value, SigmaRegularExpression):
        raise TypeError(f"expected a regular expression, got {type(value).__name__}")
    if SigmaRegularExpressionFlag.MULTILINE in value.flags:
        raise NotImplementedError("the regex m flag has no Lucene equivalent")
    try:
        return to_lucene(str(value.regexp), SigmaRegularExpressionFlag.IGNORECASE in value.flags)
    except UnsupportedRegex as exc:
        raise NotImplementedError(f"regular expression not expressible in Lucene: {exc}") from None


def _lower(value: SigmaString) -> SigmaString:
    lowered = copy.copy(value)
    lowered.s = tuple(part.lower() if isinstance(part, str) else part for part in value.s)
    return lowered


@dataclass
class LogsourceConditionTransformation(ConditionTransformation):
    """Add the ECS conditions that make an event belong to the rule's log source.

    For each log-source key the rule sets (category, product, service), the
    event must carry one of the ECS values the routing table maps to it; a value
    no table entry produces makes the rule match nothing, exactly as in the
    streaming engine.
    """

    table: dict[tuple[str, str], dict[str, str]] = field(default_factory=lambda: ECS_TO_LOGSOURCE)
    prefix: str = "_sentinel_logsource_"  # a leading underscore keeps it out of "1 of them"

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> None:
        if not isinstance(rule, SigmaRule):
            return
        self._names = []
        for key in KEYS:
            wanted = getattr(rule.logsource, key)
            if wanted is None:
                continue
            alternatives: dict[str, list[str]] = {}
            for (ecs_field, ecs_value), provides in self.table.items():
                if provides.get(key) == wanted.lower():
                    alternatives.setdefault(ecs_field, []).append(ecs_value)
            name = f"{self.prefix}{key}"
            if alternatives:
                definition: Any = [{f: v if len(v) > 1 else v[0]} for f, v in alternatives.items()]
            else:
                definition = {f"sentinel.unrouted_logsource.{key}": wanted}
            rule.detection.detections[name] = SigmaDetection.from_definition(definition)
            self.processing_item_applied(rule.detection.detections[name])
            self._names.append(name)
        if self._names:
            super().apply(rule)

    def apply_condition(self, cond: Any) -> None:
        cond.condition = " and ".join([*self._names, f"({cond.condition})"])


def es_pipeline(index: str = DEFAULT_INDEX) -> ProcessingPipeline:
    """Field mapping of the streaming engine + log-source conditions + the index to query."""
    base = sigma_pipeline("ecs")
    extra = ProcessingPipeline(
        name="sentinel elasticsearch",
        priority=90,
        items=[
            ProcessingItem(identifier="sentinel_logsource", transformation=LogsourceConditionTransformation()),
            ProcessingItem(identifier="sentinel_index", transformation=SetStateTransformation("index", index)),
        ],
    )
    return base + extra if base is not None else extra


# target name -> (backend class, pySigma output format)
TARGETS: dict[str, tuple[type, str]] = {
    "esql": (SigmaESQLBackend, "default"),
    "lucene": (SigmaLuceneBackend, "default"),
    "eql": (SigmaEqlBackend, "default"),
    "kibana-ndjson": (SigmaLuceneBackend, "kibana_ndjson"),
}


@dataclass
class Converted:
    """One rule's query (or the reason it has none)."""

    rule: SigmaRule | SigmaCorrelationRule
    queries: list[Any]
    error: str | None = None

    @property
    def rule_id(self) -> str:
        return str(self.rule.id) if self.rule.id else (self.rule.name or self.rule.title)


def output_rules(collection: SigmaCollection) -> list[SigmaRule | SigmaCorrelationRule]:
    """Rules that produce alerts: everything except rules only used as correlation inputs."""
    return [r for r in collection.rules if isinstance(r, SigmaRule | SigmaCorrelationRule) and r._output]


def convert_rules(
    rules: Sequence[SigmaRule | SigmaCorrelationRule], target: str, index: str = DEFAULT_INDEX
) -> list[Converted]:
    """Convert each alerting rule separately, so one unconvertible rule does not stop the rest.

    ``rules`` must include the rules correlations reference. Each rule is
    converted in a collection of fresh copies of itself and the rules it
    references (pySigma's pipelines modify the rules they process).
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; use one of: {', '.join(TARGETS)}")
    backend_cls, fmt = TARGETS[target]
    collection = SigmaCollection(copy.deepcopy(list(rules)), resolve_references=True)
    results = []
    for rule in output_rules(collection):
        backend = backend_cls(processing_pipeline=es_pipeline(index))
        try:
            subset = SigmaCollection(copy.deepcopy(_with_references(rule)), resolve_references=True)
            queries = backend.convert(subset, fmt)
            queries = list(queries) if isinstance(queries, list) else [queries]
            if fmt == "kibana_ndjson":
                queries = [_retarget_saved_search(q, index) for q in queries]
            results.append(Converted(rule, queries))
        except (SigmaError, NotImplementedError, ValueError, TypeError) as exc:
            results.append(Converted(rule, [], f"{type(exc).__name__}: {exc}"))
    return results


def _retarget_saved_search(obj: Any, index: str) -> Any:
    """pySigma writes Kibana saved searches for ``beats-*``; point them at Sentinel's index pattern."""
    if isinstance(obj, list):
        return [_retarget_saved_search(o, index) for o in obj]
    meta = obj.get("attributes", {}).get("kibanaSavedObjectMeta", {})
    if "searchSourceJSON" in meta:
        source = json.loads(meta["searchSourceJSON"])
        source["index"] = index
        meta["searchSourceJSON"] = json.dumps(source)
    return obj


def _with_references(rule: SigmaRule | SigmaCorrelationRule) -> list[SigmaRule | SigmaCorrelationRule]:
    out: list[SigmaRule | SigmaCorrelationRule] = []
    todo = [rule]
    while todo:
        current = todo.pop()
        if any(current is r for r in out):
            continue
        out.append(current)
        if isinstance(current, SigmaCorrelationRule):
            todo.extend(ref.rule for ref in current.rules if ref.rule is not None)
    return out


def converted_lines(results: Iterable[Converted]) -> Iterable[str]:
    """Text of the converted queries, one rule after the other, for printing or a file."""
    for res in results:
        if res.error:
            continue
        for q in res.queries:
            if isinstance(q, str):
                yield q
            elif isinstance(q, list):
                yield from (json.dumps(item, ensure_ascii=False) for item in q)
            else:
                yield json.dumps(q, ensure_ascii=False)
