"""Versioned schema migrations for the embedded SQLite store.

``PRAGMA user_version`` records how many migrations a database has had; opening
a store applies the missing ones in order (:func:`sentinel.localdb.migrate`). Add a
migration by appending to ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

# Hot fields copied into indexed columns: equality filters on these avoid json_extract.
COLUMNS = {
    "event.dataset": "dataset",
    "event.kind": "kind",
    "source.ip": "source_ip",
    "user.name": "user_name",
    "labels.province": "province",
    "labels.commune": "commune",
    "destination.ip": "destination_ip",
    "host.name": "host_name",
}

# Fields kept in two columns of their own, one for each way the query language compares a value: as text
# (a term, a wildcard, exists, a range with a bound that is not a number) and as a number (a range between
# numbers). Each column holds exactly what the ``json_extract`` expressions `sqlite_query` writes for any
# other field give (``CAST(... AS TEXT)``, and the number a range reads), so a query answers as it did on
# the JSON, through the column's index. Unlike the hot columns above, the value is read where
# ``json_extract`` reads it (nested objects only, not a dotted key). Response status: 404 floods, 401/403 of
# credential stuffing and 5xx are among the commonest searches, and a status code is on every web event.
SPLIT_COLUMNS = {"http.response.status_code": ("http_status", "http_status_num")}

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
    # 2: each history entry carries the digest the audit chain records for it
    "ALTER TABLE alert_history ADD COLUMN digest TEXT;",
    # 3: destination address and host name as indexed columns (entity pages look an address or host up
    # in either place); existing rows are filled from their documents
    """
    ALTER TABLE events ADD COLUMN destination_ip TEXT;
    ALTER TABLE events ADD COLUMN host_name TEXT;
    UPDATE events
        SET destination_ip = json_extract(doc, '$.destination.ip'), host_name = json_extract(doc, '$.host.name');
    CREATE INDEX events_destination_ip ON events(destination_ip, ts);
    CREATE INDEX events_host_name ON events(host_name, ts);
    """,
    # 4: the columns most events leave empty (no user, destination or host on a web access log) are
    # indexed only where they hold a value: every condition that searches these indexes names a value
    # (=, IN, a prefix, exists), which implies one, and an event without them writes 3 index entries
    # fewer. A full scan stays a full scan: a count with no time range of a NOT or a range on one of
    # them reads the table instead of the index. The place index stays whole: every scoped query names
    # a province, and without statistics SQLite would then count a province's events by a partial
    # place index rather than look one address up (tests/core/test_sqlite_store.py).
    """
    DROP INDEX events_user_name;
    CREATE INDEX events_user_name ON events(user_name, ts) WHERE user_name IS NOT NULL;
    DROP INDEX events_destination_ip;
    CREATE INDEX events_destination_ip ON events(destination_ip, ts) WHERE destination_ip IS NOT NULL;
    DROP INDEX events_host_name;
    CREATE INDEX events_host_name ON events(host_name, ts) WHERE host_name IS NOT NULL;
    """,
    # 5: the response status as text and as a number (SPLIT_COLUMNS), filled from the stored documents
    # with the expressions queries used on them (tests/core/test_sqlite_store.py checks they are the same)
    """
    ALTER TABLE events ADD COLUMN http_status TEXT;
    ALTER TABLE events ADD COLUMN http_status_num;
    UPDATE events SET
        http_status = CAST(json_extract(doc, '$."http"."response"."status_code"') AS TEXT),
        http_status_num = (CASE
            WHEN typeof(json_extract(doc, '$."http"."response"."status_code"')) IN ('integer', 'real')
            THEN json_extract(doc, '$."http"."response"."status_code"')
            WHEN typeof(json_extract(doc, '$."http"."response"."status_code"')) = 'text'
                AND json_extract(doc, '$."http"."response"."status_code"') GLOB '*[0-9]*'
                AND NOT json_extract(doc, '$."http"."response"."status_code"') GLOB '*[^0-9.eE+-]*'
            THEN CAST(json_extract(doc, '$."http"."response"."status_code"') AS REAL) END)
        WHERE json_extract(doc, '$."http"."response"."status_code"') IS NOT NULL;
    CREATE INDEX events_http_status ON events(http_status, ts);
    CREATE INDEX events_http_status_num ON events(http_status_num, ts);
    """,
]
