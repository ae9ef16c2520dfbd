"""Versioned schema migrations for the embedded SQLite store.

``PRAGMA user_version`` records how many migrations a database has had; opening
a store applies the missing ones in order, each in its own transaction. Add a
migration by appending to ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

from sentinel.store.base import StoreError

# Hot fields copied into indexed columns: equality filters on these avoid json_extract.
COLUMNS = {
    "event.dataset": "dataset",
    "event.kind": "kind",
    "source.ip": "source_ip",
    "user.name": "user_name",
    "labels.province": "province",
    "labels.commune": "commune",
}

MIGRATIONS: list[str] = [
    # 1: events with hot columns, full-text index, alerts with history
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        ts INTEGER NOT NULL,
        dataset TEXT, kind TEXT, source_ip TEXT, user_name TEXT, province TEXT, commune TEXT,
        doc BLOB NOT NULL
    );
    CREATE INDEX events_ts ON events(ts, seq);
    CREATE INDEX events_source_ip ON events(source_ip, ts);
    CREATE INDEX events_user_name ON events(user_name, ts);
    CREATE INDEX events_dataset ON events(dataset, ts);
    CREATE INDEX events_kind ON events(kind, ts);
    CREATE INDEX events_place ON events(province, commune, ts);
    CREATE VIRTUAL TABLE events_fts USING fts5(body, content='', tokenize='unicode61 remove_diacritics 2');
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        rule_id TEXT NOT NULL,
        group_key TEXT NOT NULL,
        status TEXT NOT NULL,
        severity TEXT,
        created INTEGER, last_seen INTEGER,
        version INTEGER NOT NULL,
        doc BLOB NOT NULL
    );
    CREATE INDEX alerts_group ON alerts(rule_id, group_key, status);
    CREATE INDEX alerts_last_seen ON alerts(last_seen);
    CREATE TABLE alert_history (
        seq INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL REFERENCES alerts(id),
        version INTEGER NOT NULL,
        at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        before BLOB NOT NULL, after BLOB NOT NULL
    );
    CREATE INDEX alert_history_alert ON alert_history(alert_id, seq);
    """,
]


def _statements(script: str) -> list[str]:
    """Split a migration into statements (so they can run inside one explicit transaction)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf)
            buf = ""
    return out


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to the latest schema; return its version.

    The version is read again under the write lock, so two processes opening a
    new database at the same moment do not both apply a migration.
    """
    if conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
        return len(MIGRATIONS)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the store was written by a newer Sentinel (schema {version}, this one knows {len(MIGRATIONS)}); "
                "upgrade Sentinel or point SENTINEL_DATA_DIR elsewhere"
            )
        for number in range(version + 1, len(MIGRATIONS) + 1):
            for statement in _statements(MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(MIGRATIONS)
