"""Correlation rules over the stream: windows, groups, episodes, lateness, bounded state."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from sigma.collection import SigmaCollection

from sentinel.detect import Engine
from sentinel.models import MAX_EVIDENCE_EVENTS

BASE = """
title: Failed login
id: 00000000-0000-4000-8000-00000000f001
name: failed_login
logsource: {product: portal, service: application}
level: low
detection:
  sel: {event.action: login, event.outcome: failure}
  condition: sel
---
title: Successful login
id: 00000000-0000-4000-8000-00000000f002
name: good_login
logsource: {product: portal, service: application}
level: informational
detection:
  sel: {event.action: login, event.outcome: success}
  condition: sel
---
title: Citizen record export
id: 00000000-0000-4000-8000-00000000f003
name: export
logsource: {product: portal, service: application}
level: informational
detection:
  sel: {event.action: export}
  condition: sel
"""

T0 = datetime(2026, 3, 2, 1, 0, 0, tzinfo=UTC)


def corr(body: dict[str, Any]) -> str:
    doc = {"title": "corr", "id": "00000000-0000-4000-8000-00000000c001", "level": "high", "correlation": body}
    return yaml.safe_dump(doc)


def engine(correlation: str, lateness: float = 60.0, base: str = BASE) -> Engine:
    e = Engine.from_collection(SigmaCollection.from_yaml(base + "---\n" + correlation), lateness_seconds=lateness)
    assert e.problems == [], e.problems
    return e


def ev(sec: float, action: str, outcome: str = "failure", ip: str = "203.0.113.5", user: str = "u1", i: int = 0):
    ts = (T0 + timedelta(seconds=sec)).isoformat().replace("+00:00", "Z")
    return {
        "@timestamp": ts,
        "event": {"id": f"{action}-{outcome}-{ip}-{user}-{sec}-{i}", "dataset": "portal.app", "action": action,
                  "outcome": outcome},
        "source": {"ip": ip},
        "user": {"name": user},
    }  # fmt: skip


def corr_alerts(alerts: list) -> list:
    return [a for a in alerts if a.rule.id == "00000000-0000-4000-8000-00000000c001"]


BRUTE = corr(
    {"type": "event_count", "rules": ["failed_login"], "group-by": ["source.ip"], "timespan": "1m",
     "condition": {"gte": 5}}
)  # fmt: skip


def test_event_count_fires_once_per_group_and_episode() -> None:
    e = engine(BRUTE)
    burst = [ev(i * 5, "login", i=i) for i in range(12)]  # 12 failures in 55 s: one episode
    alerts = corr_alerts(e.process(burst))
    assert len(alerts) == 1
    a = alerts[0]
    assert a.group_key == "source.ip=203.0.113.5" and a.entity == {"source.ip": "203.0.113.5"}
    assert a.count == 5 and a.event_ids == [x["event"]["id"] for x in burst[:5]]
    assert a.timestamp == burst[4]["@timestamp"] and a.first_seen == burst[0]["@timestamp"]
    assert a.severity == "high"
    # the episode continues while the condition holds, then a quiet spell ends it
    assert corr_alerts(e.process([ev(60 + i * 5, "login", i=100 + i) for i in range(6)])) == []
    later = [ev(400 + i, "login", i=200 + i) for i in range(5)]
    second = corr_alerts(e.process(later))
    assert len(second) == 1 and second[0].id != a.id and second[0].first_seen == later[0]["@timestamp"]


def test_groups_and_threshold_are_respected() -> None:
    e = engine(BRUTE)
    events = [ev(i, "login", ip=f"198.51.100.{i % 3}", i=i) for i in range(12)]  # 4 per ip
    assert corr_alerts(e.process(events)) == []
    assert corr_alerts(e.process([ev(13, "login", ip="198.51.100.1", i=99)])) != []
    # slow failures never fill a window
    e = engine(BRUTE)
    assert corr_alerts(e.process([ev(i * 20, "login", i=i) for i in range(20)])) == []


def test_base_rule_with_generate_false_only_feeds_the_correlation() -> None:
    e = engine(BRUTE)
    alerts = e.process([ev(0, "login"), ev(1, "login", outcome="success")])
    titles = [a.rule.title for a in alerts]
    assert "Failed login" not in titles  # referenced by a correlation that does not generate it
    assert "Successful login" in titles
    body = yaml.safe_load(BRUTE)
    body["correlation"]["generate"] = True
    e = engine(yaml.safe_dump(body))
    assert "Failed login" in [a.rule.title for a in e.process([ev(0, "login")])]


def test_value_count_password_spraying() -> None:
    e = engine(
        corr({"type": "value_count", "rules": ["failed_login"], "group-by": ["source.ip"], "timespan": "5m",
              "condition": {"gte": 4, "field": "user.name"}})
    )  # fmt: skip
    same_user = [ev(i, "login", user="alice", i=i) for i in range(10)]
    assert corr_alerts(e.process(same_user)) == []
    spray = [ev(20 + i, "login", user=f"user{i}", i=i) for i in range(5)]
    alerts = corr_alerts(e.process(spray))
    assert len(alerts) == 1 and alerts[0].group_key == "source.ip=203.0.113.5"


def test_temporal_and_temporal_ordered() -> None:
    body = {"rules": ["good_login", "export"], "group-by": ["user.name"], "timespan": "10m"}
    temporal = engine(corr({"type": "temporal", **body}))
    ordered = engine(corr({"type": "temporal_ordered", **body}))
    export_then_login = [ev(0, "export", outcome="success", user="bob"), ev(30, "login", "success", user="bob")]
    assert len(corr_alerts(temporal.process(export_then_login))) == 1
    assert corr_alerts(ordered.process(export_then_login)) == []
    login_then_export = [ev(100, "login", "success", user="carol"), ev(130, "export", "success", user="carol")]
    assert len(corr_alerts(ordered.process(login_then_export))) == 1
    # too far apart
    far = [ev(1000, "login", "success", user="dan"), ev(1000 + 3600, "export", "success", user="dan")]
    assert corr_alerts(ordered.process(far)) == []
    # different users never pair
    mixed = [ev(5000, "login", "success", user="eve"), ev(5001, "export", "success", user="frank")]
    assert corr_alerts(temporal.process(mixed)) == []


def test_aliases_map_group_fields_per_rule() -> None:
    base = BASE.replace("event.action: export}", "event.action: export, related.user: x}")
    e = engine(
        corr({"type": "temporal", "rules": ["good_login", "export"], "group-by": ["who"], "timespan": "10m",
              "aliases": {"who": {"good_login": "user.name", "export": "target.user"}}}),
        base=base.replace(", related.user: x}", "}"),
    )  # fmt: skip
    login = ev(0, "login", "success", user="mai")
    export = ev(10, "export", "success", user="someone-else")
    export["target"] = {"user": "mai"}
    alerts = corr_alerts(e.process([login, export]))
    assert len(alerts) == 1 and alerts[0].entity == {"who": "mai"}


def test_out_of_order_within_lateness_gives_the_same_alerts() -> None:
    events = [ev(i * 3, "login", ip=f"192.0.2.{i % 4}", i=i) for i in range(80)]
    in_order = engine(BRUTE, lateness=30)
    expected = sorted((a.group_key, a.first_seen) for a in corr_alerts(in_order.process(events)))
    rng = random.Random(3)
    shuffled = sorted(events, key=lambda x: events.index(x) * 3 + rng.uniform(0, 25))  # displaced by < 30 s
    late = engine(BRUTE, lateness=30)
    got = sorted((a.group_key, a.first_seen) for a in corr_alerts(late.process(shuffled)))
    assert [g for g, _ in got] == [g for g, _ in expected]
    assert late.correlations.stats["late"] == 0
    # beyond the lateness an event cannot be placed: it is counted, not silently lost
    assert corr_alerts(late.process([ev(0, "login", i=999)])) == []
    assert late.correlations.stats["late"] == 1


def test_lt_condition_is_judged_when_the_window_closes() -> None:
    e = engine(
        corr({"type": "event_count", "rules": ["good_login"], "group-by": ["user.name"], "timespan": "1m",
              "condition": {"lt": 2}}),
        lateness=0,
    )  # fmt: skip
    assert corr_alerts(e.process([ev(0, "login", "success", user="lan")])) == []  # window still open
    two = [ev(10, "login", "success", user="minh"), ev(15, "login", "success", user="minh")]
    assert corr_alerts(e.process(two)) == []
    closed = corr_alerts(e.process([ev(200, "login", "success", user="other")]))  # watermark passes both windows
    assert [a.entity for a in closed] == [{"user.name": "lan"}]
    flushed = corr_alerts(e.flush())  # end of input closes the last window
    assert [a.entity for a in flushed] == [{"user.name": "other"}]


def test_state_is_evicted_as_windows_close() -> None:
    e = engine(BRUTE, lateness=5)
    for batch in range(50):
        e.process([ev(batch * 120 + i * 0.01, "login", ip=f"10.{batch}.{i // 250}.{i % 250}", i=i) for i in range(200)])
        assert len(e.correlations.groups) <= 400  # only the last minute's groups remain
    assert sum(len(g.matches) for g in e.correlations.groups.values()) <= 400


def test_evidence_is_capped() -> None:
    e = engine(
        corr({"type": "event_count", "rules": ["failed_login"], "group-by": ["source.ip"], "timespan": "10m",
              "condition": {"gte": 50}})
    )  # fmt: skip
    (alert,) = corr_alerts(e.process([ev(i, "login", i=i) for i in range(60)]))
    assert alert.count == 50 and len(alert.event_ids) == 50 and len(alert.events) == MAX_EVIDENCE_EVENTS


def test_correlation_of_correlation_is_reported() -> None:
    outer = yaml.safe_load(
        corr({"type": "event_count", "rules": ["00000000-0000-4000-8000-00000000c001"], "group-by": ["source.ip"],
              "timespan": "1h", "condition": {"gte": 2}})
    )  # fmt: skip
    outer["id"] = "00000000-0000-4000-8000-00000000c002"
    text = BASE + "---\n" + BRUTE + "---\n" + yaml.safe_dump(outer)
    e = Engine.from_collection(SigmaCollection.from_yaml(text))
    assert any("correlation of correlation" in p.reason for p in e.problems)


def test_a_hot_group_keeps_one_alert_and_bounded_state() -> None:
    """A flood from one source within one window: one alert, at most MAX_GROUP_EVENTS kept."""
    from sentinel.detect.correlation import MAX_GROUP_EVENTS

    e = engine(
        corr({"type": "event_count", "rules": ["failed_login"], "group-by": ["source.ip"], "timespan": "1h",
              "condition": {"gte": 100}})
    )  # fmt: skip
    flood = [ev(i * 0.1, "login", i=i) for i in range(MAX_GROUP_EVENTS + 2000)]
    alerts = [a for start in range(0, len(flood), 3000) for a in corr_alerts(e.process(flood[start : start + 3000]))]
    assert len(alerts) == 1 and alerts[0].count == 100
    (group,) = e.correlations.groups.values()
    assert len(group.matches) == MAX_GROUP_EVENTS and e.correlations.stats["overflow"] == 2000


# condition, number of events (or distinct values), whether it fires: at the threshold and one either side
BOUNDARY = [("gte", 9, False), ("gte", 10, True), ("gte", 11, True), ("gt", 9, False), ("gt", 10, False),
            ("gt", 11, True), ("lte", 9, True), ("lte", 10, True), ("lte", 11, False), ("lt", 9, True),
            ("lt", 10, False), ("lt", 11, False), ("eq", 9, False), ("eq", 10, True), ("eq", 11, False),
            ("neq", 9, True), ("neq", 10, False), ("neq", 11, True)]  # fmt: skip


@pytest.mark.parametrize(("op", "n", "fires"), BOUNDARY)
def test_event_count_threshold_at_the_boundary(op: str, n: int, fires: bool) -> None:
    e = engine(
        corr({"type": "event_count", "rules": ["failed_login"], "group-by": ["source.ip"], "timespan": "1m",
              "condition": {op: 10}})
    )  # fmt: skip
    alerts = corr_alerts(e.process([ev(i, "login", i=i) for i in range(n)]) + e.flush())
    assert len(alerts) == int(fires)
    if fires:  # a growing count fires as soon as it crosses; the others are judged on the closed window
        assert alerts[0].count == {"gt": 11, "gte": 10}.get(op, n)


@pytest.mark.parametrize(("op", "n", "fires"), [b for b in BOUNDARY if b[0] in ("gt", "gte", "lt")])
def test_value_count_threshold_at_the_boundary(op: str, n: int, fires: bool) -> None:
    e = engine(
        corr({"type": "value_count", "rules": ["failed_login"], "group-by": ["source.ip"], "timespan": "5m",
              "condition": {op: 10, "field": "user.name"}})
    )  # fmt: skip
    # every user twice: the count is of distinct names, not of events
    events = [ev(i, "login", user=f"user{i % n}", i=i) for i in range(2 * n)]
    alerts = corr_alerts(e.process(events) + e.flush())
    assert len(alerts) == int(fires)


@pytest.mark.parametrize(("last", "fires"), [(59.0, True), (60.0, True), (60.5, False)])
def test_the_window_includes_both_ends_of_the_timespan(last: float, fires: bool) -> None:
    e = engine(BRUTE)  # 5 failures within 1m
    events = [ev(sec, "login", i=i) for i, sec in enumerate([0, 15, 30, 45, last])]
    assert len(corr_alerts(e.process(events) + e.flush())) == int(fires)


@pytest.mark.parametrize(
    "good_login", ["good_login", "00000000-0000-4000-8000-00000000f002", "00000000-0000-4000-8000-00000000F002"]
)
def test_an_alias_names_a_rule_by_name_or_by_id(good_login: str) -> None:
    """The rules list names rules by name; an alias may name the same rule by its id (any case) or its name."""
    e = engine(
        corr({"type": "temporal", "rules": ["good_login", "export"], "group-by": ["who"], "timespan": "10m",
              "aliases": {"who": {good_login: "user.name", "export": "target.user"}}})
    )  # fmt: skip
    export = ev(10, "export", "success", user="someone-else")
    export["target"] = {"user": "mai"}
    alerts = corr_alerts(e.process([ev(0, "login", "success", user="mai"), export]))
    assert [a.entity for a in alerts] == [{"who": "mai"}]


def test_an_alias_without_a_field_for_a_listed_rule_is_reported() -> None:
    text = BASE + "---\n" + corr(
        {"type": "temporal", "rules": ["good_login", "export"], "group-by": ["who"], "timespan": "10m",
         "aliases": {"who": {"failed_login": "user.name", "export": "target.user"}}}
    )  # fmt: skip
    e = Engine.from_collection(SigmaCollection.from_yaml(text))
    assert [p.reason for p in e.problems] == ["alias 'who' has no field for rule 'good_login'"]


def test_a_list_valued_group_field_is_one_group_of_its_joined_values() -> None:
    e = engine(
        corr({"type": "event_count", "rules": ["failed_login"], "group-by": ["user.name"], "timespan": "1m",
              "condition": {"gte": 5}})
    )  # fmt: skip
    pair = [ev(i, "login", user=["alice", "bob"], i=i) for i in range(4)]
    assert corr_alerts(e.process([*pair, ev(5, "login", user="alice", i=9)])) == []  # "alice" is another group
    (alert,) = corr_alerts(e.process([ev(6, "login", user=["alice", "bob"], i=10)]))
    assert alert.entity == {"user.name": "alice,bob"} and alert.count == 5


# values of http.response.bytes in one window (one event without it): sum 124, mean 31, median 10, 25th percentile 7
AGGREGATES = [("value_sum", None, 124), ("value_avg", None, 31), ("value_median", None, 10),
              ("value_percentile", 25, 7), ("value_percentile", None, 10)]  # fmt: skip


# at the value and one beyond it, from above and from below
AROUND = [("gte", 0, True), ("gt", 0, False), ("gte", 1, False), ("lte", 0, True), ("lt", 0, False), ("lte", -1, False)]


@pytest.mark.parametrize(("kind", "percentile", "value"), AGGREGATES)
@pytest.mark.parametrize(("op", "delta", "fires"), AROUND)
def test_aggregates_are_exact_at_the_threshold(
    kind: str, percentile: int | None, value: int, op: str, delta: int, fires: bool
) -> None:
    condition: dict[str, Any] = {op: value + delta, "field": "http.response.bytes"}
    if percentile is not None:
        condition["percentile"] = percentile
    e = engine(
        corr({"type": kind, "rules": ["export"], "group-by": ["user.name"], "timespan": "10m", "condition": condition})
    )  # fmt: skip
    events = []
    for i, size in enumerate([100, 4, "8", None, 12]):  # numeric text counts, a missing value does not
        event = ev(i * 10, "export", "success", i=i)
        if size is not None:
            event["http"] = {"response": {"bytes": size}}
        events.append(event)
    assert corr_alerts(e.process(events)) == []  # judged when the window closes
    assert len(corr_alerts(e.flush())) == int(fires)


def test_an_extended_temporal_condition_fires_with_the_event_that_completes_it() -> None:
    e = engine(corr({"type": "temporal", "group-by": ["user.name"], "timespan": "10m",
                     "condition": "good_login and export"}))  # fmt: skip
    assert corr_alerts(e.process([ev(0, "login", "success", user="an")])) == []
    export = ev(30, "export", "success", user="an")
    (alert,) = corr_alerts(e.process([export]))
    assert alert.timestamp == export["@timestamp"] and alert.count == 2


def test_an_extended_condition_with_not_is_judged_on_the_closed_window() -> None:
    e = engine(corr({"type": "temporal", "group-by": ["user.name"], "timespan": "10m",
                     "condition": "good_login and not export"}))  # fmt: skip
    alone = ev(0, "login", "success", user="binh")
    both = [ev(5, "login", "success", user="chi"), ev(9, "export", "success", user="chi")]
    assert corr_alerts(e.process([alone, *both])) == []
    assert [a.entity for a in corr_alerts(e.flush())] == [{"user.name": "binh"}]


def test_each_closed_window_of_a_group_is_judged() -> None:
    """A group with events in two successive tumbling windows: both are judged, not only the first."""
    e = engine(
        corr({"type": "event_count", "rules": ["good_login"], "group-by": ["user.name"], "timespan": "1m",
              "condition": {"lt": 2}}),
        lateness=60,
    )  # fmt: skip
    assert corr_alerts(e.process([ev(0, "login", "success", user="lan"), ev(70, "login", "success", user="lan")])) == []
    closed = corr_alerts(e.process([ev(300, "login", "success", user="other")]))
    assert [(a.entity["user.name"], a.first_seen) for a in closed] == [
        ("lan", ev(0, "login")["@timestamp"]),
        ("lan", ev(70, "login")["@timestamp"]),
    ]


def test_events_without_a_timestamp_are_counted() -> None:
    e = engine(BRUTE)
    undated = [ev(i, "login", i=i) for i in range(7)]
    for event in undated:
        del event["@timestamp"]
    assert corr_alerts(e.process(undated)) == []
    assert e.correlations.stats["no_timestamp"] == 7


def test_a_condition_over_several_fields_is_reported() -> None:
    text = BASE + "---\n" + corr(
        {"type": "value_count", "rules": ["failed_login"], "group-by": ["source.ip"], "timespan": "5m",
         "condition": {"gte": 3, "field": ["user.name", "source.port"]}}
    )  # fmt: skip
    e = Engine.from_collection(SigmaCollection.from_yaml(text))
    assert [p.reason for p in e.problems] == ["a condition over several fields is not supported; name one field"]


def test_an_event_matching_two_referenced_rules_is_evidence_once() -> None:
    any_login = """
title: Any login
id: 00000000-0000-4000-8000-00000000f009
name: any_login
logsource: {product: portal, service: application}
level: informational
detection:
  sel: {event.action: login}
  condition: sel
"""
    e = engine(
        corr({"type": "temporal", "rules": ["failed_login", "any_login"], "group-by": ["source.ip"], "timespan": "1m"}),
        base=BASE + "---\n" + any_login,
    )  # fmt: skip
    failure = ev(0, "login")
    (alert,) = corr_alerts(e.process([failure]))
    assert alert.event_ids == [failure["event"]["id"]] and alert.count == 1


def test_events_dated_in_the_future_are_counted_and_still_correlated() -> None:
    e = engine(BRUTE)
    ahead = (datetime.now(UTC) + timedelta(hours=2) - T0).total_seconds()
    drift = (datetime.now(UTC) + timedelta(seconds=200) - T0).total_seconds()  # within the tolerance
    alerts = corr_alerts(e.process([ev(ahead + i, "login", i=i) for i in range(5)] + [ev(drift, "login", i=9)]))
    assert len(alerts) == 1 and e.correlations.stats["future"] == 5
