"""The production store: Elasticsearch data streams for events, indices for alerts.

Events go to ``logs-sentinel.<dataset>-<namespace>`` data streams (see
:mod:`sentinel.store.es_templates`) through :class:`~sentinel.store.es_bulk.BulkWriter`,
which guarantees one copy per ``event.id`` and keeps what the cluster refused
in a local dead-letter file. Searches use a point in time with ``search_after``
so paging is stable while new events arrive.

Alerts are ordinary documents updated with ``if_seq_no``/``if_primary_term``:
two analysts editing one alert cannot overwrite each other; the loser gets
:class:`~sentinel.store.base.VersionConflict` (HTTP 409 in the API). Folding a
repeat into the open alert of its rule and group goes through a pointer
document per (rule, group), read and claimed in real time (GET and ``create``
are real-time in Elasticsearch; search is not), so concurrent detectors never
open two alerts for one group.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
from elastic_transport import TransportError
from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError, OrjsonSerializer

from sentinel import ecs
from sentinel.config import Settings, hint
from sentinel.models import Alert, AlertChange, scope_of
from sentinel.store.alert_ops import apply_update, fold
from sentinel.store.base import (
    AlertQuery,
    AppendResult,
    EventPage,
    EventQuery,
    InvalidQuery,
    NotFound,
    Store,
    StoreError,
    VersionConflict,
    label_names,
    unique_by_event_id,
)
from sentinel.store.es_bulk import BulkLimits, BulkWriter, DeadLetter, DeadLetterEntry
from sentinel.store.es_query import event_query
from sentinel.store.es_templates import DEFAULT_NAMES, Names, dataset_name, namespace_name
from sentinel.store.es_version import ClusterInfo, cluster_info, compatibility, refusal_of
from sentinel.store.query import QuerySyntaxError

log = logging.getLogger(__name__)

PIT_KEEP_ALIVE = "2m"
FOLD_ATTEMPTS = 8
# A group pointer whose alert is not written yet belongs to a writer between its two steps for this long;
# after that the writer is taken to have died and the pointer is taken over.
CLAIM_GRACE_SECONDS = 5.0


@dataclass
class ESAppendResult(AppendResult):
    """As :class:`AppendResult`, plus how many events went to the dead-letter file."""

    dead_lettered: int = 0


REPLAY_BATCH = 1000  # dead-lettered events sent per bulk round of a replay


@dataclass
class ReplayResult:
    stored: list[dict[str, Any]]
    duplicates: int
    still_failing: int


# -- query translation (pure functions, unit-tested without a cluster) ---------------------------


def alert_query(q: AlertQuery) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if q.status:
        filters.append({"terms": {"status": q.status}})
    if q.severity:
        filters.append({"terms": {"severity": q.severity}})
    if q.rule_id:
        filters.append({"term": {"rule.id": q.rule_id}})
    if q.since is not None:
        filters.append({"range": {"last_seen": {"gte": ecs.format_ts(q.since)}}})
    if q.until is not None:
        filters.append({"range": {"@timestamp": {"lt": ecs.format_ts(q.until)}}})
    for name in label_names(q):
        filters.append({"term": {f"labels.{name}": q.labels[name]}})
    return {"bool": {"filter": filters}} if filters else {"match_all": {}}


HISTOGRAM_AGG = "over_time"


def histogram_request(query: EventQuery, start: datetime, step: timedelta) -> dict[str, Any]:
    """The search body counting ``query``'s events per ``step`` from ``start``: one ``date_histogram``, no hits.

    Fixed intervals are aligned on the epoch; ``offset`` moves them onto
    ``start`` so each bucket key is the start of one of the caller's spans.
    Empty buckets are left out of the answer (``min_doc_count`` 1): the caller
    fills them with zeros.
    """
    width = int(step.total_seconds() * 1000)
    if width <= 0:
        raise InvalidQuery("a histogram step must be longer than zero")
    shift = int(start.timestamp() * 1000) % width
    histogram: dict[str, Any] = {
        "field": "@timestamp",
        "fixed_interval": f"{width // 1000}s" if width % 1000 == 0 else f"{width}ms",
        "min_doc_count": 1,
    }
    if shift:
        histogram["offset"] = f"{shift}ms"
    return {
        "query": event_query(query),
        "size": 0,
        "track_total_hits": False,
        "aggs": {HISTOGRAM_AGG: {"date_histogram": histogram}},
    }


def encode_cursor(pit_id: str | None, after: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"p": pit_id, "a": after})).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str | None, list[Any]]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        # two sort keys (time, event.id), plus the _shard_doc tiebreaker Elasticsearch adds under a PIT
        if not isinstance(data, dict) or not isinstance(data.get("a"), list) or not 2 <= len(data["a"]) <= 3:
            raise ValueError
        return data.get("p"), data["a"]
    except ValueError:
        raise InvalidQuery(f"invalid cursor {cursor[:40]!r}: pass the next_cursor of a previous page") from None


def _pointer_id(alert: Alert) -> str:
    """The open-alert pointer of a rule, group and place: the same entity in another place is another alert."""
    place = scope_of(alert.labels)
    # an alert without a place keeps the key it had before places were part of it
    key = "\0".join((alert.rule.id, alert.group_key, *place) if any(place) else (alert.rule.id, alert.group_key))
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


# -- the store ------------------------------------------------------------------------------------


class ElasticsearchStore(Store):
    """Events and alerts in an Elasticsearch cluster prepared by ``sentinel es setup``."""

    backend = "elasticsearch"

    def __init__(
        self,
        client: Elasticsearch,
        *,
        dead_letter: DeadLetter,
        namespace: str = "default",
        refresh: bool = False,
        limits: BulkLimits | None = None,
        url: str = "",
        names: Names = DEFAULT_NAMES,
    ) -> None:
        """``refresh=True`` makes every write visible to search before returning (tests, demos)."""
        self.client = client
        self.names = names
        self.dead_letter = dead_letter
        self.namespace = namespace_name(namespace)
        self.refresh: bool | str = "wait_for" if refresh else False
        self.writer = BulkWriter(client, limits, refresh=self.refresh)
        self.url = url
        self._checked = False
        self._cluster: ClusterInfo | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, refresh: bool = False, names: Names = DEFAULT_NAMES
    ) -> ElasticsearchStore:
        """Connect with the URL, credentials and CA certificate from the configuration."""
        es = settings.elasticsearch
        if not es.url:
            raise StoreError(
                f"no Elasticsearch URL configured: set {hint('elasticsearch.url')} (https://es.example:9200)"
            )
        kwargs: dict[str, Any] = {
            "request_timeout": 30,
            "max_retries": 3,
            "retry_on_timeout": True,
            # status retries (429/5xx) are done by the bulk writer with backoff, not by the transport
            "retry_on_status": (),
            "verify_certs": es.verify_certs,
            # orjson instead of the standard library: bulk bodies are most of the client's CPU (bench/es_bulk.py)
            "serializer": OrjsonSerializer(),
        }
        if es.api_key:
            kwargs["api_key"] = es.api_key
        elif es.username:
            kwargs["basic_auth"] = (es.username, es.password or "")
        if es.ca_certs:
            if not es.ca_certs.is_file():
                raise StoreError(f"{hint('elasticsearch.ca_certs')}: no CA certificate file at {es.ca_certs}")
            kwargs["ca_certs"] = str(es.ca_certs)
        client = Elasticsearch(es.url, **kwargs)
        return cls(
            client,
            dead_letter=DeadLetter(settings.dead_letter_path),
            namespace=es.namespace,
            refresh=refresh,
            url=es.url,
            names=names,
        )

    def close(self) -> None:
        self.client.close()
        self.dead_letter.close()

    def connect(self) -> ClusterInfo:
        """The cluster's version, checked once against the installed client (see :mod:`es_version`).

        A client of a later major than the cluster is refused with the exact package to install;
        an earlier one works through REST API compatibility and is only logged.
        """
        if self._cluster is None:
            with self._translated():
                info = cluster_info(self.client)
            refusal, advice = compatibility(info)
            if refusal:
                raise StoreError(refusal)
            if advice:
                log.warning(advice)
            self._cluster = info
        return self._cluster

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn client errors into :class:`StoreError` messages that say what to do (connecting first)."""
        if self._cluster is None:
            self.connect()
        with self._translated():
            yield

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except NotFoundError as exc:
            if exc.error == "index_not_found_exception":
                raise StoreError(
                    f"Elasticsearch has no Sentinel indices ({exc.message}); run `sentinel es setup` first"
                ) from None
            raise StoreError(f"Elasticsearch: {exc.message}") from None
        except (ConflictError, QuerySyntaxError):
            raise
        except ApiError as exc:
            raise StoreError(
                refusal_of(exc) or f"Elasticsearch refused the request ({exc.meta.status} {exc.message})"
            ) from None
        except TransportError as exc:
            raise StoreError(f"cannot reach Elasticsearch at {self.url or 'the configured URL'}: {exc}") from None

    def _check_setup(self) -> None:
        """Refuse to write before ``sentinel es setup``: the built-in logs template would map events wrongly."""
        if self._checked:
            return
        with self.errors():
            try:  # GET, not HEAD: the writer role's `monitor` privilege allows reading templates
                self.client.indices.get_index_template(name=self.names.catch_all_template)
            except NotFoundError:
                raise StoreError(
                    "the Elasticsearch cluster is not set up for Sentinel; run `sentinel es setup` first"
                ) from None
        self._checked = True

    # -- events ------------------------------------------------------------------------------
    def target_of(self, doc: Mapping[str, Any]) -> tuple[str, str, str]:
        """``(data stream, dataset, namespace)`` for an event: its dataset and its province."""
        dataset = dataset_name(ecs.get_field(doc, "event.dataset"))
        namespace = namespace_name(ecs.get_field(doc, "labels.province"), self.namespace)
        return self.names.stream(dataset, namespace, self.namespace), dataset, namespace

    def append_events(self, events: Iterable[Mapping[str, Any]]) -> ESAppendResult:
        batch, duplicates = unique_by_event_id(events)
        if not batch:
            return ESAppendResult([], duplicates)
        self._check_setup()
        outgoing: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for eid, doc in batch.items():
            target, dataset, namespace = self.target_of(doc)
            body = {
                **doc,
                "data_stream": {"type": "logs", "dataset": f"{self.names.prefix}.{dataset}", "namespace": namespace},
            }
            outgoing[eid] = (target, body)
        with self.errors():
            outcome = self.writer.write(outgoing)
        unavailable = all(f.error_type == "retries_exhausted" for f in outcome.failed)
        if outcome.failed and unavailable and not outcome.created and not outcome.duplicates:
            # nothing was taken: the caller keeps the batch (collectors queue it) and sends it again later
            raise StoreError(f"Elasticsearch is not taking events: {outcome.failed[0].reason}")
        if outcome.failed:
            self.dead_letter.add(outcome.failed)
            log.error(
                "%d of %d events were refused by Elasticsearch and kept in %s (first: %s: %s); "
                "see `sentinel es dead-letter list`",
                len(outcome.failed),
                len(batch),
                self.dead_letter.path,
                outcome.failed[0].error_type,
                outcome.failed[0].reason,
            )
        created = set(outcome.created)
        return ESAppendResult(
            [dict(d) for e, d in batch.items() if e in created],
            duplicates + len(outcome.duplicates),
            dead_lettered=len(outcome.failed),
        )

    def replay_dead_letter(
        self, limit: int = 10_000, progress: Callable[[int, int], Any] | None = None
    ) -> ReplayResult:
        """Send dead-lettered events again, oldest first, a batch at a time; those stored (or already present)
        leave the file. ``progress(events_done, events)`` is called after each batch.
        """
        total = min(limit, self.dead_letter.count())
        if total:
            self._check_setup()
        stored: list[dict[str, Any]] = []
        duplicates = failing = done = after = 0
        while done < total:
            entries: list[DeadLetterEntry] = self.dead_letter.entries(
                limit=min(REPLAY_BATCH, total - done), after_seq=after
            )
            if not entries:
                break
            with self.errors():
                outcome = self.writer.write({e.event_id: (e.target, e.doc) for e in entries})
            self.dead_letter.remove(outcome.created + outcome.duplicates)
            if outcome.failed:
                self.dead_letter.add(outcome.failed)  # the same rows, a later attempt: their order stays
            created = set(outcome.created)
            stored += [_without_stream_fields(e.doc) for e in entries if e.event_id in created]
            duplicates += len(outcome.duplicates)
            failing += len(outcome.failed)
            done += len(entries)
            after = entries[-1].seq
            if progress is not None:
                progress(done, total)
        return ReplayResult(stored, duplicates, failing)

    def _sort(self, ascending: bool) -> list[dict[str, Any]]:
        order = "asc" if ascending else "desc"
        return [
            {"@timestamp": {"order": order, "unmapped_type": "date"}},
            {"event.id": {"order": order, "unmapped_type": "keyword"}},
        ]

    def search_events(self, query: EventQuery) -> EventPage:
        pit_id, after = decode_cursor(query.cursor) if query.cursor else (None, None)
        body: dict[str, Any] = {
            "query": event_query(query),
            "sort": self._sort(query.ascending),
            "size": query.limit + 1,
            "source_excludes": ["data_stream"],
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = after
        with self.errors():
            if pit_id is None:
                pit_id = self._open_pit()
            try:
                resp = self.client.search(pit={"id": pit_id, "keep_alive": PIT_KEEP_ALIVE}, **body)
            except NotFoundError:
                # the point in time expired between pages: the sort keys still say where to continue
                pit_id = self._open_pit()
                resp = self.client.search(pit={"id": pit_id, "keep_alive": PIT_KEEP_ALIVE}, **body)
            hits = resp["hits"]["hits"]
            pit_id = resp.get("pit_id", pit_id)
            more = len(hits) > query.limit
            hits = hits[: query.limit]
            if not more:
                self._close_pit(pit_id)
        nxt = encode_cursor(pit_id, hits[-1]["sort"]) if more and hits else None
        return EventPage([h["_source"] for h in hits], nxt)

    def _open_pit(self) -> str:
        resp = self.client.open_point_in_time(
            index=self.names.events_pattern,
            keep_alive=PIT_KEEP_ALIVE,
            ignore_unavailable=True,
        )
        return resp["id"]

    def _close_pit(self, pit_id: str) -> None:
        with suppress(NotFoundError):  # already expired: nothing to release
            self.client.close_point_in_time(id=pit_id)

    def count_events(self, query: EventQuery) -> int:
        with self.errors():
            resp = self.client.count(
                index=self.names.events_pattern,
                query=event_query(query),
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        return int(resp["count"])

    def histogram(self, query: EventQuery, start: datetime, step: timedelta, buckets: int) -> list[int]:
        """One ``date_histogram`` aggregation over the matching events instead of a count per bucket."""
        end = start + buckets * step
        since = start if query.since is None else max(start, query.since)
        until = end if query.until is None else min(end, query.until)
        out = [0] * buckets
        if since >= until:
            return out
        body = histogram_request(replace(query, since=since, until=until, cursor=None), start, step)
        with self.errors():
            resp = self.client.search(
                index=self.names.events_pattern, ignore_unavailable=True, allow_no_indices=True, **body
            )
        width, origin = int(step.total_seconds() * 1000), int(start.timestamp() * 1000)
        for bucket in (resp.get("aggregations") or {}).get(HISTOGRAM_AGG, {}).get("buckets", []):
            i = (int(bucket["key"]) - origin) // width
            if 0 <= i < buckets:
                out[i] += int(bucket["doc_count"])
        return out

    def get_event(self, event_id: str) -> dict[str, Any] | None:
        with self.errors():
            resp = self.client.search(
                index=self.names.events_pattern,
                query={"ids": {"values": [event_id]}},
                size=1,
                source_excludes=["data_stream"],
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        hits = resp["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    # -- alerts ------------------------------------------------------------------------------
    def _get(self, index: str, doc_id: str) -> tuple[dict[str, Any], int, int] | None:
        """Real-time GET: ``(source, seq_no, primary_term)`` or None."""
        with self.errors():
            try:
                resp = self.client.get(index=index, id=doc_id)
            except NotFoundError as exc:
                if exc.error == "index_not_found_exception":
                    raise
                return None
        return resp["_source"], resp["_seq_no"], resp["_primary_term"]

    def _history(self, alert: Alert, actor: str, action: str, before: dict, after: dict) -> None:
        change = AlertChange(
            alert_id=alert.id,
            version=alert.version,
            at=ecs.now_ts(),
            actor=actor,
            action=action,
            before=before,
            after=after,
        )
        doc = {**change.model_dump(exclude={"digest"}), "digest": change.content_digest()}
        with self.errors(), suppress(ConflictError):  # this version's entry is already written
            self.client.create(index=self.names.history, id=f"{alert.id}:{alert.version}", document=doc)

    def record_alert(self, alert: Alert) -> Alert:
        ptr_id = _pointer_id(alert)
        refresh = self.refresh or None
        for _ in range(FOLD_ATTEMPTS):
            ptr, current = self._open_alert(ptr_id)
            try:
                with self.errors():
                    if current and current[0].get("status") != "closed":
                        existing = Alert.model_validate(current[0])
                        merged = fold(existing, alert)
                        self.client.index(
                            index=self.names.alerts,
                            id=existing.id,
                            document=merged.to_doc(),
                            if_seq_no=current[1],
                            if_primary_term=current[2],
                            refresh=refresh,
                        )
                        self._history(merged, "detector", "fold", {"count": existing.count}, {"count": merged.count})
                        return merged
                    same = self._get(self.names.alerts, alert.id)
                    if same:  # the same alert recorded again: idempotent
                        return Alert.model_validate(same[0])
                    pointer = {
                        "rule_id": alert.rule.id,
                        "group_key": alert.group_key,
                        "alert_id": alert.id,
                        "claimed_at": time.time(),
                    }
                    if ptr:  # stale pointer (its alert is closed or was never written): take it over
                        self.client.index(
                            index=self.names.open_alerts,
                            id=ptr_id,
                            document=pointer,
                            if_seq_no=ptr[1],
                            if_primary_term=ptr[2],
                        )
                    else:
                        self.client.create(index=self.names.open_alerts, id=ptr_id, document=pointer)
                    try:
                        self.client.create(
                            index=self.names.alerts, id=alert.id, document=alert.to_doc(), refresh=refresh
                        )
                    except ConflictError:
                        continue
                    self._history(alert, "detector", "create", {}, {"status": alert.status})
                    return alert
            except ConflictError:
                continue  # another writer changed the alert or claimed the group first: read again
        raise StoreError(
            f"alert for rule {alert.rule.id} kept changing under concurrent writers ({FOLD_ATTEMPTS} attempts)"
        )

    def _open_alert(self, ptr_id: str) -> tuple[Any, Any]:
        """The group's pointer and the alert it names, waiting out a writer that claimed the group a moment ago.

        A writer claims a group (pointer) and then writes the alert. Another writer that finds the pointer
        but not yet the alert waits for it rather than taking the group over, which would leave two alerts.
        """
        deadline = time.monotonic() + CLAIM_GRACE_SECONDS
        while True:
            ptr = self._get(self.names.open_alerts, ptr_id)
            current = self._get(self.names.alerts, ptr[0]["alert_id"]) if ptr else None
            claimed = ptr[0].get("claimed_at", 0.0) if ptr else 0.0
            fresh = time.time() - claimed < CLAIM_GRACE_SECONDS
            if ptr is None or current is not None or not fresh or time.monotonic() >= deadline:
                return ptr, current
            time.sleep(0.02)

    def get_alert(self, alert_id: str) -> Alert | None:
        got = self._get(self.names.alerts, alert_id)
        return Alert.model_validate(got[0]) if got else None

    def list_alerts(self, query: AlertQuery) -> list[Alert]:
        with self.errors():
            resp = self.client.search(
                index=self.names.alerts,
                query=alert_query(query),
                sort=[{"last_seen": "desc"}, {"id": "asc"}],
                from_=query.offset,
                size=query.limit,
                track_total_hits=False,
            )
        return [Alert.model_validate(h["_source"]) for h in resp["hits"]["hits"]]

    def count_alerts(self, query: AlertQuery) -> int:
        with self.errors():
            return int(self.client.count(index=self.names.alerts, query=alert_query(query))["count"])

    def update_alert(
        self, alert_id: str, changes: Mapping[str, Any], expected_version: int, actor: str, action: str = "update"
    ) -> Alert:
        got = self._get(self.names.alerts, alert_id)
        if got is None:
            raise NotFound(f"no alert with id {alert_id}")
        alert = Alert.model_validate(got[0])
        if alert.version != expected_version:
            raise VersionConflict(alert_id, expected_version, alert.version)
        new, before, after = apply_update(alert, changes, actor)
        with self.errors():
            try:
                self.client.index(
                    index=self.names.alerts,
                    id=alert_id,
                    document=new.to_doc(),
                    if_seq_no=got[1],
                    if_primary_term=got[2],
                    refresh="wait_for",
                )
            except ConflictError:
                now = self._get(self.names.alerts, alert_id)
                actual = Alert.model_validate(now[0]).version if now else expected_version + 1
                raise VersionConflict(alert_id, expected_version, actual) from None
        self._history(new, actor, action, before, after)
        self._sync_pointer(alert, new)
        return new

    def _sync_pointer(self, old: Alert, new: Alert) -> None:
        """Closing frees the group for a new alert; reopening claims it back if it is free."""
        ptr_id = _pointer_id(new)
        with self.errors():
            if new.status == "closed" and old.status != "closed":
                ptr = self._get(self.names.open_alerts, ptr_id)
                if ptr and ptr[0].get("alert_id") == new.id:
                    with suppress(ConflictError, NotFoundError):  # a detector already moved the pointer on
                        self.client.delete(
                            index=self.names.open_alerts, id=ptr_id, if_seq_no=ptr[1], if_primary_term=ptr[2]
                        )
            elif old.status == "closed" and new.status != "closed":
                pointer = {"rule_id": new.rule.id, "group_key": new.group_key, "alert_id": new.id}
                with suppress(ConflictError):  # another alert is open for this group already
                    self.client.create(index=self.names.open_alerts, id=ptr_id, document=pointer)

    def alert_history(self, alert_id: str) -> list[AlertChange]:
        alert = self.get_alert(alert_id)
        if alert is None:
            return []
        ids = [f"{alert_id}:{v}" for v in range(1, alert.version + 1)]
        changes: list[AlertChange] = []
        with self.errors():
            for i in range(0, len(ids), 1000):
                resp = self.client.mget(index=self.names.history, ids=ids[i : i + 1000])
                changes += [AlertChange.model_validate(d["_source"]) for d in resp["docs"] if d.get("found")]
        return changes


def _without_stream_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "data_stream"}
