"""Embedded-store specifics (the behaviour shared with Elasticsearch is in tests/store/test_contract.py)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from sentinel import ecs
from sentinel.store.base import EventQuery, StoreError
from sentinel.store.sqlite import SQLiteStore
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
    import multiprocessing

    for round_ in range(3):
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
