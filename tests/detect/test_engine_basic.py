"""Engine loading, alerts for simple rules, log-source routing, problems, and the ingest pipeline."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sentinel.collect.parsers import parse_line
from sentinel.detect import Engine
from sentinel.ingest.pipeline import Pipeline
from sentinel.models import LEVEL_RISK
from sentinel.store.base import AlertQuery
from sentinel.store.sqlite import SQLiteStore

RULES = """
title: SQL injection in query string
id: 6f1f0f0e-0000-4000-8000-000000000001
status: test
level: high
tags: [attack.initial-access, attack.t1190]
logsource:
  category: webserver
detection:
  sqli:
    cs-uri-query|contains:
      - "union select"
      - "' or 1=1"
  ok:
    sc-status: 200
  condition: sqli and ok
---
title: Admin path requested
id: 6f1f0f0e-0000-4000-8000-000000000002
status: test
level: medium
logsource:
  product: nginx
detection:
  sel:
    url.path|startswith: /admin
  condition: sel
---
title: Firewall deny
id: 6f1f0f0e-0000-4000-8000-000000000003
status: test
level: low
logsource:
  category: firewall
detection:
  sel:
    action: deny
  condition: sel
"""


def web_event(i: int, path: str, query: str | None = None, status: int = 200, ip: str = "203.0.113.7") -> dict:
    url = {"original": path + (f"?{query}" if query else ""), "path": path}
    if query:
        url["query"] = query
    return {
        "@timestamp": f"2026-01-05T08:00:{i:02d}.000Z",
        "event": {"id": f"ev-{i}", "dataset": "nginx.access", "category": ["web"], "kind": "event"},
        "source": {"ip": ip},
        "url": url,
        "http": {"request": {"method": "GET"}, "response": {"status_code": status}},
        "labels": {"province": "Hà Nội"},
    }


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "web.yml").write_text(RULES, encoding="utf-8")
    return d


def test_simple_rule_alert_has_the_documented_shape(rules_dir: Path) -> None:
    engine = Engine.from_paths([rules_dir])
    assert engine.problems == []
    assert {r.title for r in engine.rules} == {
        "SQL injection in query string",
        "Admin path requested",
        "Firewall deny",
    }
    event = web_event(1, "/dvc/search", "q=1' OR 1=1 --")
    alerts = engine.process([event])
    assert [a.rule.title for a in alerts] == ["SQL injection in query string"]
    alert = alerts[0]
    assert alert.severity == "high" and alert.risk_score == LEVEL_RISK["high"]
    assert alert.group_key == "203.0.113.7" and alert.entity == {"source.ip": "203.0.113.7"}
    assert alert.event_ids == ["ev-1"] and alert.events == [event]
    assert alert.timestamp == alert.first_seen == "2026-01-05T08:00:01.000Z"
    assert "attack.t1190" in alert.rule.tags
    # deterministic id: same rule, group and event give the same alert id
    assert Engine.from_paths([rules_dir]).process([event])[0].id == alert.id


def test_logsource_routing_keeps_rules_to_their_events(rules_dir: Path) -> None:
    engine = Engine.from_paths([rules_dir])
    fw = {"@timestamp": "2026-01-05T08:00:00Z", "observer": {"type": "firewall"}, "event": {"action": "deny"}}
    assert [a.rule.title for a in engine.process([fw])] == ["Firewall deny"]
    # the same field on a web event is not a firewall record
    web = web_event(2, "/x")
    web["event"]["action"] = "deny"
    assert engine.process([web]) == []
    # an nginx event gets the product rule, an apache one does not
    admin = web_event(3, "/admin/login")
    assert [a.rule.title for a in engine.process([admin])] == ["Admin path requested"]
    admin["event"]["dataset"] = "apache.access"
    assert engine.process([admin]) == []


def test_pipeline_none_evaluates_every_rule_on_every_event(rules_dir: Path) -> None:
    engine = Engine.from_paths([rules_dir], pipeline="none")
    # no field mapping: the rule's own field name must be in the event
    event = {"cs-uri-query": "x=1 union select 1", "sc-status": 200, "action": "deny"}
    titles = sorted(a.rule.title for a in engine.process([event]))
    assert titles == ["Firewall deny", "SQL injection in query string"]


def test_unknown_pipeline_is_refused(rules_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown pipeline"):
        Engine.from_paths([rules_dir], pipeline="splunk")


def test_rules_that_cannot_be_evaluated_are_reported_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(
        textwrap.dedent(
            """
            title: Undefined placeholder
            id: 6f1f0f0e-0000-4000-8000-0000000000a1
            logsource: {category: webserver}
            detection:
              sel:
                url.path|expand: '%admin_paths%'
              condition: sel
            ---
            title: Condition names a missing detection
            id: 6f1f0f0e-0000-4000-8000-0000000000a2
            logsource: {category: webserver}
            detection:
              sel:
                url.path: /x
              condition: sel and other
            ---
            title: Correlates an unknown rule
            id: 6f1f0f0e-0000-4000-8000-0000000000a3
            correlation:
              type: event_count
              rules: [no-such-rule]
              group-by: [source.ip]
              timespan: 5m
              condition: {gte: 3}
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "broken.yml").write_text("title: [unclosed\n", encoding="utf-8")
    engine = Engine.from_paths([tmp_path])
    reasons = {p.title or p.path: p.reason for p in engine.problems}
    assert "admin_paths" in reasons["Undefined placeholder"]
    assert "other" in reasons["Condition names a missing detection"]
    assert "no-such-rule" in reasons["Correlates an unknown rule"]
    assert any(p.path and p.path.endswith("broken.yml") for p in engine.problems)
    assert engine.rules == []
    # with the placeholder defined the first rule compiles and matches
    engine = Engine.from_paths([tmp_path], placeholders={"admin_paths": ["/admin*", "/phpmyadmin*"]})
    assert [r.title for r in engine.rules] == ["Undefined placeholder"]
    assert engine.rules[0].matches({"url": {"path": "/PhpMyAdmin/index.php"}})


def test_missing_rule_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Engine.from_paths([tmp_path / "nope"])


def test_pipeline_end_to_end_with_sqlite_store(rules_dir: Path, tmp_path: Path) -> None:
    """Parsed access-log lines -> SQLite store -> engine -> alerts recorded, replay adds nothing."""
    lines = [
        b'203.0.113.9 - - [05/Jan/2026:08:00:01 +0700] "GET /dvc/search?q=1%27+or+1=1 HTTP/1.1" 200 512 "-" "curl/8"',
        b'203.0.113.9 - - [05/Jan/2026:08:00:02 +0700] "GET /dvc/search?q=1\' or 1=1 HTTP/1.1" 200 512 "-" "curl/8"',
        b'198.51.100.4 - - [05/Jan/2026:08:00:03 +0700] "GET /thu-tuc/1.001612 HTTP/1.1" 200 2048 "-" "Mozilla/5.0"',
    ]
    events = [parse_line(raw, source="/var/log/nginx/access.log", position=i * 200) for i, raw in enumerate(lines)]
    store = SQLiteStore(tmp_path / "sentinel.db")
    try:
        pipeline = Pipeline(store, detector=Engine.from_paths([rules_dir]))
        counts = pipeline.process(events)
        assert counts.stored == 3 and counts.alerts == 1
        stored = store.list_alerts(AlertQuery())
        assert [a.rule.title for a in stored] == ["SQL injection in query string"]
        assert stored[0].event_ids == [events[1]["event"]["id"]]
        again = pipeline.process(events)
        assert again.stored == 0 and again.alerts == 0
        assert pipeline.finish().alerts == 0
    finally:
        store.close()


def test_ecs_pipeline_maps_each_logsource_vocabulary(tmp_path: Path) -> None:
    (tmp_path / "vocab.yml").write_text(
        textwrap.dedent(
            """
            title: Firewall allow to RDP
            id: 6f1f0f0e-0000-4000-8000-0000000000b1
            logsource: {category: firewall}
            detection:
              sel: {dst_port: 3389, action: allow, src_ip|cidr: 10.0.0.0/8}
              condition: sel
            ---
            title: DNS query for a tunnelling domain
            id: 6f1f0f0e-0000-4000-8000-0000000000b2
            logsource: {category: dns}
            detection:
              sel: {query|endswith: .tunnel.example}
              condition: sel
            ---
            title: Root login in auth log
            id: 6f1f0f0e-0000-4000-8000-0000000000b3
            logsource: {product: linux, service: auth}
            detection:
              sel: {user: root, program: sshd}
              condition: sel
            ---
            title: Proxy to raw IP with curl
            id: 6f1f0f0e-0000-4000-8000-0000000000b4
            logsource: {category: proxy}
            detection:
              sel: {c-useragent|startswith: curl/, c-uri|contains: '://203.0.113.'}
              condition: sel
            ---
            title: Web request from internal network with referrer
            id: 6f1f0f0e-0000-4000-8000-0000000000b5
            logsource: {category: webserver}
            detection:
              sel: {c-ip|cidr: 10.0.0.0/8, cs-referer|contains: evil, cs-method: POST, sc-status: 200}
              condition: sel
            """
        ),
        encoding="utf-8",
    )
    engine = Engine.from_paths([tmp_path])
    assert engine.problems == []
    events = {
        "Firewall allow to RDP": {
            "observer": {"type": "firewall"},
            "source": {"ip": "10.3.4.5"},
            "destination": {"port": 3389},
            "event": {"action": "allow"},
        },
        "DNS query for a tunnelling domain": {
            "event": {"category": ["network", "dns"]},
            "dns": {"question": {"name": "abc.tunnel.example"}},
        },
        "Root login in auth log": {
            "event": {"dataset": "system.auth"},
            "user": {"name": "root"},
            "process": {"name": "sshd"},
        },
        "Proxy to raw IP with curl": {
            "observer": {"type": "proxy"},
            "user_agent": {"original": "curl/8.5"},
            "url": {"original": "http://203.0.113.9/x"},
        },
        "Web request from internal network with referrer": {
            "event": {"dataset": "portal.access"},
            "source": {"ip": "10.1.1.1"},
            "http": {
                "request": {"method": "post", "referrer": "https://evil.example/"},
                "response": {"status_code": 200},
            },
        },
    }
    for title, event in events.items():
        assert [r.title for r in engine.matching_rules(event)] == [title]


def test_sigma_filters_apply_to_the_rules_they_name(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES, encoding="utf-8")
    (tmp_path / "filter.yml").write_text(
        textwrap.dedent(
            """
            title: The operator's own scanner
            logsource: {category: webserver}
            filter:
              rules: [6f1f0f0e-0000-4000-8000-000000000001]
              selection: {c-ip: 198.51.100.250}
              condition: not selection
            """
        ),
        encoding="utf-8",
    )
    engine = Engine.from_paths([tmp_path])
    assert engine.problems == []
    attack = web_event(1, "/dvc/search", "q=1 union select 2")
    assert engine.process([attack])
    attack["source"]["ip"] = "198.51.100.250"
    assert engine.process([attack]) == []


def test_an_event_the_engine_cannot_read_is_counted_and_the_stream_goes_on(rules_dir: Path) -> None:
    engine = Engine.from_paths([rules_dir])
    attack = web_event(5, "/dvc/search", "q=1 union select 2")
    alerts = engine.process([{"url": {"query": object()}}, "not an event", attack])  # type: ignore[list-item]
    assert [a.rule.title for a in alerts] == ["SQL injection in query string"]
    assert engine.stats["errors"] == 1 and engine.stats["events"] == 3


def test_alert_is_stored_within_a_second_of_its_line(rules_dir: Path, tmp_path: Path) -> None:
    """One line through parse -> store -> detect -> alert: the alert is in the store well inside a second."""
    import time

    store = SQLiteStore(tmp_path / "latency.db")
    try:
        pipeline = Pipeline(store, detector=Engine.from_paths([rules_dir]))
        raw = b'203.0.113.9 - - [05/Jan/2026:09:00:01 +0700] "GET /dvc/search?q=\' or 1=1 HTTP/1.1" 200 5 "-" "x"'
        start = time.perf_counter()
        counts = pipeline.process([parse_line(raw, source="/var/log/nginx/access.log", position=0)])
        elapsed = time.perf_counter() - start
        assert counts.alerts == 1 and store.count_alerts(AlertQuery()) == 1
        assert elapsed < 1.0, f"{elapsed:.3f}s from line to stored alert"
    finally:
        store.close()
