"""Conformance with Elastic's API specification, without a cluster.

Every request Sentinel sends to Elasticsearch (the store, the bulk writer, the
ES|QL scheduler, ``sentinel es setup``, ``sentinel es roles --apply`` and
``sentinel es check``) goes to the simulator, which matches it to its endpoint
in ``schema.json`` and checks path, query parameters and body (bulk bodies line
by line); its own answers are checked against the endpoints' response types.
The ``sim`` fixture fails a test on any problem; the planted bugs below show
that a misspelt property, a wrong enum value, a missing required property or
an unknown parameter do fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from sentinel import ecs
from sentinel.cli.main import cli
from sentinel.detect.scheduler import ScheduledRule, Scheduler
from sentinel.models import Alert, RuleRef, alert_id
from sentinel.store.base import AlertQuery, EventQuery, StoreError
from sentinel.store.elasticsearch import ElasticsearchStore
from sentinel.store.es_bulk import BulkLimits, DeadLetter
from sentinel.store.es_templates import TemplateOptions, build_plan
from sentinel.store.es_version import CLIENT_MAJOR, ClusterInfo, compatibility
from sentinel.store.query import parse_expression
from tests.store.es_sim import RELEASES, MiniCluster, SimServer
from tests.store.es_spec import Spec

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
JSON = {"accept": "application/json"}
# What a deployment's lifetime sends, by endpoint name in the specification.
STORE_ENDPOINTS = {
    "info", "indices.get_index_template", "bulk", "indices.refresh", "search", "open_point_in_time",
    "close_point_in_time", "count", "get", "create", "index", "delete", "mget",
}  # fmt: skip
SETUP_ENDPOINTS = {
    "ilm.put_lifecycle", "cluster.put_component_template", "indices.put_index_template", "indices.exists_alias",
    "indices.create",
}  # fmt: skip
CHECK_ENDPOINTS = {
    "xpack.info", "ilm.get_lifecycle", "cluster.get_component_template", "security.get_role", "indices.exists_alias",
}  # fmt: skip


def _env(sim: SimServer, tmp_path: Path) -> dict[str, str]:
    return {"SENTINEL_ES_URL": sim.url, "SENTINEL_DATA_DIR": str(tmp_path)}


def _cli(sim: SimServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``sentinel <args>`` in a real process, talking HTTP to the simulator on loopback."""
    env = {**os.environ, **_env(sim, tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _event(n: int, **extra: object) -> dict:
    doc = {
        "@timestamp": ecs.format_ts(T0 + timedelta(minutes=n)),
        "event": {"id": ecs.event_id("conformance", n, "x"), "dataset": "nginx.access", "kind": "event"},
        "labels": {"province": "Huế"},
        "source": {"ip": "203.0.113.9"},
        "message": f"GET /p/{n}",
    }
    doc.update(extra)
    return doc


def _alert(first: str, minute: int) -> Alert:
    ts = ecs.format_ts(T0 + timedelta(minutes=minute))
    rule = RuleRef(id="web-sqli", title="SQL injection attempt", level="high")
    return Alert(
        id=alert_id(rule.id, "203.0.113.9", first),
        timestamp=ts,
        rule=rule,
        group_key="203.0.113.9",
        first_seen=ts,
        last_seen=ts,
        event_ids=[first],
        severity="high",
        risk_score=75,
    )


def _store(client: Elasticsearch, tmp_path: Path) -> ElasticsearchStore:
    limits = BulkLimits(max_retries=3, initial_backoff=0.001, max_backoff=0.01)
    return ElasticsearchStore(
        client, dead_letter=DeadLetter(tmp_path / "dead.sqlite"), limits=limits, refresh=True, url="sim"
    )


def _endpoints(sim: SimServer, spec: Spec) -> set[str]:
    return {m.endpoint.name for r in sim.cluster.requests if (m := spec.match(r.method, r.path))}


def test_a_deployments_requests_all_conform(sim, sim_client, es_spec, tmp_path):
    """Setup, roles, every store operation, the scheduler and the check: all valid requests, all valid answers."""
    sim.cluster.objects["_index_template"].clear()  # a new cluster
    setup = CliRunner().invoke(cli, ["es", "setup", "--replicas", "0"], env=_env(sim, tmp_path))
    assert setup.exit_code == 0, setup.output
    roles = CliRunner().invoke(cli, ["es", "roles", "--apply"], env=_env(sim, tmp_path))
    assert roles.exit_code == 0, roles.output
    assert set(sim.cluster.roles) >= {"sentinel_writer", "sentinel_setup", "sentinel_soc_analyst"}

    store = _store(sim_client, tmp_path)
    events = [_event(n) for n in range(5)]
    assert store.append_events(events).stored_count == 5
    sim.cluster.reject_items(2)  # a full write queue: two items come back 429, the rest is written
    more = store.append_events([_event(n) for n in range(5, 9)])
    assert more.stored_count == 4 and more.dead_lettered == 0
    page = store.search_events(EventQuery(limit=3))
    assert len(page.events) == 3 and page.next_cursor
    assert len(store.search_events(EventQuery(limit=10, cursor=page.next_cursor)).events) == 6
    assert store.count_events(EventQuery()) == 9
    assert store.get_event(events[0]["event"]["id"])["message"] == "GET /p/0"
    first = store.record_alert(_alert("e1", 0))
    folded = store.record_alert(_alert("e2", 5))
    assert folded.id == first.id and folded.count == 2
    closed = store.update_alert(first.id, {"status": "closed", "disposition": "benign"}, 2, actor="lan")
    assert closed.version == 3
    assert [a.id for a in store.list_alerts(AlertQuery())] == [first.id]
    assert store.count_alerts(AlertQuery()) == 1
    assert [h.action for h in store.alert_history(first.id)] == ["create", "fold", "update"]

    rule = ScheduledRule("r1", "every event", "high", [], None, "from logs-sentinel.* metadata _id, _index")
    scheduler = Scheduler(sim_client, store, [rule], settle=0, lookback=3600)
    alerts = scheduler.run_once(now=T0 + timedelta(minutes=30))
    assert not scheduler.errors and len(alerts) == 9

    report = CliRunner().invoke(cli, ["es", "check", "--replicas", "0", "--json"], env=_env(sim, tmp_path))
    assert '"ok": true' in report.output, report.output
    sent = _endpoints(sim, es_spec)
    wanted = STORE_ENDPOINTS | SETUP_ENDPOINTS | CHECK_ENDPOINTS | {"security.put_role", "esql.query"}
    assert wanted <= sent, f"not exercised: {sorted(wanted - sent)}"
    store.dead_letter.close()


def _planted(es_spec: Spec, send) -> list[str]:
    """What the specification finds wrong with the requests ``send(client)`` makes."""
    server = SimServer(MiniCluster(spec=es_spec))
    client = Elasticsearch(server.url, max_retries=0, retry_on_status=(), request_timeout=5)
    try:
        send(client)
    except Exception:  # the simulator answers the bad request as best it can; only the check matters here
        pass
    finally:
        client.close()
        server.close()
    return server.cluster.problems


def _ilm_with_typo(client: Elasticsearch) -> None:
    policy = build_plan(TemplateOptions())["ilm_policies"]["sentinel-logs"]["policy"]
    rollover = policy["phases"]["hot"]["actions"]["rollover"]
    rollover["max_primary_shard_sise"] = rollover.pop("max_primary_shard_size")
    client.ilm.put_lifecycle(name="sentinel-logs", policy=policy)


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (
            _ilm_with_typo,
            "unknown property 'max_primary_shard_sise' in RolloverAction (did you mean 'max_primary_shard_size'?)",
        ),
        (
            lambda c: c.search(index="x", sort=[{"@timestamp": {"order": "descending"}}]),
            "'descending' is not a SortOrder",
        ),
        (
            lambda c: c.security.put_role(name="r", indices=[{"names": ["logs-*"]}]),
            "missing required property 'privileges' of IndicesPrivileges",
        ),
        (
            lambda c: c.count(index="x", query={"term": {"a": 1}, "match_all": {}}),
            "a QueryContainer holds exactly one of its variants",
        ),
        (
            lambda c: c.perform_request("POST", "/x/_count", params={"ignore_unavailble": "true"}, headers=JSON),
            "query parameter ignore_unavailble: unknown (did you mean 'ignore_unavailable'?)",
        ),
        (
            lambda c: c.bulk(operations=[{"craete": {"_index": "logs-x-y", "_id": "1"}}, {"a": 1}]),
            "body line 1: unknown property 'craete' in OperationContainer",
        ),
        (
            lambda c: c.bulk(operations=[{"create": {"_index": "logs-x-y", "_id": "1"}}, ["not", "an", "object"]]),
            "body line 2: a create document must be a JSON object",
        ),
        (lambda c: c.perform_request("PATCH", "/sentinel-alerts", headers=JSON), "no endpoint"),
    ],
    ids=["misspelt-property", "wrong-enum", "missing-required", "two-query-variants", "unknown-parameter",
         "bulk-operation", "bulk-document", "unknown-endpoint"],
)  # fmt: skip
def test_planted_bugs_fail_the_check(es_spec, send, expected):
    problems = _planted(es_spec, send)
    assert any(expected in p for p in problems), problems


def test_a_9_only_property_fails_against_8(es_spec):
    """The availability in the specification: a body property added in 9.4 is refused for an 8.x cluster."""
    body = orjson.dumps({"query": "from logs-*", "time_zone": "Asia/Ho_Chi_Minh"})
    _, problems = es_spec.check_request("POST", "/_query", {}, body, RELEASES[8])
    assert problems == [
        f"POST /_query (esql.query): body.time_zone needs Elasticsearch 9.4.0; the cluster is {RELEASES[8]}"
    ]
    assert es_spec.check_request("POST", "/_query", {}, body, "9.4.0")[1] == []


def test_an_invalid_answer_is_caught(sim, sim_client):
    """The simulator's own answers are checked too: a search response without ``took`` is not one."""
    sim.cluster.script("POST", r"/_search$", [(200, {"timed_out": False, "hits": {"hits": []}})])
    sim_client.search(index="x")
    problems, sim.cluster.problems = sim.cluster.problems, []
    assert any("missing required property 'took'" in p for p in problems), problems


def test_if_seq_no_and_if_primary_term_go_together(sim, sim_client):
    first = sim_client.index(index="a", id="1", document={"n": 1})
    with pytest.raises(Exception) as stale:
        sim_client.index(index="a", id="1", document={"n": 2}, if_seq_no=first["_seq_no"], if_primary_term=2)
    assert stale.value.meta.status == 409
    with pytest.raises(Exception) as half:
        sim_client.index(index="a", id="1", document={"n": 2}, if_seq_no=first["_seq_no"])
    assert half.value.meta.status == 400
    ok = sim_client.index(index="a", id="1", document={"n": 2}, if_seq_no=first["_seq_no"], if_primary_term=1)
    assert ok["_version"] == 2 and ok["result"] == "updated"


# -- both majors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cluster_major", [8, 9])
def test_the_installed_client_against_each_major(es_spec, tmp_path, cluster_major):
    """Client 9 is refused by 8.x with what to install; client 8 works with 8.x and 9.x (REST compatibility)."""
    server = SimServer(MiniCluster(version=RELEASES[cluster_major], spec=es_spec))
    client = Elasticsearch(server.url, max_retries=0, retry_on_status=(), request_timeout=5)
    store = _store(client, tmp_path)
    try:
        if cluster_major < CLIENT_MAJOR:
            with pytest.raises(StoreError, match=r"pip install 'sentinel-vn\[es8\]'"):
                store.append_events([_event(1)])
            assert [r.path for r in server.cluster.requests] == ["/"], "nothing is sent after the version probe"
        else:
            assert store.append_events([_event(1)]).stored_count == 1
            assert store.connect().major == cluster_major
        assert not server.cluster.problems, server.cluster.problems
    finally:
        store.close()
        server.close()


def test_a_refused_header_is_explained_even_without_the_probe(sim, sim_client, tmp_path):
    """Elasticsearch 8 refuses compatible-with=9 (400 media_type_header_exception); the message says what to do."""
    sim.cluster.major = 7  # a cluster that accepts neither 9 nor 8
    store = ElasticsearchStore(sim_client, dead_letter=DeadLetter(tmp_path / "dead.db"), url="sim")
    store._cluster = ClusterInfo("8.15.0", "sim", "default")  # connected before the cluster changed
    with pytest.raises(StoreError, match=r"refused the headers.*sentinel-vn\[es8\]"):
        store.count_events(EventQuery())
    store.close()


@pytest.mark.parametrize(
    ("cluster", "client", "refused", "advised"),
    [
        ("8.15.3", 9, r"pip install 'sentinel-vn\[es8\]'", None),
        ("8.15.3", 8, None, None),
        ("9.1.0", 8, None, r"sentinel-vn\[es9\]"),
        ("9.1.0", 9, None, None),
        ("8.12.2", 8, "too old: Sentinel needs 8.13", None),
        ("7.17.9", 8, "too old", None),
        ("10.0.0", 9, "not supported yet", None),
    ],
)
def test_compatibility_says_what_to_install(cluster, client, refused, advised):
    refusal, advice = compatibility(ClusterInfo(cluster, "c", "default"), client)
    assert (refusal is None) == (refused is None) and (advice is None) == (advised is None)
    if refused:
        assert re.search(refused, refusal)
    if advised:
        assert re.search(advised, advice)


# -- sentinel es check ---------------------------------------------------------------------------


def test_check_reports_ready_after_setup_and_roles(sim, tmp_path):
    sim.cluster.license = "platinum"
    for args in (["es", "setup", "--replicas", "0"], ["es", "roles", "--apply"]):
        assert CliRunner().invoke(cli, args, env=_env(sim, tmp_path)).exit_code == 0
    done = _cli(sim, tmp_path, "es", "check", "--replicas", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["version", "Elasticsearch", RELEASES[CLIENT_MAJOR], "ok"]
    assert any(line.startswith("licence") and "platinum" in line for line in lines)
    for feature in ("ILM", "data streams", "security", "ES|QL", "field/document-level security"):
        assert any(line.startswith("feature") and feature in line and " ok " in line for line in lines), feature
    assert lines[-1] == "ready"


def test_check_reports_missing_objects_drift_and_licence(sim, tmp_path):
    sim.cluster.objects["_index_template"].clear()
    assert CliRunner().invoke(cli, ["es", "setup", "--replicas", "0"], env=_env(sim, tmp_path)).exit_code == 0
    settings = sim.cluster.objects["_component_template"]["sentinel@settings"]["template"]["settings"]["index"]
    settings["refresh_interval"] = "30s"  # someone changed it by hand
    del sim.cluster.objects["_index_template"]["logs-sentinel.portal.app"]
    report = _cli(sim, tmp_path, "es", "check", "--replicas", "0", "--json")
    assert report.returncode == 1, report.stderr
    findings = {(f["area"], f["name"]): f for f in orjson.loads(report.stdout)["findings"]}
    drift = findings[("component_template", "sentinel@settings")]
    assert (
        drift["status"] == "drift"
        and "template.settings.index.refresh_interval: '30s' instead of '5s'" in drift["detail"]
    )
    assert findings[("index_template", "logs-sentinel.portal.app")]["status"] == "missing"
    assert findings[("index_template", "logs-sentinel.nginx.access")]["status"] == "ok"
    assert findings[("ilm_policy", "sentinel-logs")]["status"] == "ok"
    assert findings[("role", "sentinel_writer")]["status"] == "missing"
    fls = findings[("feature", "field/document-level security")]
    assert fls["status"] == "warning" and "Platinum" in fls["detail"]
    # another retention than the cluster has is drift too
    other = CliRunner().invoke(
        cli, ["es", "check", "--replicas", "0", "--retention", "365d", "--json"], env=_env(sim, tmp_path)
    )
    policy = {(f["area"], f["name"]): f for f in orjson.loads(other.output)["findings"]}[
        ("ilm_policy", "sentinel-logs")
    ]
    assert policy["status"] == "drift" and "phases.delete.min_age: '180d' instead of '365d'" in policy["detail"]


def test_check_against_a_cluster_the_client_cannot_use(es_spec, tmp_path):
    other = 8 if CLIENT_MAJOR == 9 else 9
    server = SimServer(MiniCluster(version=RELEASES[other], spec=es_spec))
    try:
        done = _cli(server, tmp_path, "es", "check")
    finally:
        server.close()
    if other < CLIENT_MAJOR:
        assert done.returncode == 2 and "sentinel-vn[es8]" in done.stderr, done.stderr
    else:  # client 8 against 9: works, with the advice to install the matching client
        assert "sentinel-vn[es9]" in done.stdout and "version" in done.stdout.splitlines()[0]
    assert not server.cluster.problems, server.cluster.problems


def test_check_without_a_cluster_is_a_usage_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", "es", "check"],
        env={**os.environ, "SENTINEL_ES_URL": "", "SENTINEL_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "SENTINEL_ES_URL" in done.stderr


def test_scheduler_reports_a_client_that_does_not_fit(es_spec, tmp_path):
    """The scheduler connects through the store first: a refused client is every rule's error, not a crash."""
    server = SimServer(MiniCluster(version="7.17.0", spec=es_spec))
    client = Elasticsearch(server.url, max_retries=0, retry_on_status=(), request_timeout=5)
    store = _store(client, tmp_path)
    try:
        rule = ScheduledRule("r1", "t", "high", [], None, "from logs-sentinel.*")
        scheduler = Scheduler(client, store, [rule], settle=0)
        assert scheduler.run_once(now=T0) == []
        assert "too old" in scheduler.errors["r1"] or "refused" in scheduler.errors["r1"]
    finally:
        store.close()
        server.close()


def test_the_histogram_is_one_date_histogram_search(sim, sim_client, tmp_path):
    """The search page's bars: one aggregation the specification accepts, whatever the number of bars."""
    store = _store(sim_client, tmp_path)
    store.append_events([_event(n) for n in range(0, 60, 7)] + [_event(3, source={"ip": "198.51.100.1"})])
    query = EventQuery(where=parse_expression("source.ip:203.0.113.9"), since=T0 + timedelta(minutes=2))
    before = len(sim.cluster.requests)
    # spans of 10 minutes from 07:55 (not on the epoch's 10-minute grid): the offset moves the buckets onto it
    counts = store.histogram(query, T0 - timedelta(minutes=5), timedelta(minutes=10), 8)
    sent = sim.cluster.requests[before:]
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in sent] == [("POST", "_search")]
    body = orjson.loads(sent[0].body)
    assert body["size"] == 0 and body["aggs"]["over_time"]["date_histogram"] == {
        "field": "@timestamp",
        "fixed_interval": "600s",
        "min_doc_count": 1,
        "offset": "300000ms",
    }
    minutes = [n for n in range(0, 60, 7) if n >= 2]
    expected = [sum(1 for n in minutes if -5 + 10 * i <= n < 5 + 10 * i) for i in range(8)]
    assert counts == expected and sum(counts) == len(minutes)
    assert store.histogram(query, T0 - timedelta(hours=2), timedelta(minutes=10), 3) == [0, 0, 0]  # nothing to ask
    store.dead_letter.close()
