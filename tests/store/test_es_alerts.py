"""Alerts on Elasticsearch: folding, optimistic concurrency (if_seq_no) and the 409 the API returns.

The real client talks HTTP to a scripted cluster that answers stale writes the
way Elasticsearch does (409 ``version_conflict_engine_exception``).
"""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.config import Settings
from sentinel.models import Alert, RuleRef, alert_id
from sentinel.store.base import StoreError, VersionConflict
from sentinel.store.es_templates import ALERTS_ALIAS, HISTORY_ALIAS, OPEN_ALIAS
from tests.store.es_sim import Index, MiniCluster, Request


@pytest.fixture
def alert_store(sim, sim_store):
    for name in (ALERTS_ALIAS, HISTORY_ALIAS, OPEN_ALIAS):
        sim.cluster.indices[name] = Index()
    return sim_store


def make_alert(group: str = "203.0.113.7", first: str = "e1", ts: str = "2026-07-01T08:00:00.000Z") -> Alert:
    rule = RuleRef(id="web-sqli", title="SQL injection attempt", level="high")
    return Alert(
        id=alert_id(rule.id, group, first),
        timestamp=ts,
        rule=rule,
        group_key=group,
        first_seen=ts,
        last_seen=ts,
        event_ids=[first],
        events=[{"event": {"id": first}}],
        severity="high",
        risk_score=75,
    )


def test_repeat_folds_into_the_open_alert(alert_store):
    first = alert_store.record_alert(make_alert(first="e1"))
    folded = alert_store.record_alert(make_alert(first="e2", ts="2026-07-01T08:05:00.000Z"))
    assert folded.id == first.id and folded.count == 2 and folded.version == 2
    assert folded.event_ids == ["e1", "e2"] and folded.last_seen == "2026-07-01T08:05:00.000Z"
    assert alert_store.get_alert(first.id).count == 2
    assert [(h.version, h.action) for h in alert_store.alert_history(first.id)] == [(1, "create"), (2, "fold")]


def test_stale_version_is_refused(alert_store):
    a = alert_store.record_alert(make_alert())
    alert_store.update_alert(a.id, {"assignee": "lan"}, expected_version=1, actor="lan")
    with pytest.raises(VersionConflict) as err:
        alert_store.update_alert(a.id, {"assignee": "minh"}, expected_version=1, actor="minh")
    assert (err.value.expected, err.value.actual) == (1, 2)
    assert alert_store.get_alert(a.id).assignee == "lan"


def test_write_race_between_read_and_write_is_a_conflict(sim, alert_store):
    """Both analysts read version 1; the other one's write lands between our read and our write."""
    a = alert_store.record_alert(make_alert())

    def other_analyst_first(cluster: MiniCluster, req: Request) -> tuple[int, object]:
        _, current = cluster._get(ALERTS_ALIAS, a.id)
        theirs = {**current["_source"], "assignee": "minh", "version": 2}
        cluster._write(
            ALERTS_ALIAS, a.id, theirs, False, {"if_seq_no": str(current["_seq_no"]), "if_primary_term": "1"}
        )
        return cluster._route(req)  # our write now carries a stale if_seq_no

    sim.cluster.script("PUT", rf"^/{ALERTS_ALIAS}/_doc/{a.id}$", [other_analyst_first])
    with pytest.raises(VersionConflict) as err:
        alert_store.update_alert(a.id, {"assignee": "lan"}, expected_version=1, actor="lan")
    assert (err.value.expected, err.value.actual) == (1, 2)
    assert alert_store.get_alert(a.id).assignee == "minh"  # the other update was not lost
    sent = [r for r in sim.cluster.calls("PUT", f"/{ALERTS_ALIAS}/_doc/{a.id}")][-1]
    assert "if_seq_no" in sent.query and "if_primary_term" in sent.query


def test_api_returns_409_for_a_conflict(alert_store, tmp_path):
    a = alert_store.record_alert(make_alert())
    app = create_app(Settings(data_dir=tmp_path, auth={"mode": "demo"}), store=alert_store)  # the demo operator
    with TestClient(app) as http:
        ok = http.patch(f"/api/alerts/{a.id}", json={"status": "acknowledged"}, headers={"If-Match": '"1"'})
        assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
        stale = http.patch(f"/api/alerts/{a.id}", json={"assignee": "minh"}, headers={"If-Match": '"1"'})
        assert stale.status_code == 409
        assert "version 1" in stale.json()["detail"] and "version 2" in stale.json()["detail"]


def test_closing_frees_the_group_for_a_new_alert(alert_store):
    a = alert_store.record_alert(make_alert(first="e1"))
    alert_store.update_alert(
        a.id, {"status": "closed", "disposition": "true_positive"}, expected_version=1, actor="lan"
    )
    b = alert_store.record_alert(make_alert(first="e9", ts="2026-07-02T08:00:00.000Z"))
    assert b.id != a.id and b.count == 1
    assert alert_store.get_alert(a.id).status == "closed"
    history = alert_store.alert_history(a.id)
    assert history[-1].before == {"status": "open", "disposition": None}
    assert history[-1].after == {"status": "closed", "disposition": "true_positive"}


def test_concurrent_detectors_fold_into_one_alert(alert_store):
    errors: list[Exception] = []

    def record(n: int) -> None:
        try:
            alert_store.record_alert(make_alert(first=f"e{n}"))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    stored = _all_alerts(alert_store)
    assert len(stored) == 1 and stored[0].count == 6 and stored[0].version == 6


def test_a_writer_between_claiming_the_group_and_writing_its_alert_is_waited_for(alert_store):
    """The race behind two alerts for one group: the pointer is there, its alert not yet; fold, do not take over."""
    import time as _time

    from sentinel.store.elasticsearch import _pointer_id

    first = make_alert(first="e1")
    pointer = {"rule_id": first.rule.id, "group_key": first.group_key, "alert_id": first.id, "claimed_at": _time.time()}
    alert_store.client.create(index=alert_store.names.open_alerts, id=_pointer_id(first),
                              document=pointer)  # fmt: skip

    def finish_first_writer() -> None:
        _time.sleep(0.3)
        alert_store.client.create(index=alert_store.names.alerts, id=first.id, document=first.to_doc(), refresh=True)

    writer = threading.Thread(target=finish_first_writer)
    writer.start()
    second = alert_store.record_alert(make_alert(first="e2"))
    writer.join(5)
    stored = _all_alerts(alert_store)
    assert second.id == first.id and second.count == 2
    assert len(stored) == 1 and stored[0].event_ids == ["e1", "e2"]


def _all_alerts(store) -> list[Alert]:
    resp = store.client.mget(index=ALERTS_ALIAS, ids=[make_alert(first=f"e{n}").id for n in range(6)])
    return [Alert.model_validate(d["_source"]) for d in resp["docs"] if d.get("found")]


def test_missing_alert_index_says_to_run_setup(sim_store):
    with pytest.raises(StoreError, match="sentinel es setup"):
        sim_store.record_alert(make_alert())
