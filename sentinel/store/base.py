"""The storage interface every backend implements (embedded SQLite, Elasticsearch).

A backend must be safe to share between the ingest path and API threads. The
contract is exercised by ``tests/store/test_contract.py`` against every backend.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import orjson

from sentinel.errors import Invalid, NotFound, Unavailable, VersionConflict
from sentinel.models import Alert, AlertChange
from sentinel.store.expr import Expr, Range, Term, leaves

__all__ = ["InvalidQuery", "NotFound", "StoreError", "VersionConflict"]  # errors callers of a store catch


class StoreError(Unavailable):
    """The store cannot do what was asked (unavailable, corrupt, misconfigured)."""


class InvalidQuery(Invalid):
    """The query itself is wrong (bad cursor, a filter the field cannot take): the caller's mistake, not an outage."""


@dataclass
class EventQuery:
    """What to look for. All given conditions must hold.

    ``filters`` maps a dotted ECS field to the values it may take (any of them);
    a value ending in ``*`` is a prefix match. ``text`` words must all occur in
    the event's searchable text (the original line, message, URL and user agent).
    ``where`` is a parsed query (``sentinel.store.query``), ANDed with the rest,
    so scope filters added to ``filters`` hold whatever the expression says.
    """

    text: str | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    where: Expr | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    cursor: str | None = None
    ascending: bool = False

    def asked(self) -> tuple[dict[str, list[str]], bool]:
        """Every field the query names with the values it names there, and whether it searches free text.

        Access checks read this: a field named anywhere in the expression (under
        NOT or OR too) is a question about that field's values.
        """
        named = {f: list(v) for f, v in self.filters.items()}
        free_text = bool(self.text and self.text.strip())
        for leaf in leaves(self.where):
            if leaf.field is None:
                free_text = True
            else:
                named.setdefault(leaf.field, []).append(_asked_value(leaf))
        return named, free_text


def _asked_value(leaf: Term | Range) -> str:
    if isinstance(leaf, Range):
        return leaf.text()
    return "*" if leaf.kind == "exists" else leaf.value


@dataclass
class EventPage:
    events: list[dict[str, Any]]
    next_cursor: str | None


@dataclass
class AppendResult:
    """Outcome of appending a batch; ``stored`` holds the events that were new."""

    stored: list[dict[str, Any]]
    duplicates: int

    @property
    def stored_count(self) -> int:
        return len(self.stored)


@dataclass
class Encoded:
    """Events as a store writes them, encoded (:func:`encode_events`) where they were transformed.

    In the ingest worker processes when there are some (encoding needs no connection), so the one
    process that writes the store spends its time writing. ``docs`` are the ECS documents as JSON;
    ``rows`` what the backend computes from each besides (:attr:`Store.prepare`), None if nothing.
    """

    ids: list[str]
    docs: list[bytes]
    rows: list[tuple[Any, ...]] | None = None


@dataclass
class Appended:
    """Outcome of appending an :class:`Encoded` batch: the positions of the events that were new."""

    stored: list[int]
    duplicates: int


Prepare = Callable[[Mapping[str, Any]], tuple[Any, ...]]


def encode_events(events: Iterable[Mapping[str, Any]], prepare: Prepare | None) -> Encoded:
    """``events`` as a store writes them (``prepare``: the store's :attr:`Store.prepare`).

    Raises :class:`StoreError` for an event without an id: ids are what make a replay harmless.
    """
    from sentinel import ecs

    ids: list[str] = []
    docs: list[bytes] = []
    rows: list[tuple[Any, ...]] | None = [] if prepare is not None else None
    for doc in events:
        eid = ecs.get_field(doc, "event.id")
        if not eid or not isinstance(eid, str):
            raise StoreError("every event needs event.id (see sentinel.ecs.event_id)")
        ids.append(eid)
        docs.append(orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS))
        if rows is not None and prepare is not None:
            rows.append(prepare(doc))
    return Encoded(ids, docs, rows)


@dataclass
class AlertQuery:
    status: list[str] = field(default_factory=list)
    rule_id: str | None = None
    severity: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)  # exact label values (province, commune): scoped lists
    limit: int = 100
    offset: int = 0


# What an alert label name may be in a query (it becomes part of a JSON path or a field name).
LABEL_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def label_names(q: AlertQuery) -> list[str]:
    """The query's label names, checked; :class:`InvalidQuery` for a name that cannot be a label."""
    for name in q.labels:
        if not LABEL_NAME.match(name):
            raise InvalidQuery(f"alert label {name!r} is not a label name (letters, digits and _)")
    return list(q.labels)


def unique_by_event_id(events: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Mapping[str, Any]], int]:
    """The batch keyed by ``event.id`` (first copy wins) and how many repeats it held.

    Raises :class:`StoreError` for an event without an id: ids are what make a replay harmless.
    """
    from sentinel import ecs

    batch: dict[str, Mapping[str, Any]] = {}
    duplicates = 0
    for doc in events:
        eid = ecs.get_field(doc, "event.id")
        if not eid:
            raise StoreError("every event needs event.id (see sentinel.ecs.event_id)")
        if eid in batch:
            duplicates += 1
        else:
            batch[eid] = doc
    return batch, duplicates


class Store(abc.ABC):
    """Where events and alerts live."""

    backend: str = "abstract"

    @abc.abstractmethod
    def append_events(self, events: Iterable[Mapping[str, Any]]) -> AppendResult:
        """Store ECS events, skipping any whose ``event.id`` is already stored.

        Returns which events were new: detection runs on those only, so a
        replay neither duplicates events nor raises alerts twice.
        """

    # What this backend computes from one event besides its JSON, wherever the event is encoded (a
    # module-level function, so worker processes get it by reference), or None.
    prepare: ClassVar[Prepare | None] = None

    def append_encoded(self, batch: Encoded) -> Appended:
        """:meth:`append_events` for events already encoded: which of them (positions) were new.

        The first copy of an id in the batch is the one stored. This default decodes the documents
        and appends them; a backend with a :attr:`prepare` step writes the encoded rows as they are.
        """
        from sentinel import ecs

        result = self.append_events([orjson.loads(d) for d in batch.docs])
        new = {ecs.get_field(e, "event.id") for e in result.stored}
        first: dict[str, int] = {}
        for i, eid in enumerate(batch.ids):
            first.setdefault(eid, i)
        return Appended([i for eid, i in first.items() if eid in new], result.duplicates)

    def known_ids(self, ids: list[str]) -> set[str]:
        """Which of these event ids are stored already, when the store can tell cheaply.

        The pipeline drops those events before its transforms, so replaying a
        file or a collector's queue costs parsing only. An empty answer is always
        correct (``append_events`` still refuses duplicates): the default, and
        what Elasticsearch gives, whose duplicate check needs an event's data
        stream, known only after enrichment.
        """
        return set()

    @abc.abstractmethod
    def search_events(self, query: EventQuery) -> EventPage:
        """Events matching ``query``, newest first unless ``ascending``."""

    @abc.abstractmethod
    def count_events(self, query: EventQuery) -> int:
        """How many events match ``query`` (ignores limit and cursor)."""

    @abc.abstractmethod
    def histogram(self, query: EventQuery, start: datetime, step: timedelta, buckets: int) -> list[int]:
        """Matches of ``query`` in each of ``buckets`` spans of ``step`` from ``start`` (its time range too).

        One aggregation in the backend (SQLite's GROUP BY, Elasticsearch's
        ``date_histogram``), not a count per span: the search page draws up to
        48 bars on every load.
        """

    @abc.abstractmethod
    def get_event(self, event_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def record_alert(self, alert: Alert) -> Alert:
        """Insert an alert, or fold it into the open alert of the same rule and group.

        Folding adds the count, extends ``last_seen`` and the evidence, and
        bumps the version, so one noisy source gives one alert with a count.
        """

    @abc.abstractmethod
    def get_alert(self, alert_id: str) -> Alert | None: ...

    @abc.abstractmethod
    def list_alerts(self, query: AlertQuery) -> list[Alert]: ...

    @abc.abstractmethod
    def count_alerts(self, query: AlertQuery) -> int: ...

    @abc.abstractmethod
    def update_alert(
        self, alert_id: str, changes: Mapping[str, Any], expected_version: int, actor: str, action: str = "update"
    ) -> Alert:
        """Apply ``changes`` if the alert is still at ``expected_version``.

        Raises :class:`NotFound` or :class:`VersionConflict`. Every change is
        written to the alert's history with the values before and after.
        """

    @abc.abstractmethod
    def alert_history(self, alert_id: str) -> list[AlertChange]: ...

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
