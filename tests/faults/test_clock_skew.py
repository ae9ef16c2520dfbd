"""Clock skew: events dated far in the future or past, an edge collector whose clock is hours off.

Event ids come from the source identity, the position and the raw bytes, never
from a clock, so a collector restarted with a different clock still stores each
line once. Correlation windows run on event time; one event dated in the future
must not blind them (the watermark is held near this machine's clock).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nodes import Processes, access_lines, count, distinct_paths, kill9, wait_for
from sigma.collection import SigmaCollection

from sentinel import ecs
from sentinel.collect.parsers import parse_line
from sentinel.detect.engine import Engine
from sentinel.ingest.pipeline import Pipeline
from sentinel.store.base import EventQuery
from sentinel.store.sqlite import SQLiteStore

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
RULES = """
title: Portal login
id: 6f1f6a10-0000-4000-8000-000000000001
name: skew_login
status: test
logsource: {category: authentication}
detection:
  sel: {event.action: login}
  condition: sel
level: low
---
title: Login burst from one address
id: 6f1f6a10-0000-4000-8000-000000000002
status: test
correlation:
  type: event_count
  rules: [skew_login]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 5}
level: high
"""


def login(i: int, ts: str, ip: str = "203.0.113.9") -> dict:
    return {"@timestamp": ts, "event": {"id": f"login-{i}", "action": "login", "category": ["authentication"]},
            "source": {"ip": ip}}  # fmt: skip


def test_one_future_dated_event_does_not_blind_correlation() -> None:
    engine = Engine.from_collection(SigmaCollection.from_yaml(RULES), pipeline="none")
    forged = login(0, "2099-01-01T00:00:00Z", ip="198.51.100.1")  # a forged or broken clock, another address
    base = time.time() - 30
    burst = [login(i, ecs.format_ts(datetime.fromtimestamp(base + i, UTC))) for i in range(1, 8)]
    alerts = engine.process([forged]) + engine.process(burst) + engine.flush()
    assert [a.rule.title for a in alerts] == ["Login burst from one address"]
    assert engine.correlations.stats["future"] == 1 and engine.correlations.stats["late"] == 0


def test_events_far_in_the_future_and_past_are_kept_and_deduplicated(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    pipeline = Pipeline(store)
    times = ["01/Jan/1970:00:00:01 +0000", "31/Dec/2099:23:59:59 +0700", "29/Feb/2000:12:00:00 -1200"]
    lines = [f'10.0.0.1 - - [{t}] "GET /x/{i} HTTP/1.1" 200 1 "-" "-"'.encode() for i, t in enumerate(times)]
    events = [parse_line(raw, source="skewed.log", position=i * 100) for i, raw in enumerate(lines)]
    assert [e["event"]["kind"] for e in events] == ["event"] * 3
    assert pipeline.process(events).stored == 3
    again = [parse_line(raw, source="skewed.log", position=i * 100) for i, raw in enumerate(lines)]
    counts = pipeline.process(again)
    assert (counts.stored, counts.duplicates) == (0, 3)
    stamps = sorted(e["@timestamp"] for e in store.search_events(EventQuery(limit=10)).events)
    assert stamps[0].startswith("1970-01-01") and stamps[-1].startswith("2099-12-31")
    store.close()


@pytest.mark.skipif(not FAKETIME.exists(), reason="needs libfaketime (Debian package faketime) to skew a process clock")
def test_collector_with_a_clock_hours_ahead_then_behind_stores_every_line_once(
    tmp_path: Path, procs: Processes
) -> None:
    n = 10_000
    log = tmp_path / "access.log"
    log.write_text(access_lines(n))
    data = tmp_path / "data"
    db = data / "sentinel.db"
    defn = tmp_path / "edge.yaml"
    defn.write_text(f"name: edge\nsources:\n  - type: file\n    name: web\n    paths: ['{log}']\n"
                    "output:\n  type: store\n  detect: false\nship_batch: 500\n")  # fmt: skip
    out = tmp_path / "edge.out"
    args = ["--config", str(defn), "--once"]
    ahead = procs.collector(args, data, out, LD_PRELOAD=str(FAKETIME), FAKETIME="+6h")
    wait_for(lambda: count(db) >= 1000, 90, "the first events from the collector 6 h ahead", ahead, out)
    kill9(ahead)
    first = count(db)
    assert first < n
    newest = count(db, "SELECT MAX(json_extract(doc, '$.event.ingested')) FROM events")
    assert ecs.parse_ts(newest).timestamp() > time.time() + 5 * 3600, "the first run's clock was really ahead"
    behind = procs.collector(args, data, out, LD_PRELOAD=str(FAKETIME), FAKETIME="-3h")
    assert behind.wait(120) == 0, out.read_text()[-3000:]
    assert count(db) == n and distinct_paths(db) == n
