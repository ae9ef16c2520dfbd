"""The response JSON API over a real SQLite store and respond.db."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.identity import Principal

from .conftest import make_alert


class As:
    """An authenticator whose principal the test can switch."""

    principal: ClassVar[Principal] = Principal(name="lan", role="soc_lead")

    def authenticate(self, request):
        return As.principal


@pytest.fixture
def client(settings, store):
    As.principal = Principal(name="lan", role="soc_lead")
    with TestClient(create_app(settings, store, authenticator=As())) as http:
        yield http


def test_action_with_if_match_and_conflict(client, store):
    a = store.record_alert(make_alert())
    r = client.post(f"/api/alerts/{a.id}/actions", json={"action": "acknowledge"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"' and r.json()["status"] == "acknowledged"
    stale = client.post(
        f"/api/alerts/{a.id}/actions", json={"action": "note", "text": "x"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    missing = client.post(f"/api/alerts/{a.id}/actions", json={"action": "note", "text": "x"})
    assert missing.status_code == 428
    bad = client.post(
        f"/api/alerts/{a.id}/actions", json={"action": "close", "disposition": "benign"}, headers={"If-Match": '"2"'}
    )
    assert bad.status_code == 422 and "reason" in bad.text
    closed = client.post(
        f"/api/alerts/{a.id}/actions",
        json={"action": "close", "disposition": "benign", "reason": "health check"},
        headers={"If-Match": '"2"'},
    )
    assert closed.json()["status_by"] == "lan" and closed.json()["close_reason"] == "health check"
    history = client.get(f"/api/alerts/{a.id}/history").json()
    assert [h["action"] for h in history] == ["create", "acknowledge", "close"]


def test_bulk_and_roles(client, store):
    alerts = [store.record_alert(make_alert(ip=f"198.51.100.{i}")) for i in range(3)]
    body = {"alerts": {a.id: 1 for a in alerts} | {"nope": 1}, "action": {"action": "assign", "assignee": "minh"}}
    As.principal = Principal(name="an", role="auditor")
    assert client.post("/api/alerts/bulk", json=body).status_code == 403
    As.principal = Principal(name="lan", role="soc_analyst")
    out = client.post("/api/alerts/bulk", json=body).json()
    assert out["ok"] == 3 and out["failed"] == 1
    assert {store.get_alert(a.id).assignee for a in alerts} == {"minh"}


def test_playbook_run_approval_flow(client, store):
    a = store.record_alert(make_alert(severity="critical"))
    pbs = [p["id"] for p in client.get(f"/api/alerts/{a.id}/playbooks").json()]
    assert "playbook--web-attack" in pbs
    As.principal = Principal(name="an", role="soc_analyst")
    assert (
        client.post(
            "/api/runs", json={"playbook_id": "playbook--web-attack", "alert_id": a.id, "dry_run": False}
        ).status_code
        == 403
    )
    r = client.post("/api/runs", json={"playbook_id": "playbook--web-attack", "alert_id": a.id})
    assert r.status_code == 201
    run = r.json()
    assert run["status"] == "awaiting_approval" and run["pending_step"] == "action--block"
    # the block is a side effect: an analyst cannot approve it
    denied = client.post(
        f"/api/runs/{run['id']}/decision", json={"approve": True}, headers={"If-Match": r.headers["ETag"]}
    )
    assert denied.status_code == 403
    As.principal = Principal(name="lead", role="soc_lead")
    ok = client.post(
        f"/api/runs/{run['id']}/decision",
        json={"approve": True, "comment": "go"},
        headers={"If-Match": r.headers["ETag"]},
    )
    assert ok.status_code == 200 and ok.json()["pending_step"] == "action--check-app"
    again = client.post(
        f"/api/runs/{run['id']}/decision", json={"approve": True}, headers={"If-Match": r.headers["ETag"]}
    )
    assert again.status_code == 409
    assert client.get(f"/api/runs?alert_id={a.id}").json()[0]["id"] == run["id"]
    audit = client.get("/api/response/audit", params={"kind": "run", "record_id": run["id"]}).json()
    assert any(e["action"] == "approve" and e["actor"] == "lead" for e in audit)


def test_suppression_routes(client):
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = client.post("/api/suppressions", json={"rule_id": "web-sqli", "reason": "pentest", "expires": expires})
    assert r.status_code == 201
    sid = r.json()["id"]
    bad = client.post("/api/suppressions", json={"reason": "everything", "expires": expires})
    assert bad.status_code == 422 and "cannot mute everything" in bad.json()["detail"][0]["msg"]
    assert [s["id"] for s in client.get("/api/suppressions").json()] == [sid]
    assert (
        client.post(f"/api/suppressions/{sid}/end", json={"reason": "done"}, headers={"If-Match": '"5"'}).status_code
        == 409
    )
    assert (
        client.post(f"/api/suppressions/{sid}/end", json={"reason": "done"}, headers={"If-Match": '"1"'}).status_code
        == 200
    )
    assert client.get("/api/suppressions").json() == []
    As.principal = Principal(name="an", role="soc_analyst")
    assert (
        client.post("/api/suppressions", json={"rule_id": "x", "reason": "abc", "expires": expires}).status_code == 403
    )


def test_shift_report_route(client, store):
    store.record_alert(make_alert())
    rows = client.get("/api/reports/shifts?days=1").json()
    assert sum(r["alerts"] for r in rows) == 1


def test_invalid_response_settings_give_503_with_the_line(settings, store, tmp_path, monkeypatch):
    bad = tmp_path / "respond.yml"
    bad.write_text("escalation:\n  renotify_every: often\n")
    settings = settings.model_copy(update={"respond_config": bad})
    with TestClient(create_app(settings, store, authenticator=As())) as http:
        r = http.get("/api/playbooks")
    assert r.status_code == 503 and f"{bad}:2" in r.json()["detail"]
