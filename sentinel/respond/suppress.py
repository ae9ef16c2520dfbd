"""Suppression windows and exceptions: stop known-benign matches from reaching the queue.

A *window* mutes a rule (optionally for some entities) for a short planned time,
e.g. a penetration test or maintenance; an *exception* says that given field
values are benign for a rule, e.g. the portal's own uptime probe. Both always
have a reason and an expiry, so nothing stays muted by accident, and every
change is audited. Matching is backend-independent: it runs on alerts as the
detector emits them (:class:`SuppressingDetector`), before they are recorded.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sentinel import ecs
from sentinel.audit import Row
from sentinel.detect import Detector
from sentinel.errors import NotFound, VersionConflict
from sentinel.models import Alert, RuleRef
from sentinel.respond.db import ResponseDB

MAX_DURATION = timedelta(days=366)


class SuppressionIn(BaseModel):
    """What a user asks for; validated before anything is stored."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["window", "exception"] = "exception"
    rule_id: str | None = Field(None, description="the rule it applies to; none means every rule")
    match: dict[str, list[str]] = Field(
        default_factory=dict,
        description="dotted field -> accepted values; every field must match one value. "
        "A value ending in * is a prefix; an address field (*.ip) also takes a CIDR range.",
    )
    reason: str = Field(min_length=3, max_length=2000)
    starts: datetime | None = None
    expires: datetime

    @model_validator(mode="after")
    def _check(self) -> SuppressionIn:
        if not self.rule_id and not self.match:
            raise ValueError("give a rule_id or field values to match: a suppression cannot mute everything")
        for field, values in self.match.items():
            if not values or any(not isinstance(v, str) or not v for v in values):
                raise ValueError(f"match.{field}: give at least one non-empty value")
            if field.endswith(".ip"):
                for v in values:
                    if "/" in v:
                        try:
                            ipaddress.ip_network(v, strict=False)
                        except ValueError:
                            raise ValueError(f"match.{field}: {v!r} is not an address range like 10.0.0.0/8") from None
        starts = self.starts or datetime.now(UTC)
        expires = self.expires if self.expires.tzinfo else self.expires.replace(tzinfo=UTC)
        if expires <= starts:
            raise ValueError("expires must be after starts (and after now)")
        if expires - starts > MAX_DURATION:
            raise ValueError("a suppression may last at most 366 days; renew it when it expires")
        return self


class Suppression(BaseModel):
    id: str
    kind: Literal["window", "exception"]
    rule_id: str | None
    match: dict[str, list[str]]
    reason: str
    starts: str
    expires: str
    created_by: str
    created_at: str
    ended_by: str | None = None
    ended_reason: str | None = None
    hits: int = 0
    version: int = 1
    # The author's place labels (province, commune): the suppression matches only alerts inside them,
    # so a provincial lead cannot mute another province's detections. Empty: national.
    scope: dict[str, str] = Field(default_factory=dict)

    def active(self, now: datetime) -> bool:
        return ecs.parse_ts(self.starts) <= now < ecs.parse_ts(self.expires)

    def matches(self, alert: Alert, values: AlertValues | None = None) -> bool:
        """True when the alert is inside this suppression's scope, of its rule, and every field matches one value."""
        if self.rule_id and alert.rule.id != self.rule_id:
            return False
        if any(alert.labels.get(name) != value for name, value in self.scope.items()):
            return False
        values = values or AlertValues(alert)
        return all(_any_matches(values, field, wanted) for field, wanted in self._compiled.items())

    @cached_property
    def _compiled(self) -> dict[str, list[tuple[str, Any]]]:
        """Each wanted value parsed once: ("prefix", text), ("net", network) or ("exact", text)."""
        out: dict[str, list[tuple[str, Any]]] = {}
        for field, values in self.match.items():
            items = out[field] = []
            for v in values:
                if v.endswith("*"):
                    items.append(("prefix", v[:-1]))
                elif field.endswith(".ip") and "/" in v:
                    net = ipaddress.ip_network(v, strict=False)
                    items.append(("net", (net.version, int(net.network_address), int(net.broadcast_address))))
                else:
                    items.append(("exact", v))
        return out


def audited(item: Suppression) -> dict[str, Any]:
    """A suppression as people decided it: all but the hit counter, which matching alerts move."""
    return item.model_dump(exclude={"hits"})


class SuppressionWitness:
    """How ``sentinel audit verify`` reads suppressions."""

    kind = "suppression"

    def __init__(self, suppressions: Suppressions) -> None:
        self.suppressions = suppressions

    def rows(self, object_id: str) -> list[Row]:
        return self.suppressions.db.history_rows(self.kind, object_id)

    def state(self, object_id: str) -> dict[str, Any] | None:
        item = self.suppressions.get(object_id)
        return audited(item) if item else None


class AlertValues:
    """Field values of one alert (its own fields, entity, labels, evidence), computed once per field."""

    def __init__(self, alert: Alert) -> None:
        self.alert = alert
        self._cache: dict[str, list[Any]] = {}
        self._addresses: dict[str, list[tuple[int, int]]] = {}

    def get(self, field: str) -> list[Any]:
        found = self._cache.get(field)
        if found is None:
            found = self._cache[field] = self._lookup(field)
        return found

    def addresses(self, field: str) -> list[tuple[int, int]]:
        """The field's values that are IP addresses, as (version, integer), parsed once."""
        found = self._addresses.get(field)
        if found is None:
            found = []
            for v in self.get(field):
                try:
                    ip = ipaddress.ip_address(str(v))
                except ValueError:
                    continue
                found.append((ip.version, int(ip)))
            self._addresses[field] = found
        return found

    def _lookup(self, field: str) -> list[Any]:
        a = self.alert
        found: list[Any] = []
        head, _, rest = field.partition(".")
        if head == "rule" and rest in RuleRef.model_fields:
            found.append(getattr(a.rule, rest))
        elif not rest and field in Alert.model_fields:
            found.append(getattr(a, field))
        if head == "labels" and rest in a.labels:
            found.append(a.labels[rest])
        for source in (a.entity, *a.events):
            v = ecs.get_field(source, field)
            if v is not None:
                found.extend(v if isinstance(v, list) else [v])
        return list(dict.fromkeys(found)) if all(isinstance(v, str | int | float | bool) for v in found) else found


def _any_matches(values: AlertValues, field: str, wanted: list[tuple[str, Any]]) -> bool:
    actual = values.get(field)
    for kind, w in wanted:
        if kind == "net":
            version, lo, hi = w
            if any(v == version and lo <= n <= hi for v, n in values.addresses(field)):
                return True
        elif kind == "prefix":
            if any(str(v).startswith(w) for v in actual):
                return True
        elif any(str(v) == w for v in actual):
            return True
    return False


class Suppressions:
    """Suppressions in ``respond.db``: create, end early, list, and match alerts against the active ones."""

    def __init__(self, db: ResponseDB, cache_seconds: float = 5.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._cache: tuple[float, list[Suppression]] | None = None
        self._cache_lock = threading.Lock()

    def create(self, spec: SuppressionIn, actor: str, scope: Mapping[str, str] | None = None) -> Suppression:
        """Store a suppression confined to ``scope`` (its author's place labels; empty or None: national)."""
        now = ecs.now_ts()
        item = Suppression(
            id=secrets.token_hex(8),
            kind=spec.kind,
            rule_id=spec.rule_id,
            match=spec.match,
            reason=spec.reason,
            starts=ecs.format_ts(spec.starts) if spec.starts else now,
            expires=ecs.format_ts(spec.expires),
            created_by=actor,
            created_at=now,
            scope=dict(scope or {}),
        )
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO suppressions(id, expires, version, doc) VALUES (?,?,?,?)",
                (item.id, _ms(item.expires), item.version, orjson.dumps(item.model_dump())),
            )
            self.db.audit(
                conn, actor, "suppression", item.id, "create", {}, item.model_dump(), state=audited(item), version=1
            )
        self._cache = None
        return item

    def get(self, suppression_id: str) -> Suppression | None:
        row = self.db.conn().execute("SELECT doc FROM suppressions WHERE id = ?", (suppression_id,)).fetchone()
        return Suppression.model_validate(orjson.loads(row[0])) if row else None

    def list(self, include_expired: bool = False, limit: int = 500) -> list[Suppression]:
        where = "" if include_expired else " WHERE expires > ?"
        params: list[Any] = [] if include_expired else [int(time.time() * 1000)]
        rows = self.db.conn().execute(
            f"SELECT doc FROM suppressions{where} ORDER BY expires DESC LIMIT ?", [*params, limit]
        )
        return [Suppression.model_validate(orjson.loads(r[0])) for r in rows]

    def end(self, suppression_id: str, expected_version: int, actor: str, reason: str) -> Suppression:
        """Expire a suppression now (it stays listed with who ended it and why)."""
        if len(reason.strip()) < 3:
            raise ValueError("say why the suppression is ended early")
        with self.db.write() as conn:
            row = conn.execute("SELECT doc FROM suppressions WHERE id = ?", (suppression_id,)).fetchone()
            if not row:
                raise NotFound(f"no suppression with id {suppression_id}")
            old = Suppression.model_validate(orjson.loads(row[0]))
            if old.version != expected_version:
                raise VersionConflict(suppression_id, expected_version, old.version)
            new = old.model_copy(
                update={
                    "expires": ecs.now_ts(),
                    "ended_by": actor,
                    "ended_reason": reason.strip(),
                    "version": old.version + 1,
                }
            )
            conn.execute(
                "UPDATE suppressions SET expires=?, version=?, doc=? WHERE id=?",
                (_ms(new.expires), new.version, orjson.dumps(new.model_dump()), new.id),
            )
            self.db.audit(
                conn,
                actor,
                "suppression",
                new.id,
                "end",
                {"expires": old.expires},
                {"expires": new.expires, "reason": new.ended_reason},
                state=audited(new),
                version=new.version,
            )
        self._cache = None
        return new

    def active(self, now: datetime | None = None) -> list[Suppression]:
        """Active suppressions, cached for a few seconds: the detector path asks for every batch."""
        mono = time.monotonic()
        with self._cache_lock:
            if self._cache is None or mono - self._cache[0] > self.cache_seconds:
                self._cache = (mono, self.list())
            items = self._cache[1]
        now = now or datetime.now(UTC)
        return [s for s in items if s.active(now)]

    def first_match(self, alert: Alert, now: datetime | None = None) -> Suppression | None:
        return _first(_by_rule(self.active(now)), alert)

    def filter(self, alerts: list[Alert]) -> list[Alert]:
        """The alerts no active suppression matches; hits are counted on the suppressions."""
        if not alerts:
            return alerts
        active = self.active()
        if not active:
            return alerts
        index = _by_rule(active)
        kept: list[Alert] = []
        hits: dict[str, int] = {}
        for alert in alerts:
            s = _first(index, alert)
            if s is None:
                kept.append(alert)
            else:
                hits[s.id] = hits.get(s.id, 0) + alert.count
        if hits:
            self._count_hits(hits)
        return kept

    def _count_hits(self, hits: Mapping[str, int]) -> None:
        with self.db.write() as conn:
            for sid, n in hits.items():
                row = conn.execute("SELECT doc FROM suppressions WHERE id = ?", (sid,)).fetchone()
                if row:
                    doc = orjson.loads(row[0])
                    doc["hits"] = doc.get("hits", 0) + n
                    conn.execute("UPDATE suppressions SET doc=? WHERE id=?", (orjson.dumps(doc), sid))


def _by_rule(items: list[Suppression]) -> dict[str | None, list[Suppression]]:
    """Suppressions per rule id (None: those for every rule), so an alert is tried against its own only."""
    index: dict[str | None, list[Suppression]] = {}
    for s in items:
        index.setdefault(s.rule_id, []).append(s)
    return index


def _first(index: dict[str | None, list[Suppression]], alert: Alert) -> Suppression | None:
    candidates = [*index.get(alert.rule.id, ()), *index.get(None, ())]
    if not candidates:
        return None
    values = AlertValues(alert)
    return next((s for s in candidates if s.matches(alert, values)), None)


class SuppressingDetector:
    """Wraps a :class:`~sentinel.detect.detector.Detector` so suppressed alerts are never recorded."""

    def __init__(self, inner: Detector, suppressions: Suppressions) -> None:
        self.inner = inner
        self.suppressions = suppressions

    def process(self, events: list[dict[str, Any]]) -> list[Alert]:
        return self.suppressions.filter(self.inner.process(events))

    def match(self, events: list[dict[str, Any]]) -> list[tuple[int, ...]]:
        return self.inner.match(events)

    def raise_matched(self, matched: Sequence[tuple[dict[str, Any], Sequence[int]]]) -> list[Alert]:
        return self.suppressions.filter(self.inner.raise_matched(matched))

    def flush(self) -> list[Alert]:
        return self.suppressions.filter(self.inner.flush())

    def receive(self, matches: Sequence[Mapping[str, Any]]) -> list[Alert]:
        return self.suppressions.filter(self.inner.receive(matches))


def parse_suppression(data: Mapping[str, Any]) -> SuppressionIn:
    """Validate user input; raise ``ValueError`` with ``field: reason`` on the first problem."""
    try:
        return SuppressionIn.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "suppression"
        raise ValueError(f"{field}: {err['msg']}") from None


def _ms(ts: str) -> int:
    return int(ecs.parse_ts(ts).timestamp() * 1000)
