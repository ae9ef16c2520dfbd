"""Sigma correlation rules evaluated over the event stream with bounded state.

A correlation (``event_count``, ``value_count``, ``temporal``, ``temporal_ordered``,
and the ``value_sum``/``value_avg``/``value_median``/``value_percentile``
aggregations) watches the matches of the rules it references, grouped by its
``group-by`` fields (through ``aliases`` where rules name a field differently),
within a sliding ``timespan``.

Time is event time. The *watermark* is the newest event time seen minus the
allowed lateness: events up to that late are placed in their windows as if they
had arrived in order; events older than the watermark can no longer be placed
(their windows may already be evicted) and are counted in ``stats["late"]``.
Event time never pushes the watermark past this machine's clock: one event
dated in the future (a device whose clock is wrong, or a forged timestamp) is
still correlated, but cannot make every real event after it late. Events more
than ``FUTURE_TOLERANCE`` seconds ahead are counted in ``stats["future"]``.
State older than ``watermark - timespan`` is evicted, so memory is bounded by
the events of one timespan plus the lateness per group, and a group whose
state empties is dropped.

Two ways to decide:

* Conditions that can only become true as events are added (``gt``/``gte`` counts,
  temporal without ``not``) fire as soon as the window holding the new event
  satisfies them: the alert is raised with the event that completes the pattern.
* Other conditions (``lt``/``lte``/``eq``/``neq``, aggregates, ``not``) can only be
  judged when a window is complete: windows are then tumbling, opened by a group's
  first event and judged once the watermark passes their end (or on :meth:`flush`).

A sliding window that stays true would otherwise alert for every event: one
alert is raised per group and *episode*; the episode lasts while the condition
keeps holding and ends after a full timespan without it holding.

Several processes share the groups out with a :class:`Router`
(:mod:`sentinel.ingest.partition`): a match of a group another process owns is
handed to the router instead of being kept, and the owner observes it with
``only=`` that correlation. Each group's state lives in one process, so counts do
not depend on how many processes run.
"""

from __future__ import annotations

import bisect
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)

from sentinel import ecs
from sentinel.detect.alerts import build_alert, group_key_of
from sentinel.detect.compile import CompiledRule
from sentinel.detect.values import CompileError, number_of
from sentinel.models import LEVEL_RISK, Alert, RuleRef

# Cap on the matches kept per group: a flood beyond this within one timespan keeps the newest.
MAX_GROUP_EVENTS = 10_000

_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}
_AGGREGATES = {"value_sum", "value_avg", "value_median", "value_percentile"}


@dataclass(eq=False)
class Match:
    """One referenced-rule match inside a correlation group."""

    ts: float
    seq: int
    time: str  # the event's own @timestamp text
    rule: int  # position of the matched rule in the correlation's rule list
    event_id: str
    event: dict[str, Any]
    value: Any  # the condition field's value (value_count and aggregates), else None


@dataclass
class CompiledCorrelation:
    """A correlation rule ready for streaming evaluation."""

    id: str
    title: str
    level: str
    tags: list[str]
    description: str | None
    source_path: str | None
    type: str
    rule_ids: list[str]  # referenced compiled rules, in the order the rule lists them
    group_by: list[str]
    group_fields: list[dict[str, str]]  # per referenced rule: group-by name -> event field
    value_fields: list[str | None]  # per referenced rule: the condition field in its events
    timespan: float
    op: str
    count: float
    percentile: int | None = None
    expression: Callable[[set[int]], bool] | None = None  # extended temporal condition
    monotone: bool = True

    def holds(self, matches: list[Match]) -> bool:
        """Whether the condition holds over the matches of one window."""
        if self.type == "event_count":
            return _OPS[self.op](len({m.event_id for m in matches}), self.count)
        if self.type == "value_count":
            values = {_key(m.value) for m in matches if m.value is not None}
            return _OPS[self.op](len(values), self.count)
        if self.type in ("temporal", "temporal_ordered"):
            if self.type == "temporal_ordered" and not _in_order(matches, len(self.rule_ids)):
                return False
            seen = {m.rule for m in matches}
            if self.expression is not None:
                return self.expression(seen)
            return _OPS[self.op](len(seen), self.count)
        numbers = [n for n in (number_of(m.value) for m in matches) if n is not None]
        if not numbers:
            return False
        if self.type == "value_sum":
            agg = math.fsum(numbers)
        elif self.type == "value_avg":
            agg = math.fsum(numbers) / len(numbers)
        elif self.type == "value_median":
            agg = statistics.median(numbers)
        else:
            agg = _percentile(sorted(numbers), self.percentile or 50)
        return _OPS[self.op](agg, self.count)

    def reached(self, matches: list[Match], lo: int, hi: int) -> bool:
        """Monotone conditions over ``matches[lo:hi + 1]``, stopping as soon as the threshold is met.

        Only for :attr:`monotone` correlations, where adding events can only make
        the condition true: count distinct keys from the newest back.
        """
        if self.type == "temporal_ordered":
            return _in_order((matches[i] for i in range(lo, hi + 1)), len(self.rule_ids))
        if self.expression is not None:
            return self.expression({matches[i].rule for i in range(lo, hi + 1)})
        wanted = math.floor(self.count) + 1 if self.op == "gt" else math.ceil(self.count)
        if hi - lo + 1 < wanted:
            return False  # fewer matches than the threshold: fewer distinct keys too
        if self.type == "event_count":
            return True  # an event is kept once per group (see CorrelationEngine.observe)
        key = _value_key if self.type == "value_count" else _rule_key
        seen: set[Any] = set()
        for i in range(hi, lo - 1, -1):
            k = key(matches[i])
            if k is not None:
                seen.add(k)
                if len(seen) >= wanted:
                    return True
        return False

    def ref(self) -> RuleRef:
        level = self.level if self.level in LEVEL_RISK else "medium"
        return RuleRef(id=self.id, title=self.title, level=level, tags=self.tags, description=self.description)


def _value_key(m: Match) -> Any:
    return None if m.value is None else _key(m.value)


def _rule_key(m: Match) -> Any:
    return m.rule


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _percentile(values: list[float], pct: int) -> float:
    k = (len(values) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def _in_order(matches: Iterable[Match], n: int) -> bool:
    """Whether rules 0..n-1 matched in that order (greedy earliest subsequence)."""
    want = 0
    for m in matches:
        if m.rule == want:
            want += 1
            if want == n:
                return True
    return False


# --- compiling ----------------------------------------------------------------------------------


def compile_correlation(rule: SigmaCorrelationRule, compiled: Mapping[int, CompiledRule]) -> CompiledCorrelation:
    """Compile a resolved correlation rule; ``compiled`` maps ``id(SigmaRule)`` to its compiled rule."""
    refs: list[SigmaRuleReference] = list(rule.referenced_rules)
    rule_ids: list[str] = []
    for ref in refs:
        target = getattr(ref, "rule", None)
        if isinstance(target, SigmaCorrelationRule):
            raise CompileError(f"correlation of correlation ({ref.reference}) is not supported by the streaming engine")
        if target is None or id(target) not in compiled:
            raise CompileError(f"referenced rule {ref.reference!r} could not be compiled (see its own problem)")
        rule_ids.append(compiled[id(target)].id)
    ctype = rule.type.name.lower()
    group_by = list(rule.group_by or [])
    aliases = {a.alias: a for a in rule.aliases}

    def field_for(name: str, ref: SigmaRuleReference) -> str:
        alias = aliases.get(name)
        if alias is None:
            return name
        for key, mapped in alias.mapping.items():
            if _names_rule(key.reference, ref):
                return mapped
        raise CompileError(f"alias {name!r} has no field for rule {ref.reference!r}")

    group_fields = [{g: field_for(g, ref) for g in group_by} for ref in refs]
    cond = rule.condition
    op, count, percentile, expression, value_fields = "gte", float(len(refs)), None, None, [None] * len(refs)
    has_not = False
    if isinstance(cond, SigmaCorrelationCondition):
        op, count, percentile = cond.op.name.lower(), float(cond.count), cond.percentile
        if cond.fieldref is not None:
            if isinstance(cond.fieldref, list):
                raise CompileError("a condition over several fields is not supported; name one field")
            value_fields = [field_for(cond.fieldref, ref) for ref in refs]
    elif isinstance(cond, SigmaExtendedCorrelationCondition):
        index = {ref.reference: i for i, ref in enumerate(refs)}
        expression, has_not = _expression(cond.parsed, index)
    if ctype == "temporal" and rule.type == SigmaCorrelationType.TEMPORAL and cond is None:
        op, count = "gte", float(len(refs))
    monotone = op in ("gt", "gte") and ctype not in _AGGREGATES and not has_not
    return CompiledCorrelation(
        id=str(rule.id) if rule.id else (rule.name or rule.title),
        title=rule.title,
        level=rule.level.name.lower() if rule.level else "medium",
        tags=[str(t) for t in rule.tags],
        description=rule.description,
        source_path=str(rule.source.path) if rule.source is not None and rule.source.path else None,
        type=ctype,
        rule_ids=rule_ids,
        group_by=group_by,
        group_fields=group_fields,
        value_fields=value_fields,
        timespan=float(rule.timespan.seconds),
        op=op,
        count=count,
        percentile=percentile,
        expression=expression,
        monotone=monotone,
    )


def _names_rule(reference: str, ref: SigmaRuleReference) -> bool:
    """Whether ``reference`` names the rule ``ref`` resolved to: by the same text, the rule's name or its id.

    pySigma resolves the rules list but not the keys of an alias mapping, so an alias may name a rule by
    its id where the rules list names it by name (or the other way round).
    """
    rule = ref.rule
    if reference in (ref.reference, rule.name):
        return True
    try:
        return rule.id is not None and UUID(reference) == rule.id
    except ValueError:
        return False


def _expression(node: Any, index: Mapping[str, int]) -> tuple[Callable[[set[int]], bool], bool]:
    """An extended temporal condition as a test on the set of rules seen; and whether it uses ``not``."""
    if isinstance(node, SigmaRuleReference):
        if node.reference not in index:
            raise CompileError(f"condition names rule {node.reference!r} that is not in the rules list")
        i = index[node.reference]
        return (lambda seen: i in seen), False
    if isinstance(node, CorrelationConditionNOT):
        inner, _ = _expression(node.args[0], index)
        return (lambda seen: not inner(seen)), True
    parts = [_expression(a, index) for a in node.args]
    fns = [f for f, _ in parts]
    uses_not = any(n for _, n in parts)
    if isinstance(node, CorrelationConditionAND):
        return (lambda seen: all(f(seen) for f in fns)), uses_not
    if isinstance(node, CorrelationConditionOR):
        return (lambda seen: any(f(seen) for f in fns)), uses_not
    raise CompileError(f"unsupported correlation condition element {type(node).__name__}")


# --- streaming state ----------------------------------------------------------------------------


@dataclass
class _Group:
    matches: list[Match] = field(default_factory=list)  # sorted by (ts, seq)
    episode_last: float | None = None  # last time the condition held in the current episode
    window_start: float | None = None  # open tumbling window (non-monotone conditions)


class Router(Protocol):
    """Who owns each correlation group when several processes share them (:mod:`sentinel.ingest.partition`)."""

    def owns(self, correlation: str, group: tuple[Any, ...]) -> bool:
        """Whether this process keeps the state of ``group`` of ``correlation``."""
        ...

    def forward(self, correlation: str, group: tuple[Any, ...], rule: str, event: dict[str, Any]) -> None:
        """Hand a match of ``rule`` for a group another process owns to that process."""
        ...


# Event clocks this much ahead of ours are normal drift; beyond it they are counted as future-dated.
FUTURE_TOLERANCE = 300.0


class CorrelationEngine:
    """Streaming state of every correlation rule, fed with the matches of the rules they reference."""

    def __init__(
        self, correlations: list[CompiledCorrelation], lateness_seconds: float = 60.0, router: Router | None = None
    ) -> None:
        if lateness_seconds < 0:
            raise ValueError("lateness_seconds must be zero or more")
        self.correlations = correlations
        self.router = router
        self.lateness = float(lateness_seconds)
        self.feeds: dict[str, list[tuple[CompiledCorrelation, int]]] = {}
        for corr in correlations:
            for pos, rid in enumerate(corr.rule_ids):
                self.feeds.setdefault(rid, []).append((corr, pos))
        self.groups: dict[tuple[str, tuple[Any, ...]], _Group] = {}
        self.max_ts = -math.inf
        self.seq = 0
        self.stats = {"late": 0, "overflow": 0, "no_timestamp": 0, "future": 0, "forwarded": 0}

    @property
    def watermark(self) -> float:
        return self.max_ts - self.lateness

    def observe(
        self, rule: CompiledRule, event: dict[str, Any], flat: Mapping[str, Any], only: str | None = None
    ) -> list[Alert]:
        """Record that ``rule`` matched ``event``; alerts for correlations this completes.

        ``only``: the correlation a match forwarded by another process is for (its owner is this one);
        otherwise every correlation the rule feeds, groups owned elsewhere going to the router.
        """
        from sentinel.detect.engine import event_id_of, event_time

        try:
            ts = ecs.parse_ts(flat["@timestamp"]).timestamp()
        except (KeyError, ValueError, TypeError, OverflowError):
            self.stats["no_timestamp"] += 1
            return []
        if ts < self.watermark:
            self.stats["late"] += 1
            return []
        now = time.time()
        if ts > now + FUTURE_TOLERANCE:
            self.stats["future"] += 1
        self.max_ts = max(self.max_ts, min(ts, now))
        eid = event_id_of(event, flat)
        alerts = []
        for corr, pos in self.feeds.get(rule.id, ()):
            if only is not None and corr.id != only:
                continue
            gkey = tuple(_group_value(flat.get(f)) for f in corr.group_fields[pos].values())
            if only is None and self.router is not None and not self.router.owns(corr.id, gkey):
                self.router.forward(corr.id, gkey, rule.id, event)
                self.stats["forwarded"] += 1
                continue
            vfield = corr.value_fields[pos]
            self.seq += 1
            m = Match(ts, self.seq, event_time(flat), pos, eid, event, flat.get(vfield) if vfield else None)
            group = self.groups.setdefault((corr.id, gkey), _Group())
            pos = bisect.bisect_left(group.matches, (m.ts, m.seq), key=_order)
            if corr.type == "event_count" and pos and group.matches[pos - 1].event_id == eid:
                continue  # the same event through a second referenced rule counts once
            group.matches.insert(pos, m)
            if len(group.matches) > MAX_GROUP_EVENTS:
                del group.matches[0]
                pos -= 1
                self.stats["overflow"] += 1
            if corr.monotone:
                alert = self._check_sliding(corr, gkey, group, max(pos, 0))
                if alert is not None:
                    alerts.append(alert)
            elif group.window_start is None or ts < group.window_start:
                group.window_start = ts if group.window_start is None else min(group.window_start, ts)
        return alerts

    def _check_sliding(self, corr: CompiledCorrelation, gkey: tuple, group: _Group, pos: int) -> Alert | None:
        """Check the windows that hold the match at ``pos``: those ending at it or at a later match."""
        span = corr.timespan
        matches = group.matches
        new_ts = matches[pos].ts
        lo = bisect.bisect_left(matches, new_ts - span, key=_ts)
        holding: tuple[int, int] | None = None
        for end in range(pos, len(matches)):
            end_ts = matches[end].ts
            if end_ts > new_ts + span:
                break
            while matches[lo].ts < end_ts - span:
                lo += 1
            if corr.reached(matches, lo, end):
                holding = (lo, end)
                break
        if holding is None:
            return None
        last = matches[holding[1]]
        in_episode = group.episode_last is not None and last.ts <= group.episode_last + span
        group.episode_last = max(group.episode_last or -math.inf, last.ts)
        if in_episode:
            return None
        return self._alert(corr, gkey, matches[holding[0] : holding[1] + 1], last)

    def advance(self) -> list[Alert]:
        """Judge windows the watermark has closed and evict state no future window can use."""
        return self._sweep(self.watermark)

    def flush(self) -> list[Alert]:
        """End of finite input: judge every open window, then forget all state."""
        alerts = self._sweep(math.inf)
        self.groups.clear()
        return alerts

    def _sweep(self, watermark: float) -> list[Alert]:
        alerts: list[Alert] = []
        by_id = {c.id: c for c in self.correlations}
        for key in list(self.groups):
            corr = by_id[key[0]]
            group = self.groups[key]
            span = corr.timespan
            if not corr.monotone:
                while group.window_start is not None and group.window_start + span < watermark:
                    start = group.window_start
                    window = [m for m in group.matches if start <= m.ts <= start + span]
                    if window and corr.holds(window):
                        alerts.append(self._alert(corr, key[1], window, window[-1]))
                    group.matches = [m for m in group.matches if m.ts > start + span]
                    group.window_start = group.matches[0].ts if group.matches else None
            else:
                horizon = watermark - span
                cut = bisect.bisect_left(group.matches, horizon, key=_ts)
                if cut:
                    del group.matches[:cut]
                if group.episode_last is not None and group.episode_last + span < watermark:
                    group.episode_last = None
            if not group.matches and group.episode_last is None and group.window_start is None:
                del self.groups[key]
        return alerts

    def _alert(self, corr: CompiledCorrelation, gkey: tuple, window: list[Match], trigger: Match) -> Alert:
        entity = dict(zip(corr.group_by, gkey, strict=True))
        ids: list[str] = []
        events: list[dict[str, Any]] = []
        seen: set[str] = set()
        for m in window:
            if m.event_id in seen:
                continue
            seen.add(m.event_id)
            ids.append(m.event_id)
            events.append(m.event)
        return build_alert(
            corr.ref(),
            group_key=group_key_of(entity),
            entity=entity,
            events=events,
            event_ids=ids,
            first_seen=window[0].time,
            last_seen=trigger.time,
        )


def _order(m: Match) -> tuple[float, int]:
    return m.ts, m.seq


def _ts(m: Match) -> float:
    return m.ts


def _group_value(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "" if value is None else value
