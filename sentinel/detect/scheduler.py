"""Running the rule pack inside Elasticsearch on a schedule, when Sentinel stores its events there.

The streaming engine sees events as they are ingested by this process; events
that reach Elasticsearch another way (Beats, Logstash, another Sentinel
instance) are covered by this scheduler instead. Every rule is converted to
ES|QL (:mod:`sentinel.detect.convert`, so field mapping, log-source routing and
case-insensitive matching are those of the engine) and run over consecutive
time windows:

* a simple rule is run over ``[last end, now - settle)``; each hit becomes the
  same :class:`~sentinel.models.Alert` the engine raises
  (:func:`sentinel.detect.engine.rule_alert`), built from the event's full
  ``_source`` fetched with ``mget``;
* a correlation rule (pySigma's ES|QL ``stats ... by timebucket, <group-by>``)
  is run over whole buckets of its timespan that have closed; each row is a
  group that met the condition, and its events are fetched with the rule's
  search part restricted to the group and bucket, to build the alert the
  engine's correlation stage would (same id, group key, entity, evidence cap).

Windows never overlap, so an event is alerted on once even though
``Store.record_alert`` folds repeated alerts into one. ``settle`` is how long
after an event's time it is assumed to be searchable (ingest delay plus refresh).
Known difference from the stream: correlation buckets are tumbling (aligned to
the timespan), the engine's windows slide, so a burst that straddles a bucket
boundary can stay below the threshold in both buckets.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from sentinel import ecs
from sentinel.detect.alerts import build_alert, group_key_of
from sentinel.detect.convert import DEFAULT_INDEX, convert_rules
from sentinel.detect.engine import rule_alert, rule_ref
from sentinel.models import LEVEL_RISK, MAX_EVIDENCE_EVENTS, SCOPE_LABELS, Alert
from sentinel.store import Store, StoreError

log = logging.getLogger(__name__)

# What the scope of a correlation alert is read from, for every hit beyond the evidence kept on it.
PLACE_FIELDS = tuple(f"labels.{name}" for name in SCOPE_LABELS)
# Rows one ES|QL query may return; a window with more hits is split in halves and retried.
MAX_ROWS = 10_000


@dataclass
class ScheduledRule:
    """A converted rule with what the scheduler needs to run it and to describe its alerts."""

    id: str
    title: str
    level: str
    tags: list[str]
    description: str | None
    query: str  # ES|QL from pySigma (correlations: search, aggregation and condition lines)
    group_by: list[str] = field(default_factory=list)
    timespan: float | None = None  # seconds; None for simple rules

    @property
    def is_correlation(self) -> bool:
        return self.timespan is not None

    @property
    def search(self) -> str:
        """The ``FROM ... | WHERE ...`` part selecting the rule's events."""
        return self.query.split("\n", 1)[0]


def scheduled_rules(
    rules: Sequence[SigmaRule | SigmaCorrelationRule], index: str = DEFAULT_INDEX
) -> tuple[list[ScheduledRule], list[str]]:
    """Convert ``rules`` to ES|QL; return the runnable rules and, for the others, why not."""
    runnable, skipped = [], []
    for conv in convert_rules(rules, "esql", index):
        rule = conv.rule
        if conv.error or len(conv.queries) != 1:
            skipped.append(f"{rule.title}: {conv.error or f'{len(conv.queries)} queries'}")
            continue
        level = rule.level.name.lower() if rule.level else "medium"
        common = {
            "id": conv.rule_id,
            "title": rule.title,
            "level": level if level in LEVEL_RISK else "medium",
            "tags": [str(t) for t in rule.tags],
            "description": rule.description,
            "query": conv.queries[0],
        }
        if isinstance(rule, SigmaCorrelationRule):
            group_by = list(rule.group_by or [])
            runnable.append(ScheduledRule(**common, group_by=group_by, timespan=float(rule.timespan.seconds)))
        else:
            runnable.append(ScheduledRule(**common))
    return runnable, skipped


def _esql_time(dt: datetime) -> str:
    return f'TO_DATETIME("{ecs.format_ts(dt)}")'


def _esql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _quote_field(name: str) -> str:
    return name if re.fullmatch(r"[\w.]+", name) and not name.startswith("@") else f"`{name}`"


def window_query(search: str, start: datetime, end: datetime, extra: Sequence[str] = (), limit: int = MAX_ROWS) -> str:
    """``search`` restricted to ``[start, end)`` (and ``extra`` conditions), oldest first, ids only.

    The time range goes right after ``FROM`` so Elasticsearch can skip whole
    backing indices before evaluating the rule's conditions.
    """
    source, bar, rest = search.partition("|")
    conditions = [f"`@timestamp` >= {_esql_time(start)}", f"`@timestamp` < {_esql_time(end)}", *extra]
    query = f"{source.rstrip()} | where {' and '.join(conditions)}"
    if bar:
        query += f" |{rest}"
    return query + f" | sort `@timestamp` asc | keep _id, _index, `@timestamp` | limit {limit}"


def correlation_query(rule: ScheduledRule, start: datetime, end: datetime) -> str:
    """The correlation's aggregation over the closed buckets in ``[start, end)``."""
    search, _, tail = rule.query.partition("\n")
    source, bar, rest = search.partition("|")
    query = f"{source.rstrip()} | where `@timestamp` >= {_esql_time(start)} and `@timestamp` < {_esql_time(end)}"
    if bar:
        query += f" |{rest}"
    return query + "\n" + tail


def group_conditions(group: Mapping[str, Any]) -> list[str]:
    return [
        f"{_quote_field(k)} is null" if v is None else f"{_quote_field(k)} == {_esql_literal(v)}"
        for k, v in group.items()
    ]


def _rows(response: Any) -> list[dict[str, Any]]:
    """ES|QL JSON (``columns`` + ``values``) as dicts keyed by column name."""
    body = response.body if hasattr(response, "body") else response
    names = [c["name"] for c in body.get("columns", [])]
    return [dict(zip(names, row, strict=True)) for row in body.get("values", [])]


def _group_value(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "" if value is None else value


def correlation_alert(
    rule: ScheduledRule,
    group: Mapping[str, Any],
    hits: Sequence[Mapping[str, Any]],
    events: list[dict[str, Any]],
    places: Sequence[Mapping[str, Any]] | None = None,
) -> Alert:
    """The alert the engine's correlation stage raises for one group.

    ``hits`` are the group's matching events in the bucket, oldest first, as
    ``_id``/``@timestamp`` rows (``_id`` is the event's ``event.id`` in the
    Elasticsearch store); ``events`` the full documents of the first of them;
    ``places`` the place labels of every hit (the alert's scope comes from all of them).
    """
    entity = {k: _group_value(group.get(k)) for k in rule.group_by}
    return build_alert(
        rule_ref(rule),
        group_key=group_key_of(entity),
        entity=entity,
        events=events,
        event_ids=[str(h["_id"]) for h in hits],
        count=len(hits),
        first_seen=ecs.format_ts(ecs.parse_ts(hits[0]["@timestamp"])),
        last_seen=ecs.format_ts(ecs.parse_ts(hits[-1]["@timestamp"])),
        scope_evidence=events if places is None else places,
    )


class Scheduler:
    """Runs :class:`ScheduledRule` s against Elasticsearch over consecutive windows and records the alerts."""

    def __init__(
        self,
        client: Any,
        store: Store,
        rules: Iterable[ScheduledRule],
        *,
        interval: float = 60.0,
        settle: float = 60.0,
        lookback: float = 3600.0,
    ) -> None:
        """``client`` is an ``elasticsearch.Elasticsearch``; the first run looks ``lookback`` seconds back."""
        self.client = client
        self.store = store
        self.rules = list(rules)
        self.interval = interval
        self.settle = timedelta(seconds=settle)
        self.lookback = timedelta(seconds=lookback)
        # rule id -> where the next window starts (set on the first pass, moved only when a pass succeeds)
        self.done_until: dict[str, datetime] = {}
        self.errors: dict[str, str] = {}  # rule id -> last error, for status reporting

    @classmethod
    def from_paths(
        cls, client: Any, store: Store, paths: Sequence[str | Path], **kwargs: Any
    ) -> tuple[Scheduler, list[str]]:
        """Load and convert a rule pack; also return the rules that could not be converted, with why."""
        from sentinel.detect.attack_data import install_offline
        from sentinel.detect.pack import load_pack

        install_offline()
        pack = load_pack(paths)
        index = kwargs.pop("index", DEFAULT_INDEX)
        rules, skipped = scheduled_rules([r.rule for r in pack.rules], index)
        skipped = [str(e) for e in pack.errors] + skipped
        return cls(client, store, rules, **kwargs), skipped

    # --- one pass ---------------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> list[Alert]:
        """Search every rule's next window up to ``now - settle``; record and return the alerts."""
        now = now or datetime.now(UTC)
        horizon = now - self.settle
        alerts: list[Alert] = []
        connect = getattr(self.store, "connect", None)  # the Elasticsearch store checks the client fits the cluster
        if connect is not None:
            try:
                connect()
            except StoreError as exc:  # unreachable, or a client of the wrong major: no rule can run this pass
                self.errors = dict.fromkeys((rule.id for rule in self.rules), str(exc))
                log.warning("scheduled rules not run: %s", exc)
                return alerts
        for rule in self.rules:
            try:
                found = self._run_correlation(rule, horizon) if rule.is_correlation else self._run_search(rule, horizon)
            except Exception as exc:  # a failing rule must not stop the others; the window is retried next time
                self.errors[rule.id] = _describe(exc)
                log.warning("scheduled rule %s (%s) failed: %s", rule.title, rule.id, self.errors[rule.id])
                continue
            self.errors.pop(rule.id, None)
            for alert in found:
                self.store.record_alert(alert)
            alerts.extend(found)
        return alerts

    def run_forever(self, stop: threading.Event) -> None:
        """Call :meth:`run_once` every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            self.run_once()
            stop.wait(self.interval)

    def _run_search(self, rule: ScheduledRule, horizon: datetime) -> list[Alert]:
        start = self.done_until.setdefault(rule.id, horizon - self.lookback)
        if start >= horizon:
            return []
        hits = self._hits(rule.search, start, horizon)
        alerts = []
        for event in self._sources(hits):
            alerts.append(rule_alert(rule, event, ecs.flatten(event)))  # type: ignore[arg-type]
        self.done_until[rule.id] = horizon
        return alerts

    def _hits(self, search: str, start: datetime, end: datetime, extra: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Ids of the matching events in ``[start, end)``, splitting the window while it has too many."""
        rows = _rows(self.client.esql.query(query=window_query(search, start, end, extra, MAX_ROWS + 1)))
        if len(rows) <= MAX_ROWS or end - start <= timedelta(seconds=1):
            return rows[:MAX_ROWS]
        middle = start + (end - start) / 2
        return self._hits(search, start, middle, extra) + self._hits(search, middle, end, extra)

    def _sources(self, hits: list[dict[str, Any]], fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """``_source`` of each hit (only ``fields`` when given), in hit order (missing ones are skipped and logged)."""
        out = []
        extra = {"source_includes": list(fields)} if fields else {}
        for i in range(0, len(hits), 1000):
            chunk = hits[i : i + 1000]
            resp = self.client.mget(docs=[{"_index": h["_index"], "_id": h["_id"]} for h in chunk], **extra)
            body = resp.body if hasattr(resp, "body") else resp
            for doc in body.get("docs", []):
                if doc.get("found"):
                    out.append(doc["_source"])
                else:
                    log.warning("event %s in %s vanished before it could be read", doc.get("_id"), doc.get("_index"))
        return out

    def _run_correlation(self, rule: ScheduledRule, horizon: datetime) -> list[Alert]:
        span = timedelta(seconds=rule.timespan or 0)
        closed = _floor(horizon, span)  # buckets ending at or before the horizon are complete
        start = self.done_until.setdefault(rule.id, _floor(horizon - self.lookback, span))
        if start >= closed:
            return []
        alerts = []
        for row in _rows(self.client.esql.query(query=correlation_query(rule, start, closed))):
            bucket = ecs.parse_ts(row["timebucket"])
            group = {k: row.get(k) for k in rule.group_by}
            hits = self._hits(rule.search, bucket, bucket + span, group_conditions(group))
            if not hits:
                continue
            evidence = self._sources(hits[:MAX_EVIDENCE_EVENTS])
            places = evidence if len(hits) <= MAX_EVIDENCE_EVENTS else self._sources(hits, fields=PLACE_FIELDS)
            alerts.append(correlation_alert(rule, group, hits, evidence, places))
        self.done_until[rule.id] = closed
        return alerts


def _describe(exc: Exception) -> str:
    """The error with Elasticsearch's own reason when it gave one (e.g. an ES|QL verification message)."""
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    reason = error.get("reason") if isinstance(error, dict) else None
    return f"{type(exc).__name__}: {exc}" + (f": {reason}" if reason else "")


def _floor(dt: datetime, span: timedelta) -> datetime:
    """Start of the ``span``-long bucket holding ``dt`` (buckets aligned to the epoch, as ``date_trunc``)."""
    seconds = span.total_seconds()
    if seconds <= 0:
        return dt
    epoch = dt.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)
