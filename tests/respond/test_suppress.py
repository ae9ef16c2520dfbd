from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentinel.respond.suppress import SuppressingDetector, parse_suppression
from sentinel.store.base import VersionConflict

from .conftest import make_alert

SOON = datetime.now(UTC) + timedelta(hours=2)


def test_validation_rejects_unsafe_or_incomplete_specs():
    with pytest.raises(ValueError, match="cannot mute everything"):
        parse_suppression({"reason": "x" * 5, "expires": SOON.isoformat()})
    with pytest.raises(ValueError, match="reason"):
        parse_suppression({"rule_id": "r", "reason": "", "expires": SOON.isoformat()})
    with pytest.raises(ValueError, match="expires"):
        parse_suppression({"rule_id": "r", "reason": "maintenance"})
    with pytest.raises(ValueError, match="after"):
        parse_suppression({"rule_id": "r", "reason": "maintenance", "expires": "2020-01-01T00:00:00Z"})
    with pytest.raises(ValueError, match="366 days"):
        parse_suppression({"rule_id": "r", "reason": "forever", "expires": (SOON + timedelta(days=400)).isoformat()})
    with pytest.raises(ValueError, match="address range"):
        parse_suppression({"match": {"source.ip": ["10.0.0.0/33"]}, "reason": "scan", "expires": SOON.isoformat()})


def test_exception_by_cidr_and_rule(response):
    sup = response.suppressions
    sup.create(
        parse_suppression(
            {
                "rule_id": "web-sqli",
                "match": {"source.ip": ["203.0.113.0/24"]},
                "reason": "vendor pentest",
                "expires": SOON.isoformat(),
            }
        ),
        "lead",
    )
    inside, outside, other_rule = make_alert(), make_alert(ip="198.51.100.1"), make_alert(rule_id="web-xss")
    assert sup.filter([inside, outside, other_rule]) == [outside, other_rule]
    assert sup.list()[0].hits == 1


def test_window_on_rule_with_prefix_and_evidence_fields(response):
    sup = response.suppressions
    sup.create(
        parse_suppression(
            {
                "kind": "window",
                "match": {"labels.province": ["Hà*"]},
                "reason": "province data centre maintenance",
                "expires": SOON.isoformat(),
            }
        ),
        "lead",
    )
    assert sup.filter([make_alert()]) == []
    assert len(sup.filter([make_alert(province="Huế")])) == 1


def test_expired_and_ended_suppressions_do_not_apply(response):
    sup = response.suppressions
    s = sup.create(parse_suppression({"rule_id": "web-sqli", "reason": "noisy", "expires": SOON.isoformat()}), "lead")
    assert sup.filter([make_alert()]) == []
    for stale in (s.version - 1, s.version + 1):  # behind or ahead: both are someone else's view
        with pytest.raises(VersionConflict):
            sup.end(s.id, stale, "lead", "done early")
    with pytest.raises(ValueError, match="say why the suppression is ended early"):
        sup.end(s.id, s.version, "lead", " ok ")  # two characters once trimmed
    ended = sup.end(s.id, s.version, "lead", "fin")  # three are enough
    assert ended.ended_by == "lead" and ended.version == 2 and ended.ended_reason == "fin"
    assert len(sup.filter([make_alert()])) == 1
    assert sup.list() == [] and len(sup.list(include_expired=True)) == 1
    trail = response.db.audit_trail("suppression", s.id)
    assert [t["action"] for t in trail] == ["end", "create"] and trail[0]["actor"] == "lead"
    assert trail[0]["after"] == {"expires": ended.expires, "reason": "fin"}  # the trail says why and until when


def test_future_window_is_not_active_yet(response):
    sup = response.suppressions
    start = datetime.now(UTC) + timedelta(hours=1)
    sup.create(
        parse_suppression(
            {
                "rule_id": "web-sqli",
                "reason": "tonight's change",
                "starts": start.isoformat(),
                "expires": (start + timedelta(hours=2)).isoformat(),
            }
        ),
        "lead",
    )
    assert len(sup.filter([make_alert()])) == 1


def test_suppressing_detector_wraps_engine(response):
    class Fixed:
        def process(self, events):
            return [make_alert(), make_alert(ip="198.51.100.9")]

        def flush(self):
            return [make_alert()]

    response.suppressions.create(
        parse_suppression(
            {"match": {"source.ip": ["203.0.113.7"]}, "reason": "uptime probe", "expires": SOON.isoformat()}
        ),
        "lead",
    )
    det = SuppressingDetector(Fixed(), response.suppressions)
    assert [a.entity["source.ip"] for a in det.process([])] == ["198.51.100.9"]
    assert det.flush() == []
