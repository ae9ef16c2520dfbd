"""Every alert is built in one place and scoped by its evidence: rule matches, correlations, folding, escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentinel import ecs
from sentinel.config import DEFAULT_CONTENT_DIR
from sentinel.detect.alerts import evidence_labels
from sentinel.detect.engine import Engine
from sentinel.detect.pack import load_pack
from sentinel.respond.alert_fields import alert_place
from sentinel.store.sqlite import SQLiteStore

T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
HN = {"province": "Thành phố Hà Nội", "commune": "Phường Ba Đình", "unit": "ubnd-ba-dinh"}
HUE = {"province": "Thành phố Huế", "commune": "Phường Thuận Hóa", "unit": "ubnd-thuan-hoa"}
TITLE = "Brute force against one portal account"


@pytest.fixture(scope="module")
def engine_for():
    pack = load_pack([DEFAULT_CONTENT_DIR / "rules"])

    def build(title: str) -> Engine:
        chosen = [r for r in pack.rules if r.title == title]
        needed = {id(x): x for r in chosen for x in pack.with_references(r)}
        return Engine.from_collection(pack.collection(list(needed.values())))

    return build


def failures(user: str, n: int, places: list[dict], start: int = 0) -> list[dict]:
    return [
        ecs.unflatten(
            {
                "@timestamp": ecs.format_ts(T0 + timedelta(seconds=(start + i) * 15)),
                "event.dataset": "portal.app",
                "event.category": ["authentication"],
                "event.action": "login",
                "event.outcome": "failure",
                "event.id": f"login-{user}-{start + i}",
                "user.name": user,
                "source.ip": "113.161.10.7",
                **{f"labels.{k}": v for k, v in places[i % len(places)].items()},
            }
        )
        for i in range(n)
    ]


def alerts_of(engine: Engine, events: list[dict]):
    return [a for a in engine.process(events) + engine.flush() if a.rule.title == TITLE]


def test_correlation_alert_carries_the_place_of_its_evidence(engine_for):
    (alert,) = alerts_of(engine_for(TITLE), failures("an", 12, [HN]))
    assert alert.labels == HN


def test_correlation_over_two_provinces_is_national(engine_for):
    (alert,) = alerts_of(engine_for(TITLE), failures("an", 12, [HN, HUE]))
    assert not {"province", "commune", "unit"} & set(alert.labels)
    assert alert_place(alert) == (None, None)  # escalation does not route it by its first event's province


def test_one_province_two_communes_keeps_the_province_only():
    labels = evidence_labels([{"labels": HN}, {"labels": {**HN, "commune": "Phường Hoàn Kiếm"}}])
    assert labels == {"province": HN["province"]}
    assert evidence_labels([{"labels": HN}, {"labels": {}}]) == {}  # evidence without a place is not in Hà Nội


def test_rule_alerts_of_one_entity_in_two_provinces_do_not_fold(engine_for, tmp_path):
    engine = engine_for("SQL injection with UNION SELECT in a portal query string")
    events = []
    for i, place in enumerate([HN, HUE, HN]):
        flat = {
            "@timestamp": ecs.format_ts(T0 + timedelta(seconds=i)),
            "event.dataset": "nginx.access",
            "event.category": ["web"],
            "event.id": f"web-{i}",
            "source.ip": "203.0.113.50",
            "http.request.method": "GET",
            "url.path": "/dich-vu-cong/ho-so/tra-cuu",
            "url.query": "maHoSo=1' UNION SELECT 1--",
            **{f"labels.{k}": v for k, v in place.items()},
        }
        events.append(ecs.unflatten(flat))
    store = SQLiteStore(tmp_path / "s.db")
    try:
        for alert in engine.process(events):
            store.record_alert(alert)
        recorded = {a.labels["province"]: a for a in store.list_alerts(_all())}
        assert set(recorded) == {HN["province"], HUE["province"]}
        assert recorded[HN["province"]].count == 2 and recorded[HUE["province"]].count == 1
        assert recorded[HUE["province"]].event_ids == ["web-1"]  # Huế's analysts see only Huế's evidence
    finally:
        store.close()


def _all():
    from sentinel.store.base import AlertQuery

    return AlertQuery(limit=100)
