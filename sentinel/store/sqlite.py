"""The embedded store: SQLite in WAL mode, for a single site with no Elasticsearch.

Chosen over DuckDB by measurement (``bench/ingest.py``, ``bench/RESULTS.md``):
batched inserts with a unique ``event.id`` index and point/range queries are
what ingest and triage do, and SQLite does both faster here.

Layout: ``events`` keeps each ECS document as JSON with a few hot fields copied
into indexed columns; ``events_fts`` (FTS5, contentless) indexes the searchable
text; ``alerts`` and ``alert_history`` keep alerts with their audited changes.
Readers get one connection per thread; writers are serialised by a lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from sentinel import ecs
from sentinel.localdb import ThreadConnections, migrate, transaction
from sentinel.models import Alert, AlertChange, scope_of
from sentinel.store.alert_ops import apply_update, fold
from sentinel.store.base import (
    AlertQuery,
    Appended,
    AppendResult,
    Encoded,
    EventPage,
    EventQuery,
    InvalidQuery,
    NotFound,
    Store,
    StoreError,
    VersionConflict,
    encode_events,
    label_names,
)
from sentinel.store.sqlite_query import as_number, as_text, event_where, json_value
from sentinel.store.sqlite_schema import COLUMNS, MIGRATIONS, SPLIT_COLUMNS

TEXT_FIELDS = ("event.original", "message", "url.original", "user_agent.original", "error.message")
_STORED = (*COLUMNS, *TEXT_FIELDS)
_READ_STORED = ecs.compile_reader(_STORED)  # one generated read per plain event (see sentinel.ecs)


def stored_fields(doc: Mapping[str, Any]) -> tuple[list[Any], str]:
    """The hot-column cells of ``doc`` and the text free-text search looks in.

    A column holds a scalar; anything else (a list of user names, an object
    where an address belongs) is kept as its JSON text, as filters on other
    fields see it, rather than failing the batch. The search text is the
    text fields, each once: a text whose words one before already holds (an
    access log's URL and user agent are in its original line, verbatim) is
    left out, so they are not indexed twice (see :func:`words_within`).
    """
    values = _READ_STORED(doc) if type(doc) is dict and not ecs.has_dotted_key(doc) else None
    if values is None:
        values = [ecs.get_field(doc, f) for f in _STORED]
    cells = [v if v is None or type(v) in _SCALARS else _json_text(v) for v in values[: len(COLUMNS)]]
    parts: list[str] = []
    for v in values[len(COLUMNS) :]:
        if type(v) is str and v and not any(words_within(v, p) for p in parts):
            parts.append(v)
    return cells, "\n".join(parts)


def prepare_row(doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """What an event's row holds besides its id and JSON, and its search text.

    Its time (ms), the hot-column cells, the split-column cells (:func:`split_cells`), whether
    SQLite must fill those from the JSON instead (:data:`FILL_SPLIT`), its search text.
    """
    cells, text = stored_fields(doc)
    split = split_cells(doc)
    return (_ts_ms(doc), *cells, *(split or NO_SPLIT), split is None, text)


# Characters the full-text tokenizer (unicode61) always reads as separators: ASCII but for letters and digits.
_SEPARATORS = frozenset(chr(c) for c in range(128) if not chr(c).isalnum())


def words_within(part: str, whole: str) -> bool:
    """Whether ``whole`` holds ``part`` verbatim where the index reads the same words in it.

    That is, an occurrence whose ends are not glued to a word outside it ("admin" is within
    "GET /admin HTTP/1.1" but not within "/administrator"): indexing ``whole`` alone then
    finds every word, prefix and phrase of ``part``. Only ASCII separators are trusted, so a
    doubtful occurrence counts as not within, and the text is indexed as before.
    """
    start = whole.find(part)
    while start >= 0:
        end = start + len(part)
        if (start == 0 or part[0] in _SEPARATORS or whole[start - 1] in _SEPARATORS) and (
            end == len(whole) or part[-1] in _SEPARATORS or whole[end] in _SEPARATORS
        ):
            return True
        start = whole.find(part, start + 1)
    return False


_SCALARS = frozenset({str, int, float, bool})

_SPLIT_PATHS = tuple(tuple(field.split(".")) for field in SPLIT_COLUMNS)
_NUMBER_CHARS = frozenset("0123456789.eE+-")
_DIGITS = frozenset("0123456789")


def split_cells(doc: Mapping[str, Any]) -> list[Any] | None:
    """The ``SPLIT_COLUMNS`` cells of ``doc`` (text and number of each field), or None to let SQLite fill them.

    Each cell must be what SQLite's own expressions give on the stored JSON (``sqlite_query.as_text``,
    ``as_number``), so only the values Python renders exactly as SQLite does are done here: none, an
    integer (``404``: ``"404"`` and 404), a text that reads as no number (``"abc"``: itself, no number).
    Anything else (a real, whose text SQLite rounds to 15 digits, a boolean, a text that reads as a
    number, a list, an object) is rare, and SQLite computes it from the document (:data:`FILL_SPLIT`).
    """
    cells: list[Any] = []
    for path in _SPLIT_PATHS:
        value: Any = doc
        for key in path:  # where json_extract looks: nested objects, not a dotted key
            value = dict.get(value, key) if isinstance(value, dict) else None
        kind = type(value)
        if value is None:
            cells += (None, None)
        elif kind is int and -(2**63) <= value < 2**63:
            cells += (str(value), value)
        elif kind is str and "\x00" not in value and not (_DIGITS & set(value) and set(value) <= _NUMBER_CHARS):
            cells += (value, None)
        else:
            return None
    return cells


_SPLIT_NAMES = tuple(name for pair in SPLIT_COLUMNS.values() for name in pair)
_ROW = ("id", "ts", *COLUMNS.values(), *_SPLIT_NAMES, "doc")
INSERT_EVENT = f"INSERT INTO events({', '.join(_ROW)}) VALUES ({', '.join('?' * len(_ROW))})"
NO_SPLIT = (None,) * len(_SPLIT_NAMES)
# The split columns of the events whose values :func:`split_cells` leaves to SQLite, by event id.
FILL_SPLIT = (
    "UPDATE events SET "
    + ", ".join(
        f"{text} = {as_text(json_value(field))}, {num} = {as_number(json_value(field))}"
        for field, (text, num) in SPLIT_COLUMNS.items()
    )
    + " WHERE id = ?"
)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def _ts_ms(doc: Mapping[str, Any]) -> int:
    ts = doc.get("@timestamp")
    try:
        return int(ecs.parse_ts(ts).timestamp() * 1000) if ts is not None else 0
    except ValueError:
        return 0


def _existing(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
    """The ids among ``ids`` that the events table holds (in chunks below SQLite's variable limit)."""
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        found.update(eid for (eid,) in conn.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk))
    return found


# Page cache of a connection that appends events (KiB; SQLite's default is 2,000). Event ids are hashes,
# so each event of a batch lands on a page of the id index at random, more pages as the table grows:
# with the default cache a batch's pages (about 30 MB for 5,000 access-log events) do not fit, so the
# insert reads again what the id lookup read, and dirty pages spill to the WAL before the commit.
# Set on the connections that append only: readers keep the default (one connection per thread).
WRITER_CACHE_KIB = 65536


class SQLiteStore(Store):
    """Events and alerts in one SQLite database file (WAL mode)."""

    backend = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._connections = ThreadConnections(self.path, "the store", "foreign_keys=ON", error=StoreError)
        self._write_lock = threading.Lock()
        self._writers: set[int] = set()  # id() of the connections given the writer's cache (all kept open)
        with self._write_lock:
            migrate(self._conn(), MIGRATIONS, f"the store {self.path}", StoreError)

    def _conn(self) -> sqlite3.Connection:
        return self._connections.get()

    def _writer(self) -> sqlite3.Connection:
        """This thread's connection, with the page cache appends need (:data:`WRITER_CACHE_KIB`)."""
        conn = self._connections.get()
        if id(conn) not in self._writers:
            conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            self._writers.add(id(conn))
        return conn

    def close(self) -> None:
        self._connections.close_all()
        self._writers.clear()

    # -- events ------------------------------------------------------------------
    def append_events(self, events: Iterable[Mapping[str, Any]]) -> AppendResult:
        events = list(events)
        result = self.append_encoded(encode_events(events, prepare_row))
        return AppendResult([dict(events[i]) for i in result.stored], result.duplicates)

    # the hot-column cells and search text of an event, computed where it is encoded (a worker process)
    prepare = staticmethod(prepare_row)

    def append_encoded(self, batch: Encoded) -> Appended:
        rows = batch.rows if batch.rows is not None else [prepare_row(orjson.loads(d)) for d in batch.docs]
        first: dict[str, int] = {}  # id -> position; the first copy in the batch is the one stored
        for i, eid in enumerate(batch.ids):
            first.setdefault(eid, i)
        duplicates = len(batch.ids) - len(first)
        if not first:
            return Appended([], duplicates)
        with transaction(self._writer(), self._write_lock, f"the store at {self.path}", StoreError) as conn:
            for eid in _existing(conn, list(first)):
                del first[eid]
                duplicates += 1
            docs = batch.docs
            new = list(first.items())
            cur = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events")
            first_seq = cur.fetchone()[0] + 1
            conn.executemany(INSERT_EVENT, ((eid, *rows[i][:-2], docs[i]) for eid, i in new))
            in_sql = [(eid,) for eid, i in new if rows[i][-2]]
            if in_sql:
                conn.executemany(FILL_SPLIT, in_sql)
            conn.executemany(
                "INSERT INTO events_fts(rowid, body) VALUES (?, ?)",
                ((first_seq + n, rows[i][-1]) for n, (_eid, i) in enumerate(new)),
            )
        return Appended(list(first.values()), duplicates)

    def known_ids(self, ids: list[str]) -> set[str]:
        return _existing(self._writer(), ids)  # asked just before an append, of the same pages

    def search_events(self, query: EventQuery) -> EventPage:
        where, params = event_where(query)
        op, order = (">", "ASC") if query.ascending else ("<", "DESC")
        if query.cursor:
            try:
                ts_s, seq_s = query.cursor.split(":", 1)
                cursor = (int(ts_s), int(seq_s))
            except ValueError:
                raise InvalidQuery(f"invalid cursor {query.cursor!r}: pass back a next_cursor") from None
            where += (" AND " if where else " WHERE ") + f"(ts, seq) {op} (?, ?)"
            params += list(cursor)
        sql = f"SELECT ts, seq, doc FROM events{where} ORDER BY ts {order}, seq {order} LIMIT ?"
        rows = self._conn().execute(sql, [*params, query.limit + 1]).fetchall()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        nxt = f"{rows[-1][0]}:{rows[-1][1]}" if more and rows else None
        return EventPage([orjson.loads(r[2]) for r in rows], nxt)

    def count_events(self, query: EventQuery) -> int:
        where, params = event_where(query)
        return self._conn().execute(f"SELECT COUNT(*) FROM events{where}", params).fetchone()[0]

    def histogram(self, query: EventQuery, start: datetime, step: timedelta, buckets: int) -> list[int]:
        """One GROUP BY over the matching rows instead of a count per bucket."""
        where, params = event_where(query)
        t0, width = int(start.timestamp() * 1000), int(step.total_seconds() * 1000)
        span = "ts >= ? AND ts < ?"
        where = f"{where} AND {span}" if where else f" WHERE {span}"
        sql = f"SELECT (ts - ?) / ?, COUNT(*) FROM events{where} GROUP BY 1"
        out = [0] * buckets
        for bucket, n in self._conn().execute(sql, [t0, width, *params, t0, t0 + width * buckets]):
            out[bucket] = n
        return out

    def get_event(self, event_id: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT doc FROM events WHERE id = ?", (event_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    # -- alerts ------------------------------------------------------------------
    def record_alert(self, alert: Alert) -> Alert:
        with transaction(self._conn(), self._write_lock, f"the store at {self.path}", StoreError) as conn:
            rows = conn.execute(
                "SELECT doc FROM alerts WHERE rule_id = ? AND group_key = ? AND status != 'closed'",
                (alert.rule.id, alert.group_key),
            ).fetchall()
            place = scope_of(alert.labels)  # the same rule and entity in another place is another alert
            opened = (Alert.model_validate(orjson.loads(row[0])) for row in rows)
            existing = next((a for a in opened if scope_of(a.labels) == place), None)
            if existing is not None:
                result = fold(existing, alert)
                self._write_alert(conn, result, insert=False)
                self._history(conn, result, "detector", "fold", {"count": existing.count}, {"count": result.count})
            elif conn.execute("SELECT 1 FROM alerts WHERE id = ?", (alert.id,)).fetchone():
                result = self._load_alert(conn, alert.id)  # same alert recorded again: idempotent
            else:
                result = alert
                self._write_alert(conn, result, insert=True)
                self._history(conn, result, "detector", "create", {}, {"status": result.status})
        return result

    def _write_alert(self, conn: sqlite3.Connection, alert: Alert, insert: bool) -> None:
        values = (
            alert.rule.id,
            alert.group_key,
            alert.status,
            alert.severity,
            _ts_ms({"@timestamp": alert.timestamp}),
            _ts_ms({"@timestamp": alert.last_seen}),
            alert.version,
            orjson.dumps(alert.to_doc()),
        )
        if insert:
            conn.execute(
                "INSERT INTO alerts(rule_id, group_key, status, severity, created, last_seen, version, doc, id)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (*values, alert.id),
            )
        else:
            conn.execute(
                "UPDATE alerts SET rule_id=?, group_key=?, status=?, severity=?, created=?, last_seen=?,"
                " version=?, doc=? WHERE id=?",
                (*values, alert.id),
            )

    def _history(
        self, conn: sqlite3.Connection, alert: Alert, actor: str, action: str, before: dict, after: dict
    ) -> None:
        change = AlertChange(
            alert_id=alert.id,
            version=alert.version,
            at=ecs.now_ts(),
            actor=actor,
            action=action,
            before=before,
            after=after,
        )
        conn.execute(
            "INSERT INTO alert_history(alert_id, version, at, actor, action, before, after, digest)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (
                alert.id,
                alert.version,
                change.at,
                actor,
                action,
                orjson.dumps(before),
                orjson.dumps(after),
                change.content_digest(),
            ),
        )

    def _load_alert(self, conn: sqlite3.Connection, alert_id: str) -> Alert:
        row = conn.execute("SELECT doc FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if not row:
            raise NotFound(f"no alert with id {alert_id}")
        return Alert.model_validate(orjson.loads(row[0]))

    def get_alert(self, alert_id: str) -> Alert | None:
        try:
            return self._load_alert(self._conn(), alert_id)
        except NotFound:
            return None

    def _alert_where(self, q: AlertQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if q.status:
            clauses.append(f"status IN ({','.join('?' * len(q.status))})")
            params += q.status
        if q.severity:
            clauses.append(f"severity IN ({','.join('?' * len(q.severity))})")
            params += q.severity
        if q.rule_id:
            clauses.append("rule_id = ?")
            params.append(q.rule_id)
        if q.since is not None:
            clauses.append("last_seen >= ?")
            params.append(int(q.since.timestamp() * 1000))
        if q.until is not None:
            clauses.append("created < ?")
            params.append(int(q.until.timestamp() * 1000))
        for name in label_names(q):
            clauses.append(f"json_extract(doc, '$.labels.{name}') = ?")
            params.append(q.labels[name])
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list_alerts(self, query: AlertQuery) -> list[Alert]:
        where, params = self._alert_where(query)
        rows = self._conn().execute(
            f"SELECT doc FROM alerts{where} ORDER BY last_seen DESC, id LIMIT ? OFFSET ?",
            [*params, query.limit, query.offset],
        )
        return [Alert.model_validate(orjson.loads(r[0])) for r in rows]

    def count_alerts(self, query: AlertQuery) -> int:
        where, params = self._alert_where(query)
        return self._conn().execute(f"SELECT COUNT(*) FROM alerts{where}", params).fetchone()[0]

    def update_alert(
        self, alert_id: str, changes: Mapping[str, Any], expected_version: int, actor: str, action: str = "update"
    ) -> Alert:
        with transaction(self._conn(), self._write_lock, f"the store at {self.path}", StoreError) as conn:
            alert = self._load_alert(conn, alert_id)
            if alert.version != expected_version:
                raise VersionConflict(alert_id, expected_version, alert.version)
            new, before, after = apply_update(alert, changes, actor)
            self._write_alert(conn, new, insert=False)
            self._history(conn, new, actor, action, before, after)
        return new

    def alert_history(self, alert_id: str) -> list[AlertChange]:
        rows = self._conn().execute(
            "SELECT alert_id, version, at, actor, action, before, after, digest FROM alert_history"
            " WHERE alert_id = ? ORDER BY seq",
            (alert_id,),
        )
        return [
            AlertChange(
                alert_id=r[0],
                version=r[1],
                at=r[2],
                actor=r[3],
                action=r[4],
                before=orjson.loads(r[5]),
                after=orjson.loads(r[6]),
                digest=r[7],
            )
            for r in rows
        ]
