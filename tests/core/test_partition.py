"""Correlation state shared out between workers by group key gives the alerts of one process.

The property: any stream, cut into batches each handled by any of N workers (as edge
collectors post to whichever worker they are configured for), with matches of groups a
worker does not own forwarded to their owner, raises exactly the alerts one engine
raises on the same stream, for every kind of correlation the engine has.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection

from sentinel.config import load_settings
from sentinel.content import ContentError
from sentinel.detect import Engine
from sentinel.errors import Invalid
from sentinel.ingest.assemble import build_pipeline
from sentinel.ingest.partition import Forwarder, owner
from sentinel.runtime import Runtime

RULES = """
title: Failed login
id: 00000000-0000-4000-8000-0000000fa001
name: failed
logsource: {product: portal}
level: low
detection:
  sel: {event.action: login, event.outcome: failure}
  condition: sel
---
title: Good login
id: 00000000-0000-4000-8000-0000000fa002
name: good
logsource: {product: portal}
level: low
detection:
  sel: {event.action: login, event.outcome: success}
  condition: sel
---
title: Download
id: 00000000-0000-4000-8000-0000000fa003
name: download
logsource: {product: portal}
level: medium
detection:
  sel: {event.action: download}
  condition: sel
"""


def _corr(n: int, body: dict[str, Any]) -> str:
    doc = {"title": f"corr {n}", "id": f"00000000-0000-4000-8000-0000000fc00{n}", "level": "high", "correlation": body}
    return yaml.safe_dump(doc)


# every kind the engine evaluates, over different group-by keys (one, two fields, an alias)
CORRELATIONS = [
    {"type": "event_count", "rules": ["failed"], "group-by": ["source.ip"], "timespan": "1m", "condition": {"gte": 3}},
    {"type": "value_count", "rules": ["failed"], "group-by": ["source.ip"], "timespan": "2m",
     "condition": {"gte": 2, "field": "user.name"}},
    {"type": "event_count", "rules": ["failed", "download"], "group-by": ["user.name", "source.ip"],
     "timespan": "90s", "condition": {"gte": 2}},
    {"type": "temporal_ordered", "rules": ["failed", "good"], "group-by": ["user.name"], "timespan": "1m"},
    {"type": "temporal", "rules": ["good", "download"], "group-by": ["account"], "timespan": "2m",
     "aliases": {"account": {"good": "user.name", "download": "user.target"}}},
    {"type": "value_sum", "rules": ["download"], "group-by": ["user.name"], "timespan": "1m",
     "condition": {"gt": 50, "field": "bytes"}},
    {"type": "event_count", "rules": ["good"], "group-by": ["source.ip"], "timespan": "1m", "condition": {"lt": 2}},
]  # fmt: skip
COLLECTION = SigmaCollection.from_yaml(RULES + "".join("---\n" + _corr(i, c) for i, c in enumerate(CORRELATIONS)))
T0 = datetime(2025, 6, 2, 1, 0, 0, tzinfo=UTC)


def _engine(lateness: float) -> Engine:
    engine = Engine.from_collection(COLLECTION, pipeline="none", lateness_seconds=lateness)
    assert engine.problems == [] and len(engine.correlations.correlations) == len(CORRELATIONS)
    return engine


class Outbox:
    """A worker's router: its own groups stay, the others' matches wait for delivery to their owner."""

    def __init__(self, index: int, count: int) -> None:
        self.index, self.count = index, count
        self.pending: dict[int, list[dict[str, Any]]] = {}

    def owns(self, correlation: str, group: tuple) -> bool:
        return owner(correlation, group, self.count) == self.index

    def forward(self, correlation: str, group: tuple, rule: str, event: dict) -> None:
        target = owner(correlation, group, self.count)
        self.pending.setdefault(target, []).append({"rule": rule, "correlation": correlation, "event": event})


def _partitioned(batches: list[tuple[int, list[dict]]], count: int, lateness: float) -> list:
    engines = [_engine(lateness) for _ in range(count)]
    outboxes = [Outbox(i, count) for i in range(count)]
    for engine, box in zip(engines, outboxes, strict=True):
        engine.correlations.router = box
    alerts = []
    for worker, batch in batches:
        alerts += engines[worker % count].process(batch)
        box = outboxes[worker % count]
        for target, matches in box.pending.items():  # what the forwarder ships after the batch
            assert target != worker % count
            alerts += engines[target].receive(matches)
        box.pending.clear()
    for engine in engines:
        alerts += engine.flush()
    return alerts


def _single(batches: list[tuple[int, list[dict]]], lateness: float) -> list:
    engine = _engine(lateness)
    alerts = [a for _, batch in batches for a in engine.process(batch)]
    return alerts + engine.flush()


def _key(alert: Any) -> tuple:
    return (alert.id, alert.rule.id, alert.group_key, tuple(alert.event_ids), alert.first_seen, alert.last_seen)


IPS = ["203.0.113.1", "203.0.113.2", "198.51.100.7", "2001:db8::5"]
USERS = ["an", "binh", "chi"]


@st.composite
def streams(draw: st.DrawFn, ordered: bool) -> list[tuple[int, list[dict]]]:
    n = draw(st.integers(1, 70))
    seconds = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
    if ordered:
        seconds.sort()
    events = []
    for i, sec in enumerate(seconds):
        action, outcome = draw(st.sampled_from([("login", "failure"), ("login", "success"), ("download", "success")]))
        events.append(
            {
                "@timestamp": (T0 + timedelta(seconds=sec)).isoformat().replace("+00:00", "Z"),
                "event": {"id": f"e{i}", "action": action, "outcome": outcome},
                "source": {"ip": draw(st.sampled_from(IPS))},
                "user": {"name": draw(st.sampled_from(USERS)), "target": draw(st.sampled_from(USERS))},
                "bytes": draw(st.integers(0, 40)),
            }
        )
    cuts = sorted(draw(st.sets(st.integers(1, max(1, n - 1)), max_size=6)))
    parts = [events[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True) if events[a:b]]
    return [(draw(st.integers(0, 5)), part) for part in parts]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(ordered=False), st.integers(2, 4))
def test_any_stream_within_the_lateness_gives_the_alerts_of_one_process(batches: list, workers: int) -> None:
    # events up to 400 s out of order, all within the lateness: a single process places every one
    alone = _single(batches, lateness=600)
    shared = _partitioned(batches, workers, lateness=600)
    assert sorted(map(_key, shared)) == sorted(map(_key, alone))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(ordered=True), st.integers(2, 4))
def test_ordered_streams_with_eviction_give_the_alerts_of_one_process(batches: list, workers: int) -> None:
    # a short lateness: windows close, state is evicted and episodes end while the stream runs
    alone = _single(batches, lateness=5)
    shared = _partitioned(batches, workers, lateness=5)
    assert sorted(map(_key, shared)) == sorted(map(_key, alone))


def test_the_owner_is_stable_spread_and_within_range() -> None:
    # fixed values: the same in every process and every run (Python's hash() of a str is salted per process)
    ips = [(f"203.0.113.{i}",) for i in range(8)]
    assert [owner("00000000-0000-4000-8000-0000000fc000", ip, 5) for ip in ips] == [2, 1, 4, 3, 0, 4, 4, 3]
    assert owner("c", ("203.0.113.1",), 3) == owner("c", ["203.0.113.1"], 3)  # a tuple or a list of values
    counts = [0] * 4
    for i in range(4000):
        counts[owner("c", (f"10.{i // 250}.0.{i % 250}",), 4)] += 1
    assert all(800 < c < 1200 for c in counts), counts
    with pytest.raises(ValueError):
        owner("c", ("x",), 0)


def test_a_forwarded_match_for_a_rule_this_worker_lacks_is_refused() -> None:
    engine = _engine(60)
    event = {"@timestamp": "2025-06-02T01:00:00Z", "event": {"id": "e1", "action": "login", "outcome": "failure"}}
    with pytest.raises(Invalid, match="same rule pack"):
        engine.receive([{"rule": "no-such-rule", "correlation": "c", "event": event}])
    with pytest.raises(Invalid, match="same rule pack"):
        engine.receive([{"rule": "00000000-0000-4000-8000-0000000fa001", "correlation": "other", "event": event}])


PEERS = "http://127.0.0.1:9,http://127.0.0.1:10"


def test_only_the_api_pipeline_of_a_worker_forwards(tmp_path: Path) -> None:
    """A command run beside a worker (ingest, dead-letter replay) correlates its own input and never opens
    the worker's forwarding queues; the API's pipeline does, and closing it ends the shipping threads."""
    env = {"SENTINEL_DATA_DIR": str(tmp_path), "SENTINEL_INGEST_TOKEN": "t" * 32, "SENTINEL_POLICY_KEY": "k" * 40,
           "SENTINEL_PARTITION_PEERS": PEERS, "SENTINEL_PARTITION_INDEX": "1"}  # fmt: skip
    runtime = Runtime(load_settings(env=env))
    store = runtime.open_store()
    try:
        alone = build_pipeline(runtime, store)
        assert alone.forwarder is None and alone.detector.inner.correlations.router is None
        worker = build_pipeline(runtime, store, partitioned=True)
        assert isinstance(worker.forwarder, Forwarder) and worker.detector.inner.correlations.router is worker.forwarder
        assert (worker.forwarder.index, worker.forwarder.count) == (1, 2)
        assert (tmp_path / "collect" / "partition-1-to-0" / "queue.db").exists()
        worker.close()
    finally:
        store.close()


def test_a_worker_needs_the_token_to_forward(tmp_path: Path) -> None:
    env = {"SENTINEL_DATA_DIR": str(tmp_path), "SENTINEL_POLICY_KEY": "k" * 40,
           "SENTINEL_PARTITION_PEERS": PEERS}  # fmt: skip
    runtime = Runtime(load_settings(env=env))
    store = runtime.open_store()
    try:
        with pytest.raises(Invalid, match="SENTINEL_INGEST_TOKEN"):
            build_pipeline(runtime, store, partitioned=True)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("peers", "index", "message"),
    [
        ("http://a:1,http://b:1", "2", "not a position"),
        ("http://a:1,a:2", "0", "must be a base URL"),
        ("http://a:1,http://a:1", "0", "listed twice"),
    ],
)
def test_partition_settings_are_checked(peers: str, index: str, message: str) -> None:
    with pytest.raises(ContentError, match=message):
        load_settings(env={"SENTINEL_PARTITION_PEERS": peers, "SENTINEL_PARTITION_INDEX": index})


# the pack's "burst of 404 responses to one source" correlation and the base rule it counts
NOT_FOUND_RULE = "85f37042-ec1c-4587-916b-e26cef3aeca8"
NOT_FOUND_BURST = "43a54c0c-a91b-4c7a-95ab-32ba456b8a5d"


def test_matches_wait_on_disk_while_their_owner_is_down_and_reach_it_after_a_restart(tmp_path: Path) -> None:
    """Worker 0 forwards 40 matches of a group worker 1 owns while worker 1 is down, then stops (its
    queue stays on disk); started again, it ships them, and worker 1 raises the correlation alert."""
    import uvicorn

    from sentinel.api.app import create_app
    from sentinel.api.auth import LocalOperator
    from sentinel.collect.parsers import parse_line
    from sentinel.ingest.collector import RunOptions
    from sentinel.store import AlertQuery

    port = _free_port()
    token = "t" * 32
    peers = f"http://127.0.0.1:{_free_port()},http://127.0.0.1:{port}"
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path / "w0"), "SENTINEL_POLICY_KEY": "k" * 40,
                                  "SENTINEL_PARTITION_PEERS": peers, "SENTINEL_PARTITION_INDEX": "0"})  # fmt: skip
    ip = next(f"203.0.113.{i}" for i in range(1, 255) if owner(NOT_FOUND_BURST, (f"203.0.113.{i}",), 2) == 1)
    now = datetime.now(UTC)
    line = '{ip} - - [{t}] "GET /wp-admin/x{i}.php HTTP/1.1" 404 12 "-" "scanner"'
    events = [
        parse_line(line.format(ip=ip, i=i, t=(now + timedelta(seconds=i)).strftime("%d/%b/%Y:%H:%M:%S %z")).encode(),
                   source="edge", position=i, fmt="access")
        for i in range(40)
    ]  # fmt: skip
    fast = RunOptions(ship_batch=2000, ship_linger=0.0, retry_initial=0.05, retry_max=0.2, status_interval=0.2)
    first = Forwarder(settings, token, fast)
    for event in events:
        first.forward(NOT_FOUND_BURST, (ip,), NOT_FOUND_RULE, event)
    first.flush()
    time.sleep(0.5)  # the shipper tries the owner, which is down, and keeps the matches
    first.close()
    status = orjson.loads((tmp_path / "w0" / "collect" / "status" / "partition-0-to-1.json").read_bytes())
    assert status["retries"] > 0 and not status["sink_ok"] and status["queue_depth"] == 40
    queue = tmp_path / "w0" / "collect" / "partition-0-to-1" / "queue.db"
    with sqlite3.connect(queue) as conn:
        assert conn.execute("SELECT COALESCE(SUM(n), 0) FROM batches").fetchone()[0] == 40

    owner_settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path / "w1"), "SENTINEL_POLICY_KEY": "k" * 40,
                                        "SENTINEL_INGEST_TOKEN": token})  # fmt: skip
    app = create_app(owner_settings, authenticator=LocalOperator())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="owner-worker")
    thread.start()
    second = Forwarder(settings, token, fast)  # a restart: what the queue holds is shipped at once
    try:
        deadline = time.monotonic() + 60
        while not [a for a in app.state.store.list_alerts(AlertQuery()) if a.rule.id == NOT_FOUND_BURST]:
            assert time.monotonic() < deadline, "the owner never raised the correlation alert"
            time.sleep(0.1)
        (alert,) = [a for a in app.state.store.list_alerts(AlertQuery()) if a.rule.id == NOT_FOUND_BURST]
        assert alert.group_key == f"source.ip={ip}" and alert.count == 40
    finally:
        second.close()
        server.should_exit = True
        thread.join(30)
        app.state.store.close()
    with sqlite3.connect(queue) as conn:
        assert conn.execute("SELECT COUNT(*) FROM batches").fetchone()[0] == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
