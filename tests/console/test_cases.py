"""Cases: opened from alerts, suggested by shared entity or campaign, versioned, scoped, closed with a summary."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.identity import Principal

from .conftest import make_alert


class As:
    """An authenticator that answers with whichever principal the test sets."""

    def __init__(self) -> None:
        self.principal = Principal(name="lan", role="soc_analyst")

    def authenticate(self, request):  # the Authenticator protocol
        return self.principal


@pytest.fixture
def who():
    return As()


@pytest.fixture
def api(settings, store, who):
    with TestClient(create_app(settings, store, authenticator=who)) as http:
        yield http


def spray(store, n=6):
    """One rule for n addresses within minutes: a password-spraying campaign."""
    now = datetime.now(UTC)
    return [
        store.record_alert(
            make_alert(
                rule_id="auth-spray",
                title="Password spraying",
                ip=f"198.51.100.{i}",
                tags=("attack.t1110.003",),
                when=now - timedelta(minutes=i),
            )
        )
        for i in range(n)
    ]


def test_case_lifecycle_through_the_api(api, store):
    alerts = spray(store, 3)
    r = api.post("/api/cases", json={"title": "Spraying", "severity": "high", "alert_ids": [a.id for a in alerts[:2]]})
    assert r.status_code == 201
    case = r.json()
    assert case["version"] == 1 and case["labels"] == {"province": "Hà Nội", "commune": "Phường Ba Đình"}
    assert {o["value"] for o in case["observables"] if o["type"] == "ip"} == {"198.51.100.0", "198.51.100.1"}
    cid = case["id"]

    def act(version, **body):
        return api.post(f"/api/cases/{cid}/actions", json={"version": version, **body})

    assert act(1, action="assign", assignee="minh").json()["assignee"] == "minh"
    stale = act(1, action="rate", severity="critical")
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    assert act(2, action="add_alerts", alert_ids=[alerts[2].id]).json()["alert_ids"][-1] == alerts[2].id
    task = act(3, action="add_task", task="Chặn dải địa chỉ ở tường lửa", owner="minh").json()["tasks"][0]
    early = act(4, action="close", resolution="true_positive", summary="done")
    assert early.status_code == 422 and "open tasks" in early.json()["detail"][0]["msg"]
    assert act(4, action="finish_task", task_id=task["id"]).json()["tasks"][0]["status"] == "done"
    assert act(5, action="close", resolution="true_positive", summary="").status_code == 422
    closed = act(5, action="close", resolution="true_positive", summary="Chặn 3 địa chỉ; không có đăng nhập thành công")
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    assert act(6, action="rate", severity="low").status_code == 422  # closed: reopen first
    timeline = api.get(f"/api/cases/{cid}").json()["timeline"]
    assert [h["action"] for h in timeline] == [
        "create", "assign", "add_alerts", "add_task", "finish_task", "close"
    ]  # fmt: skip
    assert all(h["actor"] == "lan" for h in timeline)
    assert [c["id"] for c in api.get("/api/cases", params={"status": "closed"}).json()] == [cid]


def test_cases_are_scoped_like_alerts(api, store, who):
    hn = store.record_alert(make_alert(ip="203.0.113.1"))
    hue = store.record_alert(make_alert(ip="203.0.113.2", province="Huế", commune="Phường Thuận Hóa"))
    mixed = api.post("/api/cases", json={"title": "Hai tỉnh", "alert_ids": [hn.id, hue.id]}).json()
    assert mixed["labels"] == {}
    only_hn = api.post("/api/cases", json={"title": "Hà Nội", "alert_ids": [hn.id]}).json()
    who.principal = Principal(name="eng", role="commune_engineer", province="Hà Nội", commune="Phường Ba Đình")
    assert [c["id"] for c in api.get("/api/cases").json()] == [only_hn["id"]]
    assert api.get(f"/api/cases/{mixed['id']}").status_code == 404
    assert api.post("/api/cases", json={"title": "x", "alert_ids": [hn.id]}).status_code == 403  # read-only role
    who.principal = Principal(name="lead", role="soc_lead")
    assert api.get(f"/api/cases/{mixed['id']}").status_code == 200
    who.principal = Principal(name="dung", role="dpo")
    assert api.get("/api/cases").status_code == 403


def test_suggestions_group_campaigns_and_shared_entities(api, store):
    alerts = spray(store, 6)
    scan = store.record_alert(make_alert(rule_id="web-scan", title="Web scan", ip="198.51.100.3"))
    got = api.get("/api/cases/suggestions").json()
    campaign = next(s for s in got if s["kind"] == "campaign")
    assert campaign["key"] == "Password spraying" and sorted(campaign["alert_ids"]) == sorted(a.id for a in alerts)
    shared = next(s for s in got if s["kind"] == "entity")
    assert shared["key"] == "198.51.100.3" and sorted(shared["alert_ids"]) == sorted([alerts[3].id, scan.id])
    api.post("/api/cases", json={"title": "Spraying", "alert_ids": [a.id for a in alerts]})
    again = api.get("/api/cases/suggestions").json()
    assert not [s for s in again if s["kind"] == "campaign"]  # alerts in a case are no longer suggested


def test_console_case_from_queue_selection_to_close(api, store):
    alerts = spray(store, 2)
    r = api.post(
        "/console/alerts/bulk",
        data={"action": "case", "sel": [f"{a.id}:{a.version}" for a in alerts]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/console/cases/case-")
    url = r.headers["location"]
    page = api.get(url).text
    assert "Password spraying (+1)" in page and 'href="/console/entities/ip/198.51.100.0"' in page
    cid = url.rsplit("/", 1)[1]

    def post(**form):
        return api.post(f"/console/cases/{cid}/action", data=form, follow_redirects=False)

    assert post(version=1, action="start").status_code == 303
    assert post(version=1, action="rate", severity="low").headers["location"].endswith("?conflict=2")
    post(version=2, action="add_task", task="Xác minh với xã", owner="lan")
    task_id = re.search(r'name="task_id" value="([^"]+)"', api.get(url).text).group(1)
    post(version=3, action="finish_task", task_id=task_id)
    bad = post(version=4, action="close", resolution="benign", summary="")
    assert bad.status_code == 422
    post(version=4, action="close", resolution="false_positive", summary="Máy quét của nhà cung cấp")
    final = api.get(url + "?lang=en").text
    assert "Máy quét của nhà cung cấp" in final and "closed the case" in final and "Closed" in final
    listing = api.get("/console/cases?status=closed").text
    assert f'data-case="{cid}"' in listing
    assert 'id="suggestions"' in api.get("/console/cases").text
