"""The HTTP API over a real embedded store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.api.auth import LocalOperator
from sentinel.config import load_settings
from sentinel.models import Alert, RuleRef, alert_id
from sentinel.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    s.append_events(
        [
            {
                "@timestamp": f"2026-11-20T01:00:{i:02d}Z",
                "event": {
                    "id": f"e{i}",
                    "dataset": "nginx.access",
                    "original": f"GET /tra-cuu?id={i} sqlmap" if i % 2 else "ok",
                },
                "source": {"ip": "203.0.113.9" if i % 2 else "14.160.0.1"},
            }
            for i in range(30)
        ]
    )
    yield s
    s.close()


@pytest.fixture
def client(store, tmp_path):
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path)})
    return TestClient(create_app(settings, store, authenticator=LocalOperator()))


def make_alert(event_id: str, group: str = "203.0.113.9") -> Alert:
    ts = "2026-11-20T01:00:00.000Z"
    return Alert(
        id=alert_id("r1", group, event_id),
        timestamp=ts,
        rule=RuleRef(id="r1", title="SQLi", level="high"),
        group_key=group,
        first_seen=ts,
        last_seen=ts,
        event_ids=[event_id],
        severity="high",
        risk_score=75,
    )


def test_health_and_openapi(client):
    assert client.get("/health").json()["store"] == "sqlite"
    spec = client.get("/openapi.json").json()
    assert "/api/events" in spec["paths"] and "/api/alerts/{alert_id}" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_events_query_and_pagination(client):
    r = client.get("/api/events", params={"q": "source.ip:203.0.113.9 sqlmap", "limit": 10, "total": True}).json()
    assert r["total"] == 15 and len(r["events"]) == 10 and r["next_cursor"]
    rest = client.get("/api/events", params={"q": "source.ip:203.0.113.9 sqlmap", "cursor": r["next_cursor"]}).json()
    ids = {e["event"]["id"] for e in r["events"]} | {e["event"]["id"] for e in rest["events"]}
    assert len(ids) == 15 and rest["next_cursor"] is None
    assert client.get("/api/events/e3").json()["source"]["ip"] == "203.0.113.9"
    assert client.get("/api/events/nope").status_code == 404
    since = client.get("/api/events", params={"since": "2026-11-20T01:00:20Z", "total": True}).json()
    assert since["total"] == 10


def test_bad_requests_get_clear_4xx(client):
    assert client.get("/api/events", params={"q": '"unclosed'}).status_code == 400
    r = client.get("/api/events", params={"q": "source.ip:1.2.3.4 AND (sqlmap"})
    assert r.status_code == 400 and r.json()["detail"] == "position 23: '(' is never closed"
    r = client.get("/api/events", params={"q": "@timestamp:[yesterday TO now]"})
    assert r.status_code == 400 and "ISO 8601" in r.json()["detail"]
    assert client.get("/api/events", params={"cursor": "garbage"}).status_code == 400
    assert client.get("/api/events", params={"limit": 0}).status_code == 422


def test_alert_lifecycle_with_versions(client, store):
    a = store.record_alert(make_alert("e1"))
    store.record_alert(make_alert("e3"))  # same rule and source: folded into the open alert
    listing = client.get("/api/alerts").json()
    assert listing["total"] == 1 and listing["alerts"][0]["count"] == 2
    got = client.get(f"/api/alerts/{a.id}")
    etag = got.headers["ETag"]
    assert got.json()["version"] == 2
    assert client.patch(f"/api/alerts/{a.id}", json={"status": "acknowledged"}).status_code == 428
    ok = client.patch(
        f"/api/alerts/{a.id}", json={"status": "acknowledged", "assignee": "an"}, headers={"If-Match": etag}
    )
    assert ok.status_code == 200 and ok.json()["updated_by"] == "local"
    stale = client.patch(f"/api/alerts/{a.id}", json={"assignee": "binh"}, headers={"If-Match": etag})
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]
    needs_disposition = client.patch(
        f"/api/alerts/{a.id}", json={"status": "closed"}, headers={"If-Match": ok.headers["ETag"]}
    )
    assert needs_disposition.status_code == 422
    unknown = client.patch(f"/api/alerts/{a.id}", json={"count": 0}, headers={"If-Match": ok.headers["ETag"]})
    assert unknown.status_code == 422
    history = client.get(f"/api/alerts/{a.id}/history").json()
    assert [h["action"] for h in history] == ["create", "fold", "update"]
    assert history[-1]["before"] == {"status": "open", "assignee": None}
    assert client.get("/api/alerts", params={"status": "open"}).json()["total"] == 0
