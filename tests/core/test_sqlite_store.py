"""Embedded-store specifics (the behaviour shared with Elasticsearch is in tests/store/test_contract.py)."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import threading
from datetime import UTC, datetime

import pytest

from sentinel import ecs
from sentinel.store.base import EventQuery, StoreError
from sentinel.store.expr import Not, Or, Range, Term
from sentinel.store.query import parse_query
from sentinel.store.sqlite import _SEPARATORS, SQLiteStore, stored_fields, words_within
from sentinel.store.sqlite_query import event_where
from sentinel.store.sqlite_schema import MIGRATIONS


def ev(i: int, **extra) -> dict:
    return {
        "@timestamp": f"2026-11-20T00:00:{i % 60:02d}Z",
        "event": {"id": ecs.event_id("t", i, "x"), "dataset": "nginx.access", "original": f"line {i} hello"},
        "source": {"ip": f"10.0.0.{i % 5}"},
        **extra,
    }


def test_schema_is_versioned_and_newer_databases_are_refused(tmp_path):
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer Sentinel"):
        SQLiteStore(path)


def test_reopening_keeps_data(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    s.append_events([ev(i) for i in range(10)])
    s.close()
    s2 = SQLiteStore(tmp_path / "s.db")
    assert s2.count_events(EventQuery()) == 10
    assert s2.count_events(EventQuery(text="hello")) == 10


def test_event_without_id_is_refused(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(StoreError, match=r"event\.id"):
        s.append_events([{"@timestamp": "2026-01-01T00:00:00Z"}])


def test_concurrent_writers_and_readers(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    errors: list[Exception] = []

    def writer(k: int) -> None:
        try:
            for b in range(20):
                s.append_events([ev(k * 10000 + b * 50 + i) for i in range(50)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(50):
                s.search_events(EventQuery(limit=10))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert s.count_events(EventQuery()) == 3 * 20 * 50


def test_fts_operators_in_user_text_are_literal(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    s.append_events([ev(1, message='a OR b NEAR(c) "quoted" *')])
    assert s.count_events(EventQuery(text='OR NEAR(c) "quoted')) in (0, 1)  # no syntax error raised
    assert s.count_events(EventQuery(text="quoted")) == 1
    assert s.count_events(EventQuery(text="\x00")) == 0  # FTS5 would read NUL as the end of the query
    assert s.count_events(EventQuery(text="quo\x00ted quoted")) == 0
    assert s.count_events(EventQuery(text="\x00quoted")) == 1


def _open(path: str) -> None:
    SQLiteStore(path).close()


def test_processes_opening_a_new_store_together_migrate_once(tmp_path):
    """And none is told the file is locked: turning a new file to WAL is waited for like any lock."""
    import multiprocessing

    for round_ in range(10):
        path = str(tmp_path / f"race{round_}.db")
        procs = [multiprocessing.Process(target=_open, args=(path,)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        assert [p.exitcode for p in procs] == [0, 0, 0, 0]
        assert SQLiteStore(path).count_events(EventQuery()) == 0


def test_odd_shapes_in_hot_fields_are_stored_not_refused(tmp_path):
    """A list of user names or an object where an address belongs: stored as JSON text, the batch goes through."""
    s = SQLiteStore(tmp_path / "s.db")
    odd = [
        ev(1, user={"name": ["lan", "minh"]}),
        {**ev(2), "source": {"ip": {"v4": "10.0.0.9"}}},
        {"@timestamp": "2026-11-20T00:00:03Z", "event.id": "dotted-1", "source.ip": "10.0.0.7", "message": "dotted"},
        ev(4, user={"name": "lan"}),
    ]
    result = s.append_events(odd)
    assert len(result.stored) == 4
    assert s.count_events(EventQuery(filters={"user.name": ["lan"]})) == 1
    assert s.count_events(EventQuery(filters={"user.name": ['["lan","minh"]']})) == 1
    assert s.count_events(EventQuery(filters={"source.ip": ["10.0.0.7"]})) == 1  # dotted keys read too
    assert s.count_events(EventQuery(text="dotted")) == 1
    assert s.get_event(ev(1)["event"]["id"])["user"]["name"] == ["lan", "minh"]


def test_a_replayed_batch_skips_the_transforms(tmp_path):
    """Events the store already holds are dropped before the transforms: a replay costs no protection or detection."""
    from sentinel.ingest.pipeline import Pipeline

    seen: list[str] = []

    def transform(e: dict) -> dict:
        seen.append(e["event"]["id"])
        return e

    store = SQLiteStore(tmp_path / "s.db")
    pipeline = Pipeline(store, [transform])
    first = pipeline.process([ev(i) for i in range(5)])
    assert (first.stored, first.duplicates, len(seen)) == (5, 0, 5)
    assert store.known_ids([ev(1)["event"]["id"], "never-stored"]) == {ev(1)["event"]["id"]}
    seen.clear()
    again = pipeline.process([ev(i) for i in range(3, 8)])  # 3 and 4 are replays
    assert (again.read, again.stored, again.duplicates) == (5, 3, 2)
    assert sorted(seen) == sorted(ev(i)["event"]["id"] for i in range(5, 8))
    assert store.count_events(EventQuery()) == 8


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)


def test_a_text_the_line_already_holds_is_indexed_once_and_found_the_same(tmp_path, monkeypatch):
    """Free text finds the same events when a text within an earlier one is left out of the index.

    The reference store indexes every distinct text (as before); both must answer every word,
    prefix and phrase of every field alike, including a URL decoded differently from the line
    and a text glued to a longer word in the line ("admin" in "/administrator").
    """
    import sentinel.store.sqlite as sqlite_store

    ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
    docs = [
        {  # URL and user agent verbatim in the line: both left out
            "url": {"original": "/admin/login.php?user=lan"},
            "user_agent": {"original": ua},
            "event": {"original": f'1.2.3.4 - - "GET /admin/login.php?user=lan HTTP/1.1" 200 "{ua}"'},
        },
        {  # the line keeps the URL percent-encoded, url.original is decoded: kept
            "url": {"original": "/tìm?q=cà phê sữa"},
            "event": {"original": '1.2.3.5 - - "GET /t%C3%ACm?q=c%C3%A0+ph%C3%AA+s%E1%BB%AFa HTTP/1.1" 404'},
        },
        {  # glued to longer words in the line: kept (the index would not find "admin" in "administrator")
            "message": "admin",
            "url": {"original": "/administrator/index"},
            "event": {"original": "GET /administrator/index.php HTTP/1.1 superadmin"},
        },
        {  # glued first, then a free occurrence: left out
            "message": "Đăng nhập sai",
            "error": {"message": "Đăng nhập sai"},
            "event": {"original": "xĐăng nhập sai; Đăng nhập sai cho tài khoản quản trị"},
        },
        {  # a Vietnamese letter next to the occurrence: not trusted as a boundary, kept
            "message": "nhập",
            "event": {"original": "Đăngnhập thành công"},
        },
        {  # no line: the texts that remain are indexed as before
            "message": "tài khoản bị khóa",
            "error": {"message": "khoản bị khóa"},
            "url": {"original": "/unlock?tk=khóa"},
        },
    ]
    events = [{"@timestamp": f"2026-11-20T00:00:0{i}Z", **d} for i, d in enumerate(docs)]
    for i, e in enumerate(events):
        e["event"] = {**e.get("event", {}), "id": f"e{i}"}
    new = SQLiteStore(tmp_path / "new.db")
    new.append_events(events)

    def every_text(doc: dict) -> tuple[list, str]:  # the distinct text fields, whatever the others hold (as before)
        texts = [ecs.get_field(doc, f) for f in sqlite_store.TEXT_FIELDS]
        return stored_fields(doc)[0], "\n".join(dict.fromkeys(t for t in texts if isinstance(t, str)))

    with monkeypatch.context() as m:
        m.setattr(sqlite_store, "stored_fields", every_text)
        old = SQLiteStore(tmp_path / "old.db")
        old.append_events(events)
    bodies = [stored_fields(e)[1] for e in events]
    assert bodies[0] == events[0]["event"]["original"] and bodies[3] == events[3]["event"]["original"]
    assert all(t in bodies[i] for i, t in ((1, "cà phê sữa"), (2, "admin"), (4, "nhập"), (5, "khoản bị khóa")))
    searches: set[str] = set()
    for e in events:
        for field in sqlite_store.TEXT_FIELDS:
            words = _words(ecs.get_field(e, field) or "")
            searches.update(words)
            searches.update(f"{w[:3]}*" for w in words)
            searches.update(f'"{" ".join(words[i : i + 3])}"' for i in range(len(words)))
    assert len(searches) > 100
    try:
        for text in sorted(searches):
            q = parse_query(text)
            found = [x["event"]["id"] for x in new.search_events(q).events]
            assert found == [x["event"]["id"] for x in old.search_events(q).events], text
            assert found or text.endswith("*"), text  # every word of every field is found
            assert new.count_events(q) == len(found)
    finally:
        new.close()
        old.close()


def test_the_index_reads_ascii_letters_and_digits_as_words_and_all_else_as_separators(tmp_path):
    """What ``words_within`` trusts as a word boundary is one for the store's full-text index."""
    s = SQLiteStore(tmp_path / "s.db")
    try:
        conn = s._conn()
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(body, content='', tokenize='unicode61 remove_diacritics 2')")
        for c in range(1, 128):
            conn.execute("INSERT INTO t(rowid, body) VALUES (?, ?)", (c, f"q{chr(c)}z"))
        split = {r for (r,) in conn.execute("SELECT rowid FROM t WHERE t MATCH 'q'")}
        assert split == {ord(c) for c in _SEPARATORS} - {0}
        assert words_within("ab", "x ab") and not words_within("ab", "xab") and not words_within("ab", "xab abc")
        assert words_within(" ab", "xx ab") and words_within("ab!", "ab!c") and words_within("ab", "ab")
    finally:
        s.close()


SPARSE = ("user.name", "labels.province", "labels.commune", "destination.ip", "host.name")


def _shapes() -> list[EventQuery]:
    """Every condition sqlite_query writes on a sparse hot column, alone, beside others and in a time range."""
    since, until = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
    out: list[EventQuery] = []
    for f in SPARSE:
        for text in (
            f"{f}:a1",
            f"{f}:(a1 OR b2)",
            f"{f}:a1 OR {f}:b2",
            f"{f}:a*",
            f"{f}:a?1*",
            f"{f}:*",
            f"_exists_:{f}",
            f"NOT {f}:a1",
            f"NOT _exists_:{f}",
            f"{f}:a1 AND NOT {f}:b2",
            f"{f}:a1 AND source.ip:10.0.0.1",
            f"{f}:a1 OR source.ip:10.0.0.1",
            f"{f}:[a1 TO b2]",
            f"{f}:a1 AND hello",
        ):
            out.append(parse_query(text))
        out += [EventQuery(filters={f: ["a1"]}), EventQuery(filters={f: ["a1", "b2"]})]
        out += [EventQuery(filters={f: ["a*"]}), EventQuery(filters={f: ["a1"]}, text="hello")]
    out.append(EventQuery(filters={"labels.province": ["a1"], "labels.commune": ["b2"]}))
    out.append(parse_query("destination.ip:a1 OR source.ip:a1 OR host.name:a1"))
    return out + [dataclasses.replace(q, since=since, until=until) for q in out]


def _statements(q: EventQuery) -> list[tuple[str, list]]:
    """The statements SQLiteStore runs for ``q``: a page, a page after a cursor, a count, a histogram."""
    where, params = event_where(q)
    page = f"SELECT ts, seq, doc FROM events{where} ORDER BY ts DESC, seq DESC LIMIT ?"
    after = (where + " AND " if where else " WHERE ") + "(ts, seq) < (?, ?)"
    span = (where + " AND " if where else " WHERE ") + "ts >= ? AND ts < ?"
    return [
        (page, [*params, 51]),
        (f"SELECT ts, seq, doc FROM events{after} ORDER BY ts DESC, seq DESC LIMIT ?", [*params, 5, 5, 51]),
        (f"SELECT COUNT(*) FROM events{where}", params),
        (f"SELECT (ts - ?) / ?, COUNT(*) FROM events{span} GROUP BY 1", [0, 60000, *params, 0, 3600000]),
    ]


def _plan(conn: sqlite3.Connection, sql: str, params: list) -> str:
    return " ; ".join(r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def _sparse_events() -> list[dict]:
    """Web access events without user, place, destination or host, and a few events with them."""
    out = [ev(i) for i in range(40)]
    for i in range(40, 52):
        extra = {
            "user": {"name": ["a1", "b2", "a21", "c3"][i % 4]},
            "labels": {"province": ["a1", "b2"][i % 2], "commune": ["b2", "a1", "z9"][i % 3]},
            "destination": {"ip": ["a1", "10.0.0.1"][i % 2]},
            "host": {"name": ["b2", "a1", "a11"][i % 3]},
        }
        out.append(ev(i, **{k: v for j, (k, v) in enumerate(extra.items()) if (i + j) % 3}))
    return out


def _old_store(path, version: int, events: list[dict], monkeypatch) -> SQLiteStore:
    """A store of schema ``version`` (3 or 4) holding ``events``, appended as that version did (no split columns)."""
    import sentinel.store.sqlite as sqlite_store
    from sentinel.store.sqlite_schema import COLUMNS

    assert version < 5
    with monkeypatch.context() as m:
        m.setattr(sqlite_store, "MIGRATIONS", MIGRATIONS[:version])
        cols = ", ".join(["id", "ts", *COLUMNS.values(), "doc"])
        marks = ", ".join("?" * (len(COLUMNS) + 3))
        m.setattr(sqlite_store, "INSERT_EVENT", f"INSERT INTO events({cols}) VALUES ({marks})")
        m.setattr(sqlite_store, "split_cells", lambda doc: [])
        m.setattr(sqlite_store, "NO_SPLIT", ())
        old = SQLiteStore(path)
        old.append_events(events)
    return old


def test_the_sparse_columns_partial_indexes_serve_every_query_shape_as_before(tmp_path, monkeypatch):
    """Migration 4: a store of schema 3 with events keeps them, answers alike and uses its indexes as before.

    Every statement the store runs for a condition on a sparse column (a page, the next page, a
    count, a histogram) plans the same as on schema 3, the same index searched in the same order,
    but for two full scans: a count with no time range of ``NOT field:value`` or of a range on
    the field read the index that covered the column and now reads the table. Both stay one
    pass over the events; with a time range they plan as before.
    """
    path = tmp_path / "s3.db"
    old = _old_store(path, 3, _sparse_events(), monkeypatch)
    conn = old._conn()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    columns = ", ".join(r[1] for r in conn.execute("PRAGMA table_info(events)"))
    rows = conn.execute(f"SELECT {columns} FROM events ORDER BY seq").fetchall()
    shapes = _shapes()
    before = []
    for q in shapes:
        for sql, params in _statements(q):
            before.append((_plan(conn, sql, params), conn.execute(sql, params).fetchall()))
    old.close()

    store = SQLiteStore(path)
    try:
        conn = store._conn()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 4
        assert conn.execute(f"SELECT {columns} FROM events ORDER BY seq").fetchall() == rows
        for name in ("events_user_name", "events_destination_ip", "events_host_name"):
            (sql,) = conn.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (name,)).fetchone()
            assert sql.endswith("IS NOT NULL")
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        statements = [(q, sql, params) for q in shapes for sql, params in _statements(q)]
        answered, changed = 0, set()
        for (q, sql, params), (old_plan, old_rows) in zip(statements, before, strict=True):
            new_plan = _plan(conn, sql, params)
            assert conn.execute(sql, params).fetchall() == old_rows, (q, sql)
            answered += bool(old_rows and old_rows[0][-1])
            if new_plan != old_plan:  # a full scan of the index that covered the column, now of the table
                assert old_plan.startswith("SCAN events USING COVERING INDEX") and new_plan == "SCAN events"
                assert sql.startswith("SELECT COUNT") and q.since is None and not q.filters, (q, sql)
                part = q.where.part if isinstance(q.where, Not) else q.where
                changed.add((type(q.where).__name__, part.field, getattr(part, "kind", "")))
        partial = ("user.name", "destination.ip", "host.name")
        assert changed == {("Not", f, "exact") for f in partial} | {("Range", f, "") for f in partial}
        assert len(statements) > 600
        assert answered > 100  # the queries match events, not nothing
        for q in shapes:
            assert store.count_events(q) == len(store.search_events(dataclasses.replace(q, limit=1000)).events)
    finally:
        store.close()


def test_the_connection_that_appends_gets_the_larger_cache_and_readers_keep_the_default(tmp_path):
    from sentinel.store.sqlite import WRITER_CACHE_KIB

    s = SQLiteStore(tmp_path / "s.db")
    try:
        s.append_events([ev(i) for i in range(3)])
        assert s._conn().execute("PRAGMA cache_size").fetchone()[0] == -WRITER_CACHE_KIB
        seen: list[int] = []

        def read() -> None:
            seen.append(s.count_events(EventQuery(text="hello")))
            seen.append(s._conn().execute("PRAGMA cache_size").fetchone()[0])

        reader = threading.Thread(target=read)
        reader.start()
        reader.join()
        assert seen == [3, -2000]
    finally:
        s.close()


STATUS = "http.response.status_code"
# Every kind of value a response status can hold in a stored event, as the JSON path reads it.
STATUS_VALUES: list = [
    *[404, 200, 500, 401, 403, 302, 503, 0, -5, 2**63 - 1, 2**63, 9007199254740993],
    *["404", "0404", "404.0", " 404", "404 ", "+404", "4xx", "abc", "", "-", "1e2", "12\x00x", "9007199254740993"],
    *[404.0, 404.5, 0.1 + 0.2, 1e20, -0.0, True, False, None, [404], {"code": 404}, "ünï", "[404]"],
]


def _status_events() -> list[dict]:
    """Events with every kind of status value, events without one, and statuses where the JSON path does not look."""
    out = []
    for i, value in enumerate(STATUS_VALUES * 2):
        out.append(ev(i, http={"response": {"status_code": value}}, url={"path": f"/p{i % 3}"}))
    out += [ev(100 + i) for i in range(6)]  # no http at all
    out.append(ev(110, http=[{"response": {"status_code": 404}}]))
    out.append(ev(111, http={"response": "404"}))
    out.append(ev(112, **{"http.response.status_code": 404}))  # a dotted key: json_extract does not see it
    out.append(ev(113, http={"response.status_code": 404}))
    for i in range(120, 160):
        out.append(ev(i, http={"response": {"status_code": [200, 404, 500, 401][i % 4]}}))
    return out


def _status_shapes() -> list[EventQuery]:
    f = STATUS
    since, until = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 20, 0, 0, 30, tzinfo=UTC)
    out = [
        parse_query(text)
        for text in (
            *(f"{f}:{v}" for v in ("404", '"404"', "500", "404.0", "0404", "abc", "1", "0", "-5", "1.0e+20", "0.3")),
            *(f"{f}:{v}" for v in ('"[404]"', "9007199254740993", "9223372036854775807", "9.22337203685478e+18")),
            f"{f}:(401 OR 403)",
            f"{f}:401 OR {f}:403",
            f"{f}:4*",
            f"{f}:*04",
            f"{f}:4?4",
            f"{f}:a*",
            f"{f}:*",
            f"NOT {f}:*",
            f"NOT {f}:404",
            f"NOT {f}:[400 TO 499]",
            f"{f}:[400 TO 499]",
            f"{f}:{{400 TO 500}}",
            f"{f}:>=500",
            f"{f}:<300",
            f"{f}:>404.2",
            f"{f}:<=404",
            f"{f}:[* TO 404]",
            f"{f}:[* TO *]",
            f"{f}:[0.2 TO 0.4]",
            f"{f}:[9007199254740992 TO 9007199254740992]",
            f"{f}:>=1e19",
            f"{f}:[a TO z]",
            f"{f}:[4 TO 5x]",
            f"{f}:[400 TO 499] AND NOT {f}:404",
            f"{f}:404 AND source.ip:10.0.0.1",
            f"{f}:404 OR source.ip:10.0.0.1",
            f"{f}:>=500 AND source.ip:10.0.0.1",
            f"{f}:404 AND hello",
            f"{f}:4* AND url.path:/p1",
            f"({f}:401 OR {f}:403) AND NOT url.path:/p0",
        )
    ]
    out += [EventQuery(filters={f: ["404"]}), EventQuery(filters={f: ["404", "500"]})]
    out += [EventQuery(filters={f: ["4*"]}), EventQuery(filters={f: ["404"]}, text="hello")]
    out += [EventQuery(filters={f: ["12\x00x"]}), EventQuery(filters={f: ["12*"]})]
    return out + [dataclasses.replace(q, since=since, until=until) for q in out]


def test_the_status_columns_answer_every_query_shape_as_the_json_path_did(tmp_path, monkeypatch):
    """Migration 5 and appends: every statement on the response status returns what json_extract returned.

    A store of schema 4 holds half the events (its columns filled by the migration), the store of
    this version appends the other half (filled by Python or, for the values Python cannot render
    as SQLite does, by SQLite): each column equals the JSON expression on every row, and every
    statement (a page, the next page, a count, a histogram) returns the same rows as the same
    query written on the JSON, before the migration and after.
    """
    import sentinel.store.sqlite_query as sqlite_query
    from sentinel.store.sqlite import split_cells
    from sentinel.store.sqlite_query import as_number, as_text, json_value

    events = _status_events()
    assert any(split_cells(e) is None for e in events) and any(split_cells(e) is not None for e in events)
    path = tmp_path / "s4.db"
    old = _old_store(path, 4, events[::2], monkeypatch)
    shapes = _status_shapes()

    def on_json(conn: sqlite3.Connection) -> list:
        with monkeypatch.context() as m:
            m.setattr(sqlite_query, "SPLIT_COLUMNS", {})
            return [conn.execute(sql, p).fetchall() for q in shapes for sql, p in _statements(q)]

    before = on_json(old._conn())
    old.close()

    store = SQLiteStore(path)
    try:
        conn = store._conn()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 5
        assert before == [conn.execute(sql, p).fetchall() for q in shapes for sql, p in _statements(q)]
        store.append_events(events[1::2])
        text, number = as_text(json_value(STATUS)), as_number(json_value(STATUS))
        differ = f"""SELECT count(*) FROM events
            WHERE http_status IS NOT {text} OR typeof(http_status) != typeof({text})
            OR http_status_num IS NOT {number} OR typeof(http_status_num) != typeof({number})"""
        assert conn.execute(differ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (len(events),)
        # the migration fills the columns with the expressions queries wrote on the JSON
        flat = " ".join(MIGRATIONS[4].split())
        assert f"http_status = {text}," in flat and f"http_status_num = {number} WHERE" in flat
        reference = on_json(conn)
        answered = 0
        statements = [(q, sql, p) for q in shapes for sql, p in _statements(q)]
        for (q, sql, p), rows in zip(statements, reference, strict=True):
            assert "json_extract" not in sql or "url.path" in str(q.where), sql
            assert conn.execute(sql, p).fetchall() == rows, (q, sql)
            answered += bool(rows and rows[0][-1])
        assert answered > 150
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        store.close()


def test_the_status_indexes_serve_status_searches_and_leave_other_indexes_their_queries(tmp_path, monkeypatch):
    """Every statement on the status alone reads its indexes; beside an address or text, the plan is the JSON path's.

    A term (or a filter of one value) reads the status index newest first, with no sort, in a time
    range or not; counts read the index alone. A page of a range or a wildcard walks the events
    newest first as it did (reading the column, not the JSON), where the index would sort every
    match first. Beside a condition with an index of its own (an address, free text), SQLite keeps
    the plan it had when the status was JSON: told a status matches many events (``likelihood``),
    it does not trade the address's index for the status's.
    """
    import sentinel.store.sqlite_query as sqlite_query

    store = SQLiteStore(tmp_path / "s.db")
    try:
        store.append_events(_status_events())
        conn = store._conn()
        for q in _status_shapes():
            statements = _statements(q)
            with monkeypatch.context() as m:
                m.setattr(sqlite_query, "SPLIT_COLUMNS", {})
                old = [_plan(conn, sql, p) for sql, p in _statements(q)]
            new = [_plan(conn, sql, p) for sql, p in statements]
            shown = str(q.where) + str(q.filters) + (q.text or "")
            if "source" in shown or "hello" in shown:  # as before, or the status or an address each by its index
                for n, o in zip(new, old, strict=True):
                    assert n == o or (isinstance(q.where, Or) and "MULTI-INDEX OR" in n and "source_ip" in n), q
                continue
            page, after, count, hist = new
            if q.since:  # the status's index, or the time range's where no value is named (exists, *04, >=500)
                assert "events_http_status" in count or "events_ts (ts>? AND ts<?)" in count, (q, count)
            elif "url" in shown or "Not(" in shown:  # another field to read: the index, or the table's columns
                assert "events_http_status" in count or count == "SCAN events", (q, count)
            else:  # the index alone
                assert " USING COVERING INDEX events_http_status" in count, (q, count)
            one_value = (isinstance(q.where, Term) and q.where.kind == "exact") or (
                q.filters and len(q.filters[STATUS]) == 1 and not q.filters[STATUS][0].endswith("*")
            )
            if one_value:
                index = "SEARCH events USING INDEX events_http_status (http_status=?"
                assert page == index + (" AND ts>? AND ts<?)" if q.since else ")"), (q, page)
                assert after == index + (" AND ts>? AND ts<?)" if q.since else " AND ts<?)"), (q, after)
                assert hist.startswith(index.replace("INDEX", "COVERING INDEX", 1) + " AND ts>?"), hist
            if isinstance(q.where, Range) or (isinstance(q.where, Term) and q.where.value in ("4*", "a*")):
                assert page == old[0], (q, page)  # newest first, as before: a sort of every match could cost seconds
    finally:
        store.close()
