from __future__ import annotations

import pytest

from sentinel.respond.lifecycle import AlertAction, apply_action, apply_bulk
from sentinel.store.alert_ops import InvalidChange
from sentinel.store.base import VersionConflict

from .conftest import make_alert


def test_acknowledge_start_close_records_who_and_why(store, audit):
    a = store.record_alert(make_alert())
    a = apply_action(store, a.id, a.version, AlertAction(action="acknowledge"), "lan", audit)
    assert (a.status, a.assignee, a.status_by) == ("acknowledged", "lan", "lan")
    assert a.acknowledged_at is not None
    ack_at = a.acknowledged_at
    a = apply_action(store, a.id, a.version, AlertAction(action="start", assignee="minh"), "lan", audit)
    assert (a.status, a.assignee) == ("in_progress", "minh")
    a = apply_action(
        store,
        a.id,
        a.version,
        AlertAction(action="close", disposition="false_positive", reason="pentest by the vendor"),
        "minh",
        audit,
    )
    assert (a.status, a.disposition, a.close_reason, a.status_by) == (
        "closed",
        "false_positive",
        "pentest by the vendor",
        "minh",
    )
    assert a.acknowledged_at == ack_at and a.closed_at is not None
    history = store.alert_history(a.id)
    assert [h.action for h in history] == ["create", "acknowledge", "start", "close"]
    assert history[-1].before["status"] == "in_progress" and history[-1].after["status"] == "closed"
    assert history[-1].actor == "minh"


def test_reopen_forgets_old_verdict(store, audit):
    a = store.record_alert(make_alert())
    a = apply_action(
        store, a.id, 1, AlertAction(action="close", disposition="benign", reason="known probe"), "x", audit
    )
    a = apply_action(store, a.id, a.version, AlertAction(action="reopen"), "y", audit)
    assert a.status == "open" and a.disposition is None and a.close_reason is None and a.closed_at is None
    assert a.acknowledged_at is not None  # the first acknowledgement still counts for time-to-acknowledge


def test_close_needs_disposition_and_reason():
    with pytest.raises(ValueError, match="disposition"):
        AlertAction(action="close", disposition="benign")
    with pytest.raises(ValueError, match="disposition"):
        AlertAction(action="close", reason="because")


def test_invalid_transition_is_refused(store, audit):
    a = store.record_alert(make_alert())
    with pytest.raises(InvalidChange, match="cannot reopen an alert that is open"):
        apply_action(store, a.id, a.version, AlertAction(action="reopen"), "x", audit)


def test_stale_version_conflicts(store, audit):
    a = store.record_alert(make_alert())
    apply_action(store, a.id, a.version, AlertAction(action="note", text="looking"), "lan", audit)
    with pytest.raises(VersionConflict):
        apply_action(store, a.id, a.version, AlertAction(action="assign", assignee="minh"), "minh", audit)


def test_notes_tags_and_rating(store, audit):
    a = store.record_alert(make_alert())
    a = apply_action(store, a.id, a.version, AlertAction(action="note", text="<script>x</script>"), "lan", audit)
    assert a.notes[-1]["author"] == "lan" and a.notes[-1]["text"] == "<script>x</script>"
    a = apply_action(store, a.id, a.version, AlertAction(action="tag", tags=["pentest", " vip "]), "lan", audit)
    assert a.tags == ["pentest", "vip"]
    a = apply_action(store, a.id, a.version, AlertAction(action="untag", tags=["vip"]), "lan", audit)
    assert a.tags == ["pentest"]
    a = apply_action(store, a.id, a.version, AlertAction(action="rate", severity="critical"), "lan", audit)
    assert (a.severity, a.risk_score) == ("critical", 95)


def test_bulk_applies_each_and_reports_conflicts(store, audit):
    alerts = [store.record_alert(make_alert(ip=f"198.51.100.{i}")) for i in range(4)]
    targets = {a.id: a.version for a in alerts}
    targets[alerts[1].id] = 7  # stale
    targets["missing"] = 1
    act = AlertAction(action="close", disposition="benign", reason="scanner of the vendor")
    out = {o.alert_id: o for o in apply_bulk(store, targets, act, "lead", audit)}
    assert [out[a.id].status for a in alerts] == [200, 409, 200, 200]
    assert out["missing"].status == 404
    assert store.get_alert(alerts[1].id).status == "open"
    assert store.get_alert(alerts[2].id).status == "closed"
