"""The response stage's own SQLite database (``<data_dir>/respond.db``).

It holds suppressions, playbook runs, the notification log and a history of
changes to those records; each history row carries the digest that the data
folder's audit chain (:mod:`sentinel.audit`) records for it, chained inside the
same transaction, so a change that cannot be audited is not made. Kept apart from the event store so that it works
unchanged next to Elasticsearch, and so its schema can evolve on its own
(``PRAGMA user_version`` migrations, as in :mod:`sentinel.store.sqlite_schema`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from sentinel import ecs
from sentinel.audit import AuditLog, Entry, Row, digest
from sentinel.localdb import ThreadConnections, migrate, transaction
from sentinel.store import StoreError

MIGRATIONS: list[str] = [
    # 1: suppressions, playbook runs, notifications, audit
    """
    CREATE TABLE suppressions (
        id TEXT PRIMARY KEY,
        expires INTEGER NOT NULL,
        version INTEGER NOT NULL,
        doc BLOB NOT NULL
    );
    CREATE INDEX suppressions_expires ON suppressions(expires);
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        alert_id TEXT NOT NULL,
        playbook_id TEXT NOT NULL,
        status TEXT NOT NULL,
        created TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc BLOB NOT NULL
    );
    CREATE INDEX runs_alert ON runs(alert_id, created);
    CREATE INDEX runs_status ON runs(status, created);
    CREATE TABLE notifications (
        seq INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL,
        level INTEGER NOT NULL,
        channel TEXT NOT NULL,
        at INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX notifications_alert ON notifications(alert_id, at);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        record_id TEXT NOT NULL,
        action TEXT NOT NULL,
        before BLOB NOT NULL,
        after BLOB NOT NULL
    );
    CREATE INDEX audit_record ON audit(kind, record_id, seq);
    """,
    # 2: each history row carries the digest recorded in the audit chain
    "ALTER TABLE audit ADD COLUMN digest TEXT;",
]


class ResponseDB:
    """Thread-safe access to ``respond.db``: one connection per thread, writes serialised."""

    def __init__(self, path: str | Path, audit: AuditLog | None = None) -> None:
        self.path = Path(path)
        self.audit_log = audit or AuditLog.beside(self.path)
        self._connections = ThreadConnections(self.path, "the response database", error=StoreError)
        self._lock = threading.RLock()
        self._pending = threading.local()
        with self._lock:
            migrate(self.conn(), MIGRATIONS, str(self.path), StoreError)

    def conn(self) -> sqlite3.Connection:
        return self._connections.get()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; everything inside commits together or not at all.

        Audit entries made inside (:meth:`audit`) are chained just before the commit,
        while the write lock is held: if the chain cannot be written, nothing is.
        """
        with transaction(self.conn(), self._lock, str(self.path), StoreError) as conn:
            self._pending.entries = []
            try:
                yield conn
                for actor, entry in self._pending.entries:
                    self.audit_log.append(actor, [entry])
            finally:
                self._pending.entries = []

    def audit(
        self,
        conn: sqlite3.Connection,
        actor: str,
        kind: str,
        record_id: str,
        action: str,
        before: Any,
        after: Any,
        *,
        state: Any,
        version: int,
    ) -> None:
        """Write one history row inside the caller's transaction and chain it when the transaction commits.

        ``state`` is the record's whole audited state after the change (its digest is chained).
        """
        at = ecs.now_ts()
        row = {"kind": kind, "record_id": record_id, "at": at, "actor": actor, "action": action}
        row_digest = digest({**row, "before": before, "after": after})
        conn.execute(
            "INSERT INTO audit(at, actor, kind, record_id, action, before, after, digest) VALUES (?,?,?,?,?,?,?,?)",
            (at, actor, kind, record_id, action, orjson.dumps(before), orjson.dumps(after), row_digest),
        )
        entry = Entry(f"{kind}.{action}", f"{kind}:{record_id}", version=version, after=state, row=row_digest)
        self._pending.entries.append((actor, entry))

    def history_rows(self, kind: str, record_id: str) -> list[Row]:
        """The history rows of one record with their stored and recomputed digests (for ``audit verify``)."""
        rows = self.conn().execute(
            "SELECT seq, at, actor, action, before, after, digest FROM audit WHERE kind = ? AND record_id = ?"
            " ORDER BY seq",
            (kind, record_id),
        )
        return [
            Row(
                f"{seq} ({action} by {actor})",
                stored,
                digest(
                    {
                        "kind": kind,
                        "record_id": record_id,
                        "at": at,
                        "actor": actor,
                        "action": action,
                        "before": orjson.loads(before),
                        "after": orjson.loads(after),
                    }
                ),
            )
            for seq, at, actor, action, before, after, stored in rows
        ]

    def audit_trail(self, kind: str | None = None, record_id: str | None = None, limit: int = 200) -> list[dict]:
        """Audit entries, newest first, optionally for one kind of record or one record."""
        clauses, params = [], []
        if kind:
            clauses.append("kind = ?")
            params.append(kind)
        if record_id:
            clauses.append("record_id = ?")
            params.append(record_id)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.conn().execute(
            f"SELECT at, actor, kind, record_id, action, before, after FROM audit{where} ORDER BY seq DESC LIMIT ?",
            [*params, limit],
        )
        keys = ("at", "actor", "kind", "record_id", "action")
        return [
            {**dict(zip(keys, r[:5], strict=True)), "before": orjson.loads(r[5]), "after": orjson.loads(r[6])}
            for r in rows
        ]

    def close(self) -> None:
        self._connections.close_all()
