"""The streaming Sigma engine: every ingested event is evaluated in-process as it arrives.

Loading: rules are parsed with pySigma (``SigmaCollection``), correlation
references are resolved, the processing pipeline (:mod:`sentinel.detect.pipelines`)
maps rule fields to ECS, and each rule is compiled to a matcher
(:mod:`sentinel.detect.compile`). A rule that cannot be evaluated is kept out
and listed in :attr:`Engine.problems` with the reason.

Per event: read its log-source signature (:mod:`sentinel.detect.logsource`) and
pick the rule set for it (built once per distinct signature and cached, each
with its own prefilter); scan the fields those rules index for all their
literals at once (:mod:`sentinel.detect.prefilter`); evaluate only the
candidate rules, through a lazy dotted-path view (:mod:`sentinel.detect.view`).
A match raises an alert (unless the rule only feeds a correlation) and is
handed to the correlation stage (:mod:`sentinel.detect.correlation`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from sentinel import ecs
from sentinel.content import yaml_data
from sentinel.detect.alerts import build_alert
from sentinel.detect.compile import CompiledRule, compile_condition
from sentinel.detect.correlation import CorrelationEngine, compile_correlation
from sentinel.detect.logsource import applies, event_logsource, plain_signature, signature
from sentinel.detect.needs import any_of
from sentinel.detect.pipelines import sigma_pipeline
from sentinel.detect.prefilter import Prefilter
from sentinel.detect.values import CompileError
from sentinel.detect.view import EventView
from sentinel.errors import Invalid
from sentinel.models import LEVEL_RISK, Alert, RuleRef

# Who an alert is about, in order of preference: the first of these the event carries.
ENTITY_FIELDS = ("source.ip", "user.name", "labels.commune")
# Rule sets are cached per log-source signature; odd input could create many, so the cache is bounded.
MAX_RULESETS = 4096

log = logging.getLogger(__name__)


@dataclass
class RuleProblem:
    """A rule the engine cannot evaluate, and why (it is never skipped silently)."""

    rule_id: str | None
    title: str | None
    path: str | None
    reason: str

    def __str__(self) -> str:
        where = self.path or "(collection)"
        who = self.title or self.rule_id or "rule"
        return f"{where}: {who}: {self.reason}"


class Engine:
    """Evaluates Sigma rules and correlation rules over a stream of ECS events.

    Implements :class:`sentinel.detect.detector.Detector`.
    """

    def __init__(
        self,
        rules: list[CompiledRule],
        correlations: CorrelationEngine,
        problems: list[RuleProblem],
        pipeline: str,
    ) -> None:
        self.rules = rules
        self.problems = problems
        self.pipeline = pipeline
        self.correlations = correlations
        self._feeds = correlations.feeds  # rule id -> correlations it feeds
        self._by_id = {r.id: r for r in rules}
        self._position = {id(r): n for n, r in enumerate(rules)}  # what :meth:`match` reports of a rule
        # The rules that apply to each log-source signature seen, each set with its prefilter.
        self._sets: dict[tuple[Any, ...], Prefilter] = {}
        self._all = Prefilter(rules)
        self.stats = {"events": 0, "matches": 0, "errors": 0}

    # --- loading ------------------------------------------------------------------------------

    @classmethod
    def from_paths(
        cls,
        paths: Sequence[str | Path],
        pipeline: str = "ecs",
        lateness_seconds: float = 60.0,
        placeholders: Mapping[str, list[str]] | None = None,
        progress: Callable[[int, int], Any] | None = None,
    ) -> Engine:
        """Load every .yml/.yaml rule (files or folders; correlation rules too).

        Pipeline 'ecs' maps rule fields to ECS and applies log-source conditions;
        'none' evaluates fields exactly as named and applies every rule to every
        event whatever its log source. A file that is not valid Sigma becomes a
        :class:`RuleProblem`; a path that does not exist raises ``FileNotFoundError``.
        ``progress(files_done, files)`` follows the reading, most of the time taken for a large tree.
        """
        problems: list[RuleProblem] = []
        collections = []
        files = _rule_files(paths)
        for done, file in enumerate(files, 1):
            try:
                text = file.read_text(encoding="utf-8")
                collections.append(
                    SigmaCollection.from_dicts(
                        yaml_data(text),
                        collect_errors=True,
                        source=SigmaRuleLocation(file),
                        collect_filters=True,
                        resolve_references=False,
                    )
                )
            except (SigmaError, yaml.YAMLError, UnicodeDecodeError, OSError, ValueError) as exc:
                problems.append(RuleProblem(None, None, str(file), f"cannot load rule file: {exc}"))
            except Exception as exc:  # pySigma failing on odd input must not stop every other rule
                reason = f"cannot load rule file (pySigma failed: {type(exc).__name__}: {exc})"
                problems.append(RuleProblem(None, None, str(file), reason))
            if progress is not None:
                progress(done, len(files))
        merged = SigmaCollection.merge(collections, resolve_references=False) if collections else SigmaCollection([])
        engine = cls._build(merged, pipeline, lateness_seconds, placeholders or {}, copy_rules=False)
        engine.problems[:0] = problems
        return engine

    @classmethod
    def from_collection(
        cls,
        collection: SigmaCollection,
        pipeline: str = "ecs",
        lateness_seconds: float = 60.0,
        placeholders: Mapping[str, list[str]] | None = None,
    ) -> Engine:
        """Build from an already parsed collection (left unmodified: the engine works on a copy)."""
        return cls._build(collection, pipeline, lateness_seconds, placeholders or {}, copy_rules=True)

    @classmethod
    def _build(
        cls,
        collection: SigmaCollection,
        pipeline_name: str,
        lateness_seconds: float,
        placeholders: Mapping[str, list[str]],
        copy_rules: bool,
    ) -> Engine:
        processing = sigma_pipeline(pipeline_name)
        items = list(collection.rules) + list(collection.filters)
        if copy_rules:
            items = copy.deepcopy(items)
        sigma_rules = [r for r in items if isinstance(r, SigmaRule | SigmaCorrelationRule)]
        problems: list[RuleProblem] = []
        coll = SigmaCollection(sigma_rules, resolve_references=False)
        correlation_rules: list[SigmaCorrelationRule] = []
        for rule in coll.rules:
            if isinstance(rule, SigmaCorrelationRule):
                if rule.errors:  # e.g. a timespan pySigma could not read ("0h"): kept as text, not evaluable
                    problems.append(_problem(rule, "; ".join(str(e) for e in rule.errors)))
                    continue
                try:
                    rule.resolve_rule_references(coll)
                    if processing is not None:
                        processing.apply(rule)
                    correlation_rules.append(rule)
                except SigmaError as exc:
                    problems.append(_problem(rule, f"cannot resolve the rules it correlates: {exc}"))
                except RecursionError:  # pySigma follows references without a cycle check
                    problems.append(_problem(rule, "correlates itself (directly or through other correlations)"))
        filters = [f for f in items if isinstance(f, SigmaFilter)]
        if filters:
            coll.apply_filters(filters)  # type: ignore[arg-type]
        compiled: list[CompiledRule] = []
        by_sigma: dict[int, CompiledRule] = {}
        for rule in coll.rules:
            if not isinstance(rule, SigmaRule):
                continue
            if rule.errors:
                problems.append(_problem(rule, "; ".join(str(e) for e in rule.errors)))
                continue
            try:
                if processing is not None:
                    processing.apply(rule)
                matchers = [compile_condition(c.parsed, placeholders) for c in rule.detection.parsed_condition]
            except (SigmaError, CompileError) as exc:
                problems.append(_problem(rule, str(exc)))
                continue
            if len(matchers) == 1:
                matcher, need = matchers[0]
            else:  # several conditions are alternatives
                parts = [m for m, _ in matchers]
                needs = [n for _, n in matchers]
                need = any_of(needs)

                def matcher(flat: Mapping[str, Any], low: dict[str, Any], parts: list = parts) -> bool:
                    return any(p(flat, low) for p in parts)

            cr = CompiledRule(
                id=_rule_id(rule),
                title=rule.title or _rule_id(rule),
                level=rule.level.name.lower() if rule.level else "medium",
                tags=[str(t) for t in rule.tags],
                logsource=rule.logsource,
                source_path=_path_of(rule),
                matcher=matcher,
                need=need,
                description=rule.description,
                generate=rule._output,
                name=rule.name,
                sigma=rule,
            )
            compiled.append(cr)
            by_sigma[id(rule)] = cr
        correlations = []
        for crule in correlation_rules:
            try:
                correlations.append(compile_correlation(crule, by_sigma))
            except CompileError as exc:
                problems.append(_problem(crule, str(exc)))
        engine = cls(compiled, CorrelationEngine(correlations, lateness_seconds), problems, pipeline_name)
        return engine

    # --- evaluation ---------------------------------------------------------------------------

    def process(self, events: list[dict[str, Any]]) -> list[Alert]:
        """Alerts raised by these events, in event order (rule matches, then correlations)."""
        return self.raise_matched([(e, hits) for e, hits in zip(events, self.match(events), strict=True) if hits])

    def match(self, events: list[dict[str, Any]]) -> list[tuple[int, ...]]:
        """Which rules each event matches (positions in :attr:`rules`), without side effects.

        The half of :meth:`process` that needs no state: the ingest workers run it beside protection,
        and the process that stores the events raises the alerts (:meth:`raise_matched`) for the
        events the store took as new, in order. Per event the common case costs a few dict lookups
        and one scan: a plain event (:meth:`sentinel.detect.view.EventView.plain`) has its
        log-source signature and prefilter text read by generated code, and a view for the rule
        matchers is made only when some rule is a candidate.
        """
        out: list[tuple[int, ...]] = []
        position = self._position
        sets = self._sets
        every = self._all if self.pipeline == "none" else None
        matches = 0
        for event in events:
            hits: tuple[int, ...] = ()
            try:
                view = None
                cands = None
                if type(event) is dict and not ecs.has_dotted_key(event):  # EventView.plain, inlined
                    ruleset = every
                    if ruleset is None:
                        sig = plain_signature(event)
                        ruleset = sets.get(sig) if sig is not None else None
                    if ruleset is not None:
                        cands = ruleset.candidates_plain(event)
                if cands is None:
                    view = EventView(event)
                    ruleset = self._ruleset(view)
                    cands = ruleset.candidates(view)
                if cands:
                    flat = view if view is not None else EventView(event)
                    low: dict[str, Any] = {}
                    rules = ruleset.rules
                    hits = tuple(position[id(rules[i])] for i in cands if rules[i].matcher(flat, low))
                    matches += len(hits)
            except Exception:  # one event the engine cannot handle must not stop the stream
                self.stats["errors"] += 1
                log.exception("detection failed on event %s", _id_for_log(event))
            out.append(hits)
        self.stats["events"] += len(events)
        self.stats["matches"] += matches
        return out

    @functools.cached_property
    def digest(self) -> str:
        """What identifies this rule pack's order: a process raising alerts for another's :meth:`match` checks it."""
        text = "\n".join(f"{r.id}\t{r.title}\t{r.source_path}" for r in self.rules)
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def raise_matched(self, matched: Sequence[tuple[dict[str, Any], Sequence[int]]]) -> list[Alert]:
        """Alerts for events and the rules each matched (:meth:`match`), in order.

        A rule raises its own alert (unless it only feeds a correlation) and feeds the
        correlations that reference it; then the correlation windows the matches closed are judged.
        """
        alerts: list[Alert] = []
        feeds = self._feeds
        rules = self.rules
        for event, hits in matched:
            try:
                flat = EventView(event)
                for rule in (rules[i] for i in hits):
                    if rule.generate:
                        alerts.append(rule_alert(rule, event, flat))
                    if rule.id in feeds:
                        alerts.extend(self.correlations.observe(rule, event, flat))
            except Exception:  # one event the engine cannot handle must not stop the stream
                self.stats["errors"] += 1
                log.exception("detection failed on event %s", _id_for_log(event))
        alerts.extend(self.correlations.advance())
        return alerts

    def flush(self) -> list[Alert]:
        """Close open correlation windows at the end of finite input."""
        return self.correlations.flush()

    def receive(self, matches: Sequence[Mapping[str, Any]]) -> list[Alert]:
        """Alerts from matches another process forwarded for correlation groups this one owns.

        Each match is ``{"rule": id, "correlation": id, "event": {...}}``: the event (stored by the
        process that received it) matched that rule there, and the group of that correlation is
        kept here (see :class:`~sentinel.detect.correlation.Router`).
        """
        alerts: list[Alert] = []
        for match in matches:
            rule = self._by_id.get(match["rule"])
            correlation = match["correlation"]
            if rule is None or not any(c.id == correlation for c, _ in self._feeds.get(rule.id, ())):
                raise Invalid(
                    f"a forwarded match names rule {match['rule']!r} feeding correlation {correlation!r}, "
                    "which this worker's rules do not have: every worker must run the same rule pack"
                )
            event = match["event"]
            alerts.extend(self.correlations.observe(rule, event, EventView(event), only=correlation))
        alerts.extend(self.correlations.advance())
        return alerts

    def _ruleset(self, view: EventView) -> Prefilter:
        """The rule set for the event's log sources (built on first sight of a signature)."""
        if self.pipeline == "none":
            return self._all
        sig = signature(view)
        ruleset = self._sets.get(sig)
        if ruleset is None:
            if len(self._sets) >= MAX_RULESETS:
                self._sets.clear()
            logsrc = event_logsource(sig)
            rules = [r for r in self.rules if applies(r.logsource, logsrc)]
            ruleset = self._sets[sig] = Prefilter(rules)
        return ruleset

    def matching_rules(self, event: Mapping[str, Any]) -> list[CompiledRule]:
        """The rules that match ``event`` (log source, prefilter and detection), without side effects.

        Unlike :meth:`process` this raises no alert and feeds no correlation: it
        answers "which rules fire on this event", for tests and explanations.
        """
        flat = EventView(event)
        ruleset = self._ruleset(flat)
        low: dict[str, Any] = {}
        cands = ruleset.candidates(flat)
        return [ruleset.rules[i] for i in cands if ruleset.rules[i].matcher(flat, low)]

    def rules_for(self, event: Mapping[str, Any]) -> list[CompiledRule]:
        """The rules whose log source applies to ``event`` (for explaining why a rule did not fire)."""
        return self._ruleset(EventView(event)).rules


# --- alerts --------------------------------------------------------------------------------------


def event_id_of(event: Mapping[str, Any], flat: Mapping[str, Any]) -> str:
    """The event's id, or a deterministic one derived from its content when it has none."""
    eid = flat.get("event.id")
    if isinstance(eid, str) and eid:
        return eid
    return ecs.event_id("detect", 0, orjson.dumps(event, option=orjson.OPT_SORT_KEYS, default=str))


def event_time(flat: Mapping[str, Any]) -> str:
    """The event's ``@timestamp`` as an ECS string (now, if it has none or it is unreadable)."""
    ts = flat.get("@timestamp")
    if isinstance(ts, str) and ts:
        return ts
    try:
        return ecs.format_ts(ecs.parse_ts(ts)) if ts is not None else ecs.now_ts()
    except ValueError:
        return ecs.now_ts()


def entity_of(flat: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Group key and entity of an alert from one event (first of :data:`ENTITY_FIELDS`)."""
    for fld in ENTITY_FIELDS:
        value = flat.get(fld)
        if value not in (None, "", []):
            return str(value), {fld: value}
    return "", {}


def rule_ref(rule: Any) -> RuleRef:
    level = rule.level if rule.level in LEVEL_RISK else "medium"
    return RuleRef(id=rule.id, title=rule.title, level=level, tags=list(rule.tags), description=rule.description)


def rule_alert(rule: CompiledRule, event: dict[str, Any], flat: Mapping[str, Any]) -> Alert:
    """The alert for one simple-rule match: one event, grouped by its entity."""
    group_key, entity = entity_of(flat)
    ts = event_time(flat)
    return build_alert(
        rule_ref(rule),
        group_key=group_key,
        entity=entity,
        events=[event],
        event_ids=[event_id_of(event, flat)],
        first_seen=ts,
        last_seen=ts,
    )


# --- helpers -------------------------------------------------------------------------------------


def _id_for_log(event: Any) -> str:
    try:
        return str(ecs.get_field(event, "event.id"))
    except Exception:
        return "(unreadable event)"


def _rule_files(paths: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"rule path {p} does not exist")
    return files


def _rule_id(rule: SigmaRule | SigmaCorrelationRule) -> str:
    if rule.id is not None:
        return str(rule.id)
    return rule.name or rule.title or "unnamed-rule"


def _path_of(rule: SigmaRule | SigmaCorrelationRule) -> str | None:
    return str(rule.source.path) if rule.source is not None and rule.source.path else None


def _problem(rule: SigmaRule | SigmaCorrelationRule, reason: str) -> RuleProblem:
    return RuleProblem(str(rule.id) if rule.id else rule.name, rule.title, _path_of(rule), reason)
