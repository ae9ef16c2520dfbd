"""The query language gives the same answers on every store: SQLite and Elasticsearch (simulated cluster).

Each case is a query and the predicate it means over the test events; both
stores must count and return exactly the events the predicate selects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentinel import ecs
from sentinel.store.base import EventQuery, Store
from sentinel.store.query import QuerySyntaxError, parse_query

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
IPS = ["10.0.0.5", "10.0.0.6", "192.168.1.20"]
STATUSES = [500, 200, 404, 503]
USERS = ["admin", "root", "Nguyễn Văn A", "svc-backup", None]


def make(i: int) -> dict:
    ip, status, user = IPS[i % 3], STATUSES[i % 4], USERS[i % 5]
    url = f"/wp-login.php?try={i}" if i % 2 else f"/api/v1/items/{i}"
    line = f'{ip} - {user or "-"} "GET {url}" {status}' + (' "union select" 1,2' if i % 7 == 0 else "")
    doc: dict = {
        "@timestamp": ecs.format_ts(T0 + timedelta(minutes=i)),
        "event": {"id": ecs.event_id("ql", i, line), "dataset": "nginx.access", "kind": "event", "original": line},
        "source": {"ip": ip},
        "url": {"original": url},
        "http": {"response": {"status_code": status, "body": {"bytes": i * 100}}},
    }
    if user:
        doc["user"] = {"name": user}
    if i % 6 == 0:
        doc["message"] = "sai mật khẩu cho tài khoản quản trị"
    return doc


EVENTS = [make(i) for i in range(30)]


def _ip(e: dict) -> str:
    return e["source"]["ip"]


def _status(e: dict) -> int:
    return e["http"]["response"]["status_code"]


def _user(e: dict) -> str | None:
    return e.get("user", {}).get("name")


def _minute(e: dict) -> int:
    return int((ecs.parse_ts(e["@timestamp"]) - T0).total_seconds() // 60)


CASES: list[tuple[str, Callable[[dict], bool]]] = [
    ("source.ip:10.0.0.5 AND http.response.status_code:500", lambda e: _ip(e) == "10.0.0.5" and _status(e) == 500),
    ("source.ip:10.0.0.5 http.response.status_code:500", lambda e: _ip(e) == "10.0.0.5" and _status(e) == 500),
    ("source.ip:10.0.0.5 OR source.ip:10.0.0.6", lambda e: _ip(e) in ("10.0.0.5", "10.0.0.6")),
    ("NOT source.ip:10.0.0.5", lambda e: _ip(e) != "10.0.0.5"),
    (
        "source.ip:(10.0.0.5 OR 10.0.0.6) AND NOT http.response.status_code:200",
        lambda e: _ip(e) in ("10.0.0.5", "10.0.0.6") and _status(e) != 200,
    ),
    (
        "(source.ip:192.168.1.20 AND user.name:admin) OR http.response.status_code:404",
        lambda e: (_ip(e) == "192.168.1.20" and _user(e) == "admin") or _status(e) == 404,
    ),
    ("http.response.status_code:[500 TO 599]", lambda e: 500 <= _status(e) <= 599),
    ("http.response.status_code:{500 TO 503]", lambda e: 500 < _status(e) <= 503),
    ("http.response.status_code:>=404", lambda e: _status(e) >= 404),
    ("http.response.status_code:<404", lambda e: _status(e) < 404),
    ("http.response.body.bytes:[1000 TO *]", lambda e: e["http"]["response"]["body"]["bytes"] >= 1000),
    ("url.original:/wp-*", lambda e: e["url"]["original"].startswith("/wp-")),
    ("url.original:*items/1?", lambda e: e["url"]["original"].startswith("/api/v1/items/1") and _minute(e) > 9),
    ('user.name:"Nguyễn Văn A"', lambda e: _user(e) == "Nguyễn Văn A"),
    ("user.name:*", lambda e: _user(e) is not None),
    ("NOT user.name:admin", lambda e: _user(e) != "admin"),
    ("user.name:adm?n OR user.name:svc-*", lambda e: _user(e) in ("admin", "svc-backup")),
    ("source.ip:10.0.*", lambda e: _ip(e).startswith("10.0.")),
    ('"union select"', lambda e: e["event"]["id"] in {EVENTS[i]["event"]["id"] for i in range(0, 30, 7)}),
    ("NOT union", lambda e: _minute(e) % 7 != 0),
    ("sele*", lambda e: _minute(e) % 7 == 0),
    ('"mật khẩu" AND source.ip:10.0.0.5', lambda e: _minute(e) % 6 == 0 and _ip(e) == "10.0.0.5"),
    (
        f"@timestamp:[{ecs.format_ts(T0 + timedelta(minutes=5))} TO {ecs.format_ts(T0 + timedelta(minutes=9))}}}",
        lambda e: 5 <= _minute(e) < 9,
    ),
    ("http.response.status_code:abc", lambda e: False),
    ("user.name:nobody OR NOT (source.ip:10.0.0.5 OR source.ip:10.0.0.6)", lambda e: _ip(e) == "192.168.1.20"),
]


@pytest.fixture(params=["sqlite", "elasticsearch"], scope="module")
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp: Path = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        from sentinel.store.sqlite import SQLiteStore

        store = SQLiteStore(tmp / "sentinel.db")
        store.append_events(EVENTS)
        yield store
        store.close()
        return
    from elasticsearch import Elasticsearch

    from sentinel.store.elasticsearch import ElasticsearchStore
    from sentinel.store.es_bulk import BulkLimits, DeadLetter
    from tests.store.es_sim import SimServer

    sim = SimServer()
    client = Elasticsearch(sim.url, max_retries=0, retry_on_status=(), request_timeout=5)
    es = ElasticsearchStore(
        client, dead_letter=DeadLetter(tmp / "dead.sqlite"), limits=BulkLimits(max_retries=1), url="sim"
    )
    es.refresh = "wait_for"
    es.writer.refresh = "wait_for"
    try:
        es.append_events(EVENTS)
        yield es
    finally:
        es.dead_letter.close()
        client.close()
        sim.close()


@pytest.mark.parametrize(("text", "means"), CASES, ids=[c[0][:60] for c in CASES])
def test_every_store_selects_what_the_query_means(loaded: Store, text: str, means: Callable[[dict], bool]):
    expected = sorted(e["event"]["id"] for e in EVENTS if means(e))
    query = parse_query(text)
    query.limit = 100
    found = sorted(e["event"]["id"] for e in loaded.search_events(query).events)
    assert found == expected
    assert loaded.count_events(parse_query(text)) == len(expected)


def test_scope_filters_hold_whatever_the_expression_says(loaded: Store):
    """Filters (how a caller's scope is applied) are ANDed with the expression: an OR cannot widen them."""
    query = parse_query("source.ip:10.0.0.6 OR http.response.status_code:500")
    query.filters["source.ip"] = ["10.0.0.5"]
    query.limit = 100
    found = loaded.search_events(query).events
    assert found and all(_ip(e) == "10.0.0.5" and _status(e) == 500 for e in found)
    assert len(found) == sum(1 for e in EVENTS if _ip(e) == "10.0.0.5" and _status(e) == 500)


def test_time_window_and_expression_together(loaded: Store):
    query = parse_query("source.ip:10.0.0.5")
    query.since, query.until = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
    assert loaded.count_events(query) == sum(1 for e in EVENTS if _ip(e) == "10.0.0.5" and 10 <= _minute(e) < 20)
    assert loaded.count_events(EventQuery()) == len(EVENTS)


def test_a_date_range_needs_times(loaded: Store):
    with pytest.raises(QuerySyntaxError, match="ISO 8601"):
        loaded.count_events(parse_query("@timestamp:[yesterday TO now]"))


def test_histogram_counts_each_span_like_separate_counts(loaded: Store):
    """The store's histogram (one GROUP BY on SQLite, a count per span elsewhere) equals counting span by span."""
    query = parse_query("source.ip:10.0.0.5 OR sele*")
    query.since, query.until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=27)
    step = timedelta(minutes=5)
    counts = loaded.histogram(query, T0, step, 6)
    expected = []
    for i in range(6):
        lo, hi = max(T0 + i * step, query.since), min(T0 + (i + 1) * step, query.until)
        expected.append(
            sum(
                1
                for e in EVENTS
                if _minute(e) >= 0
                and lo <= ecs.parse_ts(e["@timestamp"]) < hi
                and (_ip(e) == "10.0.0.5" or _minute(e) % 7 == 0)
            )
        )
    assert counts == expected and sum(counts) > 0


def test_a_store_of_the_first_schema_gets_destination_and_host_columns(tmp_path: Path):
    """Migration 3 fills the new indexed columns from stored documents, and lookups use their indexes."""
    import orjson

    from sentinel.localdb import connect, migrate
    from sentinel.store.sqlite import SQLiteStore
    from sentinel.store.sqlite_query import event_where
    from sentinel.store.sqlite_schema import MIGRATIONS

    path = tmp_path / "old.db"
    conn = connect(path, "an old store")
    migrate(conn, MIGRATIONS[:1], "an old store")
    doc = {**EVENTS[0], "destination": {"ip": "10.9.8.7"}, "host": {"name": "web-01"}}
    conn.execute("INSERT INTO events(id, ts, doc) VALUES (?, ?, ?)", ("old-1", 0, orjson.dumps(doc)))
    conn.close()
    store = SQLiteStore(path)
    try:
        assert [e["event"]["id"] for e in store.search_events(parse_query("destination.ip:10.9.8.7")).events] == [
            EVENTS[0]["event"]["id"]
        ]
        assert store.count_events(parse_query("host.name:web-01 AND NOT destination.ip:10.0.0.1")) == 1
        where, params = event_where(parse_query("destination.ip:10.9.8.7 OR host.name:web-01"))
        rows = store._conn().execute(f"EXPLAIN QUERY PLAN SELECT 1 FROM events{where}", params)
        plan = " ".join(str(r) for r in rows)
        assert "events_destination_ip" in plan and "events_host_name" in plan
    finally:
        store.close()
