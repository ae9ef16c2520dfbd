"""Where cases live: ``<data_dir>/cases.db`` (SQLite, WAL), beside any event store.

Each case is one JSON document with its version; every change is a row of
``case_history`` written in the same transaction (actor, action, the fields
before and after): the case's timeline. Each row carries the digest that the
data folder's audit chain records for it, chained before the transaction commits. Updates carry the
version the caller saw and fail with :class:`VersionConflict` otherwise.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from sentinel import ecs
from sentinel.audit import AuditLog, Entry, Row, digest
from sentinel.errors import NotFound, VersionConflict
from sentinel.localdb import ThreadConnections, migrate, transaction
from sentinel.respond.cases import Case
from sentinel.store import StoreError

MIGRATIONS = [
    """
    CREATE TABLE cases (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        updated TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc BLOB NOT NULL
    );
    CREATE INDEX cases_status ON cases(status, updated);
    CREATE TABLE case_alerts (case_id TEXT NOT NULL, alert_id TEXT NOT NULL, PRIMARY KEY (alert_id, case_id));
    CREATE TABLE case_history (
        seq INTEGER PRIMARY KEY,
        case_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        before BLOB NOT NULL, after BLOB NOT NULL
    );
    CREATE INDEX case_history_case ON case_history(case_id, seq);
    """,
    # 2: each history row carries the digest recorded in the audit chain
    "ALTER TABLE case_history ADD COLUMN digest TEXT;",
]


class CaseStore:
    """Cases with versioned updates and their history; safe to share between threads."""

    def __init__(self, path: str | Path, audit: AuditLog | None = None) -> None:
        self.path = Path(path)
        self.audit = audit or AuditLog.beside(self.path)
        self._connections = ThreadConnections(self.path, "the case database", error=StoreError)
        self._lock = threading.Lock()
        with self._lock:
            migrate(self._connections.get(), MIGRATIONS, str(self.path), StoreError)

    @contextmanager
    def _write(self) -> Iterator[tuple[sqlite3.Connection, list[tuple[str, Entry]]]]:
        """A transaction; the audit entries the caller adds are chained before it commits."""
        with transaction(self._connections.get(), self._lock, str(self.path), StoreError) as conn:
            entries: list[tuple[str, Entry]] = []
            yield conn, entries
            for actor, entry in entries:
                self.audit.append(actor, [entry])

    def close(self) -> None:
        self._connections.close_all()

    # -- reading ---------------------------------------------------------------------------------
    def get(self, case_id: str) -> Case | None:
        row = self._connections.get().execute("SELECT doc FROM cases WHERE id = ?", (case_id,)).fetchone()
        return Case.model_validate(orjson.loads(row[0])) if row else None

    def list(self, statuses: list[str] | None = None, limit: int = 500) -> list[Case]:
        """Cases, most recently changed first."""
        sql, params = "SELECT doc FROM cases", []
        if statuses:
            sql += f" WHERE status IN ({','.join('?' * len(statuses))})"
            params += statuses
        rows = self._connections.get().execute(sql + " ORDER BY updated DESC, id LIMIT ?", [*params, limit])
        return [Case.model_validate(orjson.loads(r[0])) for r in rows]

    def cases_of(self, alert_ids: list[str]) -> dict[str, list[str]]:
        """Alert id -> the cases holding it, for these alerts."""
        out: dict[str, list[str]] = {}
        conn = self._connections.get()
        for i in range(0, len(alert_ids), 500):
            chunk = alert_ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for alert_id, case_id in conn.execute(
                f"SELECT alert_id, case_id FROM case_alerts WHERE alert_id IN ({marks})", chunk
            ):
                out.setdefault(alert_id, []).append(case_id)
        return out

    def history(self, case_id: str) -> list[dict[str, Any]]:
        rows = self._connections.get().execute(
            "SELECT version, at, actor, action, before, after FROM case_history WHERE case_id = ? ORDER BY seq",
            (case_id,),
        )
        return [
            {"version": r[0], "at": r[1], "actor": r[2], "action": r[3], "before": orjson.loads(r[4]),
             "after": orjson.loads(r[5])}
            for r in rows
        ]  # fmt: skip

    def audited_rows(self, case_id: str) -> list[Row]:
        """The case's history rows with their stored and recomputed digests (for ``sentinel audit verify``)."""
        rows = self._connections.get().execute(
            "SELECT version, at, actor, action, before, after, digest FROM case_history WHERE case_id = ? ORDER BY seq",
            (case_id,),
        )
        return [
            Row(f"version {v} ({action} by {actor})", stored,
                _row_digest(case_id, v, at, actor, action, orjson.loads(before), orjson.loads(after)))
            for v, at, actor, action, before, after, stored in rows
        ]  # fmt: skip

    # -- writing -----------------------------------------------------------------------------------
    def create(self, case: Case) -> Case:
        with self._write() as (conn, entries):
            self._put(conn, case, insert=True)
            entries.append(
                self._record(conn, case, case.created_by, "create", {}, {"title": case.title, "alerts": case.alert_ids})
            )
        return case

    def update(self, case_id: str, changes: Mapping[str, Any], expected_version: int, actor: str, action: str) -> Case:
        """Apply ``changes`` if the case is still at ``expected_version``; NotFound or VersionConflict otherwise."""
        with self._write() as (conn, entries):
            row = conn.execute("SELECT doc FROM cases WHERE id = ?", (case_id,)).fetchone()
            if row is None:
                raise NotFound(f"no case with id {case_id}")
            current = Case.model_validate(orjson.loads(row[0]))
            if current.version != expected_version:
                raise VersionConflict(case_id, expected_version, current.version)
            doc = current.model_dump()
            before = {k: doc.get(k) for k in changes}
            updated = Case.model_validate(
                {**doc, **changes, "version": current.version + 1, "updated_at": ecs.now_ts(), "updated_by": actor}
            )
            self._put(conn, updated, insert=False)
            entries.append(self._record(conn, updated, actor, action, before, dict(changes)))
        return updated

    def _put(self, conn: sqlite3.Connection, case: Case, insert: bool) -> None:
        doc = orjson.dumps(case.model_dump())
        if insert:
            conn.execute(
                "INSERT INTO cases(id, status, updated, version, doc) VALUES (?,?,?,?,?)",
                (case.id, case.status, case.updated_at, case.version, doc),
            )
        else:
            conn.execute(
                "UPDATE cases SET status=?, updated=?, version=?, doc=? WHERE id=?",
                (case.status, case.updated_at, case.version, doc, case.id),
            )
        conn.execute("DELETE FROM case_alerts WHERE case_id = ?", (case.id,))
        conn.executemany(
            "INSERT OR IGNORE INTO case_alerts(case_id, alert_id) VALUES (?, ?)", [(case.id, a) for a in case.alert_ids]
        )

    def _record(
        self, conn: sqlite3.Connection, case: Case, actor: str, action: str, before: dict, after: dict
    ) -> tuple[str, Entry]:
        at = ecs.now_ts()
        row_digest = _row_digest(case.id, case.version, at, actor, action, before, after)
        conn.execute(
            "INSERT INTO case_history(case_id, version, at, actor, action, before, after, digest)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (case.id, case.version, at, actor, action, orjson.dumps(before), orjson.dumps(after), row_digest),
        )
        entry = Entry(
            f"case.{action}", f"case:{case.id}", version=case.version, after=case.model_dump(), row=row_digest
        )
        return actor, entry


def _row_digest(case_id: str, version: int, at: str, actor: str, action: str, before: Any, after: Any) -> str:
    return digest(
        {
            "object": f"case:{case_id}",
            "version": version,
            "at": at,
            "actor": actor,
            "action": action,
            "before": before,
            "after": after,
        }
    )


class CaseWitness:
    """How ``sentinel audit verify`` reads cases."""

    kind = "case"

    def __init__(self, cases: CaseStore) -> None:
        self.cases = cases

    def rows(self, object_id: str) -> list[Row]:
        return self.cases.audited_rows(object_id)

    def state(self, object_id: str) -> dict[str, Any] | None:
        case = self.cases.get(object_id)
        return case.model_dump() if case else None
