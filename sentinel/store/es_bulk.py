"""Bulk writing of events to Elasticsearch: bounded batches, retries, no duplicates, no loss.

Each event is sent as ``create`` with its deterministic ``event.id`` as ``_id``,
so Elasticsearch refuses a second copy (409) in the same backing index. A data
stream checks ``_id`` only in its current write index, though: a retry that
lands after a rollover would be written again into the new write index. So
before sending, :class:`BulkWriter` asks the whole stream which of the batch's
ids it already holds (one ``ids`` query per 5,000 ids, limited to the batch's
time range so older backing indices are skipped by their timestamp bounds)
and refreshes first when the batch is a retry or the first write to a stream
in this process, so an acknowledged-but-unrefreshed copy is seen too. Cost and
remaining window are discussed in ``docs/elasticsearch.md``.

Failures: 429 and 5xx (per item or for the whole request) are retried with
exponential backoff; the client's bulk helper chunks by count and bytes and
maps every response item back to its document, while the retry loop stays
here because only it knows when a lookup must precede a resend. What still
fails, or fails for a reason a retry cannot fix (a mapping error, 400), is
reported per document; the store keeps it in the :class:`DeadLetter` file with
the error, where ``sentinel es dead-letter list|replay`` finds it. Nothing is
dropped.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from elastic_transport import TransportError
from elasticsearch import ApiError, AuthenticationException, AuthorizationException
from elasticsearch.helpers import streaming_bulk

from sentinel import ecs
from sentinel.config import hint
from sentinel.localdb import connect, migrate
from sentinel.store.base import StoreError

log = logging.getLogger(__name__)

RETRY_STATUS = (429, 500, 502, 503, 504)
ID_CHECK_CHUNK = 5000  # ids per lookup; below index.max_result_window (10,000)


@dataclass
class Failure:
    """One event Elasticsearch did not take, with why."""

    event_id: str
    target: str
    status: int | None
    error_type: str
    reason: str
    doc: dict[str, Any]


@dataclass
class BulkOutcome:
    created: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)


@dataclass
class BulkLimits:
    """How big a request may get and how hard to try (defaults suit a 3-10 node cluster)."""

    chunk_docs: int = 2000
    chunk_bytes: int = 10 * 1024 * 1024
    max_retries: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 30.0


def _error_of(item: Mapping[str, Any]) -> tuple[str, str]:
    err = item.get("error")
    if isinstance(err, Mapping):
        reason = str(err.get("reason", ""))
        caused = err.get("caused_by")
        if isinstance(caused, Mapping) and caused.get("reason"):
            reason = f"{reason}: {caused['reason']}"
        return str(err.get("type", "unknown")), reason
    return "request_failed", str(err or "no error detail in the response")


class BulkWriter:
    """Sends events to data streams exactly once, reporting every document's outcome."""

    def __init__(
        self,
        client: Any,
        limits: BulkLimits | None = None,
        *,
        refresh: bool | str = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.limits = limits or BulkLimits()
        self.refresh = refresh
        self._sleep = sleep
        self._fresh_targets: set[str] = set()
        self._lock = threading.Lock()

    def write(self, docs: Mapping[str, tuple[str, Mapping[str, Any]]]) -> BulkOutcome:
        """Write ``{event_id: (data_stream, document)}``; every id ends up created, duplicate or failed.

        Items Elasticsearch rejected (429/5xx in the response) were not written
        and are simply sent again. A request that failed as a whole may or may
        not have been applied, so the next round refreshes the streams and
        looks the ids up again before sending anything.
        """
        out = BulkOutcome()
        pending = dict(docs)
        last_error = ""
        check, after_failure = True, False
        for attempt in range(self.limits.max_retries + 1):
            if not pending:
                break
            if attempt:
                self._sleep(min(self.limits.max_backoff, self.limits.initial_backoff * 2 ** (attempt - 1)))
            try:
                if check:
                    self._drop_existing(pending, out, refresh_all=after_failure)
                    check = False
                last_error = self._send(pending, out)
            except (AuthenticationException, AuthorizationException) as exc:
                raise StoreError(
                    f"Elasticsearch refused Sentinel's credentials ({exc.message}); check "
                    f"{hint('elasticsearch.username')}, {hint('elasticsearch.password')} or "
                    f"{hint('elasticsearch.api_key')} and the writer role's privileges"
                ) from None
            except (ApiError, TransportError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                check = after_failure = True
                log.warning("bulk request failed (attempt %d): %s", attempt + 1, last_error)
        attempts = self.limits.max_retries + 1
        for eid, (target, doc) in pending.items():
            reason = f"not stored after {attempts} attempts: {last_error or 'no response'}"
            out.failed.append(Failure(eid, target, None, "retries_exhausted", reason, dict(doc)))
        return out

    def _drop_existing(
        self, pending: dict[str, tuple[str, Mapping[str, Any]]], out: BulkOutcome, refresh_all: bool
    ) -> None:
        """Move ids any backing index of their stream already holds to ``duplicates``."""
        by_target: dict[str, list[str]] = {}
        for eid, (target, _) in pending.items():
            by_target.setdefault(target, []).append(eid)
        with self._lock:
            stale = [t for t in by_target if refresh_all or t not in self._fresh_targets]
        if stale:
            self.client.indices.refresh(index=",".join(stale), ignore_unavailable=True, allow_no_indices=True)
            with self._lock:
                self._fresh_targets.update(stale)
        for target, ids in by_target.items():
            for i in range(0, len(ids), ID_CHECK_CHUNK):
                chunk = ids[i : i + ID_CHECK_CHUNK]
                for eid in self.existing_ids(target, chunk, [pending[e][1] for e in chunk]):
                    if eid in pending:
                        del pending[eid]
                        out.duplicates.append(eid)

    def existing_ids(self, target: str, ids: list[str], docs: list[Mapping[str, Any]]) -> set[str]:
        """Which of ``ids`` the stream holds, in any backing index (searchable copies only)."""
        filters: list[dict[str, Any]] = [{"ids": {"values": ids}}]
        span = _time_span(docs)
        if span:
            filters.append({"range": {"@timestamp": {"gte": span[0], "lte": span[1], "format": "epoch_millis"}}})
        resp = self.client.search(
            index=target,
            query={"bool": {"filter": filters}},
            size=len(ids),
            source=False,
            track_total_hits=False,
            ignore_unavailable=True,
            allow_no_indices=True,
            filter_path="hits.hits._id",
        )
        return {hit["_id"] for hit in resp.get("hits", {}).get("hits", [])}

    def _send(self, pending: dict[str, tuple[str, Mapping[str, Any]]], out: BulkOutcome) -> str:
        """One pass of the client's bulk helper; settled ids leave ``pending``. Returns the last retryable error."""

        def actions() -> Iterator[dict[str, Any]]:
            for eid, (target, doc) in list(pending.items()):
                yield {"_op_type": "create", "_index": target, "_id": eid, "_source": doc}

        last = ""
        kwargs: dict[str, Any] = {"refresh": self.refresh} if self.refresh else {}
        for ok, result in streaming_bulk(
            self.client,
            actions(),
            chunk_size=self.limits.chunk_docs,
            max_chunk_bytes=self.limits.chunk_bytes,
            raise_on_error=False,
            raise_on_exception=True,
            max_retries=0,  # retries happen in write(), which knows when a lookup must come first
            yield_ok=True,
            **kwargs,
        ):
            _, item = next(iter(result.items()))
            eid = item.get("_id")
            if eid not in pending:
                continue
            status = item.get("status")
            if ok:
                out.created.append(eid)
                del pending[eid]
            elif status == 409:
                out.duplicates.append(eid)
                del pending[eid]
            elif status in RETRY_STATUS:
                kind, reason = _error_of(item)
                last = f"{status} {kind}: {reason}"  # stays pending for the next round
            else:
                kind, reason = _error_of(item)
                target, doc = pending.pop(eid)
                out.failed.append(Failure(eid, target, status, kind, reason, dict(doc)))
        return last


def _time_span(docs: list[Mapping[str, Any]]) -> tuple[int, int] | None:
    """Min and max ``@timestamp`` in epoch ms, or None when any is missing or unreadable."""
    lo = hi = None
    for doc in docs:
        try:
            ms = int(ecs.parse_ts(doc["@timestamp"]).timestamp() * 1000)
        except (KeyError, ValueError, TypeError):
            return None
        lo = ms if lo is None else min(lo, ms)
        hi = ms if hi is None else max(hi, ms)
    return (lo, hi) if lo is not None else None


@dataclass
class DeadLetterEntry:
    seq: int
    event_id: str
    target: str
    status: int | None
    error_type: str
    reason: str
    first_failed: str
    last_failed: str
    attempts: int
    doc: dict[str, Any]


DEAD_LETTER_MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS dead_letter (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,"
    " target TEXT NOT NULL, status INTEGER, error_type TEXT NOT NULL, reason TEXT NOT NULL,"
    " first_failed TEXT NOT NULL, last_failed TEXT NOT NULL, attempts INTEGER NOT NULL, doc BLOB NOT NULL);"
]


class DeadLetter:
    """Events Elasticsearch would not take, kept in a local SQLite file until replayed.

    One row per event id: failing again (on replay) bumps ``attempts`` and keeps
    the newest reason rather than adding a copy.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._conn = connect(self.path, "the dead-letter file", error=StoreError)
            migrate(self._conn, DEAD_LETTER_MIGRATIONS, str(self.path), StoreError)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StoreError(f"cannot open the dead-letter file {self.path}: {exc}") from None
        self._lock = threading.Lock()

    def add(self, failures: list[Failure]) -> None:
        now = ecs.now_ts()
        with self._lock:
            self._conn.executemany(
                "INSERT INTO dead_letter(event_id, target, status, error_type, reason, first_failed, last_failed,"
                " attempts, doc) VALUES (?,?,?,?,?,?,?,1,?) ON CONFLICT(event_id) DO UPDATE SET"
                " status=excluded.status, error_type=excluded.error_type, reason=excluded.reason,"
                " last_failed=excluded.last_failed, attempts=attempts+1",
                [
                    (f.event_id, f.target, f.status, f.error_type, f.reason, now, now, orjson.dumps(f.doc))
                    for f in failures
                ],
            )

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0]

    def entries(self, limit: int = 100, after_seq: int = 0) -> list[DeadLetterEntry]:
        with self._lock:  # one connection shared by threads: serialise every use
            rows = self._conn.execute(
                "SELECT seq, event_id, target, status, error_type, reason, first_failed, last_failed, attempts, doc"
                " FROM dead_letter WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [DeadLetterEntry(*r[:9], orjson.loads(r[9])) for r in rows]

    def remove(self, event_ids: list[str]) -> None:
        with self._lock:
            self._conn.executemany("DELETE FROM dead_letter WHERE event_id = ?", [(e,) for e in event_ids])

    def close(self) -> None:
        self._conn.close()
