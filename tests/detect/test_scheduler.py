"""The Elasticsearch scheduler, with the real ``elasticsearch`` client against a scripted server on 127.0.0.1.

No Elasticsearch can run here, so a small HTTP server plays one: it answers
``POST /_query`` (ES|QL, JSON ``columns``/``values``) by applying the time range,
group conditions and the correlation's bucket/count/threshold that the query
text carries to the events it holds (the rule's own conditions are taken as
true: every event the test loads matches), and ``POST /_mget``. That exercises
the real client, transport and response parsing. Against a real cluster the
last test runs when ``SENTINEL_ES_URL`` is set.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from elasticsearch import Elasticsearch

from sentinel import ecs
from sentinel.config import DEFAULT_CONTENT_DIR
from sentinel.detect import scheduler as scheduler_mod
from sentinel.detect.convert import DEFAULT_INDEX
from sentinel.detect.engine import Engine
from sentinel.detect.pack import load_pack
from sentinel.detect.scheduler import Scheduler, scheduled_rules
from sentinel.store.sqlite import SQLiteStore

RULES = DEFAULT_CONTENT_DIR / "rules"
T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
_TIME = re.compile(r'`@timestamp` (>=|<) TO_DATETIME\("([^"]+)"\)')
_EQ = re.compile(r'([\w.]+) == "([^"]*)"')
_UNIT = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class FakeElasticsearch:
    """Events by id, and the ES|QL and mget requests it was sent."""

    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}
        self.queries: list[str] = []
        self.fail_when: str | None = None

    def add(self, events: list[dict]) -> None:
        for e in events:
            self.docs[e["event"]["id"]] = e

    def esql(self, query: str) -> tuple[int, dict]:
        self.queries.append(query)
        if self.fail_when and self.fail_when in query:
            return 400, {"error": {"type": "verification_exception", "reason": "scripted failure"}, "status": 400}
        bounds = dict((op, ecs.parse_ts(ts)) for op, ts in _TIME.findall(query))
        search = query.split("\n", 1)[0]
        equal = dict(_EQ.findall(search.split("| where", 2)[1]))  # group conditions of an evidence query
        hits = []
        for _id, doc in self.docs.items():
            ts = ecs.parse_ts(doc["@timestamp"])
            flat = ecs.flatten(doc)
            if bounds[">="] <= ts < bounds["<"] and all(str(flat.get(k)) == v for k, v in equal.items()):
                hits.append((ts, _id, flat))
        hits.sort()
        if "| stats" not in query:
            limit = int(re.search(r"\| limit (\d+)", query).group(1))
            rows = [[_id, "logs-sentinel.test-default", ecs.format_ts(ts)] for ts, _id, _ in hits[:limit]]
            return 200, {"columns": [{"name": n} for n in ("_id", "_index", "@timestamp")], "values": rows}
        return 200, self._aggregate(query, hits)

    def _aggregate(self, query: str, hits: list) -> dict:
        n, unit = re.search(r"date_trunc\((\d+)(\w+), @timestamp\)", query).groups()
        span = int(n) * _UNIT[unit]
        by = [f.strip() for f in re.search(r"by timebucket((?:, [\w.]+)*)", query).group(1).split(",") if f.strip()]
        distinct = re.search(r"count_distinct\(([\w.]+)\)", query)
        threshold = int(re.search(r"where \w+_count >= (\d+)", query).group(1))
        groups: dict[tuple, set | list] = defaultdict(list)
        for ts, _id, flat in hits:
            bucket = ts.timestamp() - ts.timestamp() % span
            groups[(bucket, *(flat.get(f) for f in by))].append(flat.get(distinct.group(1)) if distinct else _id)
        rows = []
        for (bucket, *values), members in groups.items():
            if len(set(members)) >= threshold:
                when = ecs.format_ts(datetime.fromtimestamp(bucket, UTC))
                rows.append([len(set(members)), when, *values])
        names = ["value_count" if distinct else "event_count", "timebucket", *by]
        return {"columns": [{"name": n} for n in names], "values": rows}


@pytest.fixture
def fake_es():
    fake = FakeElasticsearch()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            if self.path.startswith("/_query"):
                status, payload = fake.esql(body["query"])
            elif self.path.startswith("/_mget"):
                docs = []
                for d in body["docs"]:
                    src = fake.docs.get(d["_id"])
                    docs.append({"_index": d["_index"], "_id": d["_id"], "found": src is not None, "_source": src})
                status, payload = 200, {"docs": docs}
            else:
                status, payload = 404, {"error": "unknown endpoint", "status": 404}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.client = Elasticsearch(f"http://127.0.0.1:{server.server_address[1]}", request_timeout=5, max_retries=0)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def pack():
    return load_pack([RULES])


def _rules(pack, *titles, index: str = DEFAULT_INDEX):
    chosen = [r for r in pack.rules if r.title in titles]
    needed = {id(x): x for r in chosen for x in pack.with_references(r)}
    scheduled, skipped = scheduled_rules([r.rule for r in needed.values()], index)
    assert skipped == []
    return [s for s in scheduled if s.title in titles], [r.rule for r in needed.values()]


def _web_event(i: int, query: str, ip: str = "203.0.113.50") -> dict:
    flat = {
        "@timestamp": ecs.format_ts(T0 + timedelta(seconds=i)),
        "event.dataset": "nginx.access",
        "event.category": ["web"],
        "event.id": f"web-{i}",
        "source.ip": ip,
        "http.request.method": "GET",
        "url.path": "/dich-vu-cong/ho-so/tra-cuu",
        "url.query": query,
    }
    return ecs.unflatten(flat)


def test_simple_rule_alerts_are_the_engines(fake_es, pack, tmp_path):
    scheduled, sigma_rules = _rules(pack, "SQL injection with UNION SELECT in a portal query string")
    attack = _web_event(5, "maHoSo=1' UNION SELECT 1--")
    fake_es.add([attack])
    store = SQLiteStore(tmp_path / "s.db")
    sched = Scheduler(fake_es.client, store, scheduled, settle=60, lookback=3600)
    alerts = sched.run_once(now=T0 + timedelta(minutes=10))
    expected = [
        a
        for a in Engine.from_collection(pack.collection([r for r in pack.rules if r.rule in sigma_rules])).process(
            [attack]
        )
    ]
    assert [a.to_doc() for a in alerts] == [a.to_doc() for a in expected]
    assert store.get_alert(alerts[0].id) is not None
    query = fake_es.queries[0]
    assert query.startswith("from logs-sentinel.* metadata _id, _index, _version | where `@timestamp` >= ")
    assert 'TO_DATETIME("2026-07-01T01:09:00.000Z")' in query  # now - settle - lookback
    assert query.endswith("| sort `@timestamp` asc | keep _id, _index, `@timestamp` | limit 10001")


def test_windows_are_consecutive_and_never_overlap(fake_es, pack, tmp_path):
    scheduled, _ = _rules(pack, "SQL injection with UNION SELECT in a portal query string")
    fake_es.add([_web_event(5, "id=1 union select 2")])
    store = SQLiteStore(tmp_path / "s.db")
    sched = Scheduler(fake_es.client, store, scheduled, settle=60, lookback=600)
    first = sched.run_once(now=T0 + timedelta(minutes=5))
    second = sched.run_once(now=T0 + timedelta(minutes=6))
    third = sched.run_once(now=T0 + timedelta(minutes=6))  # nothing new is due
    assert len(first) == 1 and second == [] and third == []
    assert len(fake_es.queries) == 2
    (end1,) = [ts for op, ts in _TIME.findall(fake_es.queries[0]) if op == "<"]
    (start2,) = [ts for op, ts in _TIME.findall(fake_es.queries[1]) if op == ">="]
    assert end1 == start2 == "2026-07-01T02:04:00.000Z"


def _login_failures(user: str, n: int, every: int) -> list[dict]:
    return [
        ecs.unflatten(
            {
                "@timestamp": ecs.format_ts(T0 + timedelta(seconds=i * every)),
                "event.dataset": "portal.app",
                "event.category": ["authentication"],
                "event.action": "login",
                "event.outcome": "failure",
                "event.id": f"login-{user}-{i}",
                "user.name": user,
                "source.ip": f"113.161.10.{i % 3}",
            }
        )
        for i in range(n)
    ]


def test_correlation_alert_is_built_like_the_engines(fake_es, pack, tmp_path):
    title = "Brute force against one portal account"
    scheduled, sigma_rules = _rules(pack, title)
    events = _login_failures("001090012345", 12, 15) + _login_failures("001090099999", 4, 15)
    fake_es.add(events)
    store = SQLiteStore(tmp_path / "s.db")
    sched = Scheduler(fake_es.client, store, scheduled, settle=60, lookback=3600)
    alerts = sched.run_once(now=T0 + timedelta(minutes=30))
    (alert,) = alerts
    engine = Engine.from_collection(pack.collection([r for r in pack.rules if r.rule in sigma_rules]))
    (expected,) = [a for a in engine.process(events) + engine.flush() if a.rule.id == alert.rule.id]
    for key in ("id", "rule", "group_key", "entity", "first_seen", "severity", "risk_score", "tags"):
        assert getattr(alert, key) == getattr(expected, key), key
    assert alert.count == 12 and alert.event_ids == [f"login-001090012345-{i}" for i in range(12)]
    assert alert.events[0] == events[0]
    assert store.get_alert(alert.id).entity == {"user.name": "001090012345"}
    # aggregation over closed 5-minute buckets only, then evidence for the one group
    agg, evidence = fake_es.queries[0], fake_es.queries[1]
    assert "stats event_count=count() by timebucket, user.name" in agg
    assert 'TO_DATETIME("2026-07-01T02:25:00.000Z")' in agg  # floor(now - settle) to the timespan
    assert 'user.name == "001090012345"' in evidence


def test_failing_rule_is_reported_and_its_window_retried(fake_es, pack, tmp_path):
    sqli, xss = (
        "SQL injection with UNION SELECT in a portal query string",
        "Cross-site scripting payload in a portal request",
    )
    scheduled, _ = _rules(pack, sqli, xss)
    fake_es.add([_web_event(5, "id=1 union select 2")])
    sched = Scheduler(fake_es.client, SQLiteStore(tmp_path / "s.db"), scheduled, settle=0, lookback=600)
    fake_es.fail_when = "[sS][eE][lL][eE][cC][tT]"  # only the SQL injection rule (its regex) fails
    first = sched.run_once(now=T0 + timedelta(minutes=5))
    assert [a.rule.title for a in first] == [xss]  # the others still run (the fake matches every event)
    (failed_id,) = sched.errors
    assert "scripted failure" in sched.errors[failed_id]
    fake_es.fail_when = None
    second = sched.run_once(now=T0 + timedelta(minutes=6))
    assert [a.rule.title for a in second] == [sqli] and sched.errors == {}
    retry = next(q for q in fake_es.queries[2:] if "[sS][eE][lL][eE][cC][tT]" in q)
    assert 'TO_DATETIME("2026-07-01T01:55:00.000Z")' in retry  # the failed window is searched again


def test_a_window_with_too_many_hits_is_split(fake_es, pack, tmp_path, monkeypatch):
    monkeypatch.setattr(scheduler_mod, "MAX_ROWS", 3)
    scheduled, _ = _rules(pack, "SQL injection with UNION SELECT in a portal query string")
    fake_es.add([_web_event(i * 20, f"id={i} union select 1", ip=f"10.0.0.{i}") for i in range(7)])
    sched = Scheduler(fake_es.client, SQLiteStore(tmp_path / "s.db"), scheduled, settle=0, lookback=300)
    alerts = sched.run_once(now=T0 + timedelta(minutes=4))
    assert {a.event_ids[0] for a in alerts} == {f"web-{i * 20}" for i in range(7)} and len(alerts) == 7
    assert len(fake_es.queries) > 1


@pytest.mark.elasticsearch
@pytest.mark.skipif(not os.environ.get("SENTINEL_ES_URL"), reason="needs a real cluster: set SENTINEL_ES_URL")
def test_against_a_real_cluster(pack, tmp_path):
    from tests.store.es_cluster import scratch_deployment

    with scratch_deployment(tmp_path) as store:  # its own prefix, deleted afterwards
        now = datetime.now(UTC)
        event = _web_event(0, "id=1 UNION SELECT 2")
        event["@timestamp"] = ecs.format_ts(now - timedelta(minutes=2))
        event["event"]["id"] = ecs.event_id("scheduler-test", now.timestamp(), "union")
        store.append_events([event])
        title = "SQL injection with UNION SELECT in a portal query string"
        scheduled, _ = _rules(pack, title, index=store.names.events_pattern)
        sched = Scheduler(store.client, store, scheduled, settle=0, lookback=600)
        alerts = sched.run_once(now=now)
        assert sched.errors == {}
        assert event["event"]["id"] in [a.event_ids[0] for a in alerts]


def test_scheduled_correlation_is_scoped_by_every_hit(fake_es, pack, tmp_path):
    """Labels come from all hits, not only the evidence kept: a 24th failure in Huế makes the alert national."""
    hanoi, hue = {"labels": {"province": "Thành phố Hà Nội"}}, {"labels": {"province": "Thành phố Huế"}}
    scheduled, _ = _rules(pack, "Brute force against one portal account")
    one_place = [{**e, **hanoi} for e in _login_failures("001090012345", 12, 15)]
    two_places = [{**e, **(hue if i == 23 else hanoi)} for i, e in enumerate(_login_failures("001090099999", 24, 10))]
    fake_es.add(one_place + two_places)
    store = SQLiteStore(tmp_path / "s.db")
    alerts = Scheduler(fake_es.client, store, scheduled, settle=60, lookback=3600).run_once(T0 + timedelta(minutes=30))
    by_user = {a.entity["user.name"]: a for a in alerts}
    assert by_user["001090012345"].labels == {"province": "Thành phố Hà Nội"}
    assert by_user["001090099999"].count == 24 and "province" not in by_user["001090099999"].labels
