"""The store contract: the same tests against every backend.

SQLite always runs, and so does the Elasticsearch store against the simulator
(``tests/store/es_sim.py``), every request and answer checked against Elastic's
API specification. A real Elasticsearch runs when ``SENTINEL_ES_URL`` (plus
``SENTINEL_ES_USERNAME``/``_PASSWORD`` or ``_API_KEY`` and ``_CA_CERTS`` as
needed) points at a cluster; the suite then works under its own random prefix
(``logs-sentineltest<hex>.*``, ``sentineltest<hex>-alerts``) and deletes
everything it created afterwards, so it never touches a deployment's data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentinel import ecs
from sentinel.models import Alert, RuleRef, alert_id
from sentinel.store.alert_ops import InvalidChange
from sentinel.store.base import (
    AlertQuery,
    EventQuery,
    InvalidQuery,
    NotFound,
    Store,
    StoreError,
    VersionConflict,
    encode_events,
)

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def _sqlite(tmp_path: Path) -> Iterator[Store]:
    from sentinel.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "sentinel.db")
    yield store
    store.close()


def _elasticsearch(tmp_path: Path) -> Iterator[Store]:
    if not os.environ.get("SENTINEL_ES_URL"):
        pytest.skip("SENTINEL_ES_URL is not set: no Elasticsearch cluster to run the contract against")
    from tests.store.es_cluster import scratch_deployment

    with scratch_deployment(tmp_path) as store:
        yield store


def _simulator(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    """The Elasticsearch store against the simulator, set up by ``es setup``'s plan; every request and answer is
    checked against Elastic's API specification (see ``tests/store/es_spec.py``)."""
    from elasticsearch import Elasticsearch

    from sentinel.store.elasticsearch import ElasticsearchStore
    from sentinel.store.es_bulk import DeadLetter
    from sentinel.store.es_templates import TemplateOptions, apply_plan, build_plan
    from tests.store.es_sim import MiniCluster, SimServer

    server = SimServer(MiniCluster(spec=request.getfixturevalue("es_spec"), set_up=False))
    client = Elasticsearch(server.url, max_retries=0, retry_on_status=(), request_timeout=10)
    apply_plan(client, build_plan(TemplateOptions(replicas=0)))
    store = ElasticsearchStore(client, dead_letter=DeadLetter(tmp_path / "dead.sqlite"), refresh=True, url=server.url)
    try:
        yield store
    finally:
        store.close()
        server.close()
    problems = server.cluster.problems
    assert not problems, "requests or answers break Elastic's API specification:\n" + "\n".join(problems[:20])


BACKENDS = {"sqlite": _sqlite, "simulator": _simulator, "elasticsearch": _elasticsearch}


@pytest.fixture(params=list(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend = BACKENDS[request.param]
    yield from backend(tmp_path, request) if backend is _simulator else backend(tmp_path)


def ev(n: int, **fields: object) -> dict:
    """Event ``n``, ``n`` minutes after T0, with dotted ``fields`` set."""
    doc: dict = {
        "@timestamp": ecs.format_ts(T0 + timedelta(minutes=n)),
        "event": {"id": ecs.event_id("contract", n, str(fields)), "dataset": "nginx.access", "kind": "event"},
    }
    for name, value in fields.items():
        ecs.set_field(doc, name.replace("__", "."), value)
    return doc


def ids(events: list[dict]) -> list[str]:
    return [e["event"]["id"] for e in events]


# -- events -----------------------------------------------------------------------------------


def test_append_returns_new_events_and_skips_duplicates(store):
    a, b, c = ev(1), ev(2), ev(3)
    first = store.append_events([a, b, a])
    assert ids(first.stored) == ids([a, b]) and first.duplicates == 1
    second = store.append_events([b, c])
    assert ids(second.stored) == ids([c]) and second.duplicates == 1
    assert store.count_events(EventQuery()) == 3


def test_an_encoded_batch_stores_the_first_copy_of_each_new_id_and_says_where_they_were(store):
    """What ingest workers hand the writer: events encoded (with the backend's own cells, if it has a step)."""
    a, b, c = ev(1), ev(2, message="first copy"), ev(3, message="tìm hồ sơ")
    b_again = {**b, "message": "second copy"}
    store.append_events([a])
    result = store.append_encoded(encode_events([a, b, b_again, c], store.prepare))
    assert result.stored == [1, 3] and result.duplicates == 2
    assert store.get_event(b["event"]["id"])["message"] == "first copy"
    assert ids(store.search_events(EventQuery(text="hồ sơ")).events) == ids([c])  # its search text went in too
    assert store.append_encoded(encode_events([a, b, c], store.prepare)).stored == []


def test_get_event_returns_the_document(store):
    e = ev(1, source__ip="203.0.113.7", message="Đăng nhập thất bại")
    store.append_events([e])
    got = store.get_event(e["event"]["id"])
    assert got["source"]["ip"] == "203.0.113.7" and got["message"] == "Đăng nhập thất bại"
    assert store.get_event("no-such-id") is None


def test_event_without_id_is_refused(store):
    with pytest.raises(StoreError, match=r"event\.id"):
        store.append_events([{"@timestamp": "2026-07-01T08:00:00.000Z", "message": "x"}])
    with pytest.raises(StoreError, match=r"event\.id"):
        encode_events([ev(1), {"event": {"id": 7}}], store.prepare)


def test_search_order_and_pagination(store):
    events = [ev(n) for n in range(7)]
    store.append_events(events)
    newest = store.search_events(EventQuery(limit=100))
    assert ids(newest.events) == ids(events[::-1]) and newest.next_cursor is None
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = store.search_events(EventQuery(limit=3, cursor=cursor, ascending=True))
        seen += ids(page.events)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids(events)


def test_invalid_cursor_is_reported(store):
    with pytest.raises(InvalidQuery, match="cursor"):
        store.search_events(EventQuery(cursor="not-a-cursor"))


def test_field_filters(store):
    store.append_events(
        [
            ev(1, source__ip="10.1.2.3", http__response__status_code=404, user__name="nguyen.van.a"),
            ev(2, source__ip="10.12.0.9", http__response__status_code=200, user__name="tran.thi.b"),
            ev(3, source__ip="192.0.2.1", http__response__status_code=403, user__name="nguyen.thi.c"),
            ev(4, source__ip="10.1.9.9", http__response__status_code=500, labels__province="Hà Nội"),
        ]
    )

    def found(**filters: list[str]) -> list[int]:
        page = store.search_events(EventQuery(filters={k.replace("__", "."): v for k, v in filters.items()}))
        return sorted(int(ecs.parse_ts(e["@timestamp"]).minute) for e in page.events)

    assert found(source__ip=["10.1.2.3"]) == [1]
    assert found(source__ip=["10.1.2.3", "192.0.2.1"]) == [1, 3]
    assert found(source__ip=["10.1.*"]) == [1, 4]
    assert found(source__ip=["10.1*"]) == [1, 2, 4]
    assert found(http__response__status_code=["404"]) == [1]
    assert found(http__response__status_code=["4*"]) == [1, 3]
    assert found(user__name=["nguyen.*"]) == [1, 3]
    assert found(user__name=["nguyen.*"], http__response__status_code=["403"]) == [3]
    assert found(labels__province=["Hà Nội"]) == [4]
    assert found(user__name=["nobody"]) == []


def test_text_search_needs_every_word(store):
    store.append_events(
        [
            ev(1, event__original="GET /search?q=1 UNION SELECT password FROM users HTTP/1.1"),
            ev(2, event__original="GET /union/members HTTP/1.1"),
            ev(3, message="Tra cứu hồ sơ tại Hà Nội"),
        ]
    )

    def found(text: str) -> list[int]:
        return sorted(
            int(ecs.parse_ts(e["@timestamp"]).minute) for e in store.search_events(EventQuery(text=text)).events
        )

    assert found("union") == [1, 2]
    assert found("union select") == [1]
    assert found("UNION password") == [1]
    assert found("hồ sơ") == [3]
    assert found("ho so") == [3]  # diacritics do not matter
    assert found("union nothing") == []


def test_time_range_and_count(store):
    store.append_events([ev(n) for n in range(10)])
    q = EventQuery(since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=7))
    page = store.search_events(q)
    assert len(page.events) == 4 and store.count_events(q) == 4  # since inclusive, until exclusive
    assert store.count_events(EventQuery(filters={"event.dataset": ["nginx.access"]})) == 10


def test_histogram_counts_each_span(store):
    """Bars of a time span (SQLite: one GROUP BY; Elasticsearch: one date_histogram), buckets starting off the
    epoch's grid, the query's own range clipping the first and last bucket, an empty bucket in the middle."""
    store.append_events([ev(n, source__ip="203.0.113.7") for n in (0, 1, 4, 5, 6, 13, 14, 29)])
    store.append_events([ev(2, source__ip="198.51.100.1")])
    q = EventQuery(
        filters={"source.ip": ["203.0.113.7"]}, since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=14)
    )
    # spans of 5 minutes from 07:57: [-3,2) [2,7) [7,12) [12,17) [17,22) [22,27)
    assert store.histogram(q, T0 - timedelta(minutes=3), timedelta(minutes=5), 6) == [1, 3, 0, 1, 0, 0]
    assert store.histogram(EventQuery(), T0 + timedelta(hours=1), timedelta(minutes=5), 2) == [0, 0]


# -- alerts -----------------------------------------------------------------------------------


def make_alert(first: str = "e1", group: str = "203.0.113.7", minute: int = 0, rule: str = "web-sqli") -> Alert:
    ts = ecs.format_ts(T0 + timedelta(minutes=minute))
    return Alert(
        id=alert_id(rule, group, first),
        timestamp=ts,
        rule=RuleRef(id=rule, title=f"rule {rule}", level="high"),
        group_key=group,
        entity={"source.ip": group},
        first_seen=ts,
        last_seen=ts,
        event_ids=[first],
        severity="high",
        risk_score=75,
    )


def test_alert_fold_and_read(store):
    a = store.record_alert(make_alert("e1"))
    assert a.version == 1 and store.get_alert(a.id).count == 1
    b = store.record_alert(make_alert("e2", minute=5))
    assert b.id == a.id and b.count == 2 and b.version == 2 and b.event_ids == ["e1", "e2"]
    assert store.get_alert(a.id).last_seen == ecs.format_ts(T0 + timedelta(minutes=5))
    assert store.get_alert("missing") is None


def test_alert_list_filters_and_count(store):
    store.record_alert(make_alert("e1", group="g1", minute=1))
    store.record_alert(make_alert("e2", group="g2", minute=2))
    other = store.record_alert(make_alert("e3", group="g3", minute=3, rule="brute-force"))
    store.update_alert(other.id, {"status": "acknowledged", "severity": "low"}, 1, actor="lan")
    assert [a.group_key for a in store.list_alerts(AlertQuery())] == ["g3", "g2", "g1"]
    assert [a.group_key for a in store.list_alerts(AlertQuery(limit=1, offset=1))] == ["g2"]
    assert [a.group_key for a in store.list_alerts(AlertQuery(status=["open"]))] == ["g2", "g1"]
    assert [a.group_key for a in store.list_alerts(AlertQuery(rule_id="brute-force"))] == ["g3"]
    assert [a.group_key for a in store.list_alerts(AlertQuery(severity=["low"]))] == ["g3"]
    assert store.count_alerts(AlertQuery(status=["open"])) == 2
    since = AlertQuery(since=T0 + timedelta(minutes=2))
    assert store.count_alerts(since) == 2


def test_alert_list_filters_on_labels(store):
    for n, (province, commune) in enumerate([("Hà Nội", "Cửa Nam"), ("Hà Nội", "Ba Đình"), ("Huế", "Thuận Hóa")]):
        alert = make_alert(f"e{n}", group=f"g{n}", minute=n)
        store.record_alert(alert.model_copy(update={"labels": {"province": province, "commune": commune}}))
    assert store.count_alerts(AlertQuery(labels={"province": "Hà Nội"})) == 2
    page = store.list_alerts(AlertQuery(labels={"province": "Hà Nội", "commune": "Ba Đình"}))
    assert [a.group_key for a in page] == ["g1"]
    assert store.count_alerts(AlertQuery(labels={"province": "Đà Nẵng"})) == 0
    with pytest.raises(InvalidQuery, match="label"):
        store.list_alerts(AlertQuery(labels={"province') OR 1=1 --": "x"}))


def test_alert_update_and_version_conflict(store):
    a = store.record_alert(make_alert())
    updated = store.update_alert(a.id, {"assignee": "lan", "status": "in_progress"}, 1, actor="lan")
    assert updated.version == 2 and updated.assignee == "lan" and updated.updated_by == "lan"
    with pytest.raises(VersionConflict) as err:
        store.update_alert(a.id, {"assignee": "minh"}, 1, actor="minh")
    assert (err.value.expected, err.value.actual) == (1, 2)
    # a version from the future is as stale as one from the past: only the current version applies
    with pytest.raises(VersionConflict) as err:
        store.update_alert(a.id, {"assignee": "minh"}, 3, actor="minh")
    assert (err.value.expected, err.value.actual) == (3, 2)
    assert store.get_alert(a.id).assignee == "lan" and store.get_alert(a.id).version == 2
    with pytest.raises(NotFound):
        store.update_alert("missing", {"assignee": "x"}, 1, actor="x")
    with pytest.raises(InvalidChange):
        store.update_alert(a.id, {"count": 0}, 2, actor="x")
    with pytest.raises(InvalidChange, match="disposition"):
        store.update_alert(a.id, {"status": "closed"}, 2, actor="x")


def test_alert_history_records_every_change(store):
    a = store.record_alert(make_alert("e1"))
    store.record_alert(make_alert("e2"))
    store.update_alert(a.id, {"status": "closed", "disposition": "false_positive"}, 2, actor="lan", action="close")
    history = store.alert_history(a.id)
    assert [(h.version, h.actor, h.action) for h in history] == [
        (1, "detector", "create"),
        (2, "detector", "fold"),
        (3, "lan", "close"),
    ]
    assert history[1].before == {"count": 1} and history[1].after == {"count": 2}
    assert history[2].after == {"status": "closed", "disposition": "false_positive"}
    assert store.alert_history("missing") == []


def test_closed_alert_is_not_folded_into(store):
    a = store.record_alert(make_alert("e1"))
    store.update_alert(a.id, {"status": "closed", "disposition": "benign"}, 1, actor="lan")
    again = store.record_alert(make_alert("e1"))  # the same alert recorded again: nothing changes
    assert again.id == a.id and again.status == "closed" and again.count == 1
    fresh = store.record_alert(make_alert("e7", minute=9))
    assert fresh.id != a.id and fresh.status == "open" and fresh.count == 1
    assert store.count_alerts(AlertQuery()) == 2
