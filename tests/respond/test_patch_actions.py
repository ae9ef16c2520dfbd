"""PATCH /api/alerts/{id} goes through the console's validated actions: what an analyst may change, and how."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.identity import Principal

from .conftest import make_alert


class As:
    principal = Principal(name="binh", role="soc_analyst")

    def authenticate(self, request):
        return self.principal


@pytest.fixture
def client(settings, store):
    with TestClient(create_app(settings, store, authenticator=As())) as http:
        yield http


def patch(client, alert_id, body, version):
    return client.patch(f"/api/alerts/{alert_id}", json=body, headers={"If-Match": f'"{version}"'})


def test_labels_cannot_be_rewritten(client, store):
    a = store.record_alert(make_alert())
    r = patch(client, a.id, {"labels": {"province": "Thành phố Huế"}}, 1)
    assert r.status_code == 422 and "evidence" in r.text
    assert store.get_alert(a.id).labels["province"] == "Hà Nội" and store.get_alert(a.id).version == 1


def test_notes_are_appended_under_the_callers_name(client, store):
    a = store.record_alert(make_alert())
    first = patch(client, a.id, {"note": "checked the source address"}, 1)
    assert first.status_code == 200
    forged = patch(
        client, a.id, {"notes": [{"author": "lan", "text": "nothing here", "at": "2026-01-01T00:00:00Z"}]}, 2
    )
    assert forged.status_code == 422 and "append-only" in forged.text
    second = patch(client, a.id, {"note": "blocked at the firewall"}, 2)
    notes = second.json()["notes"]
    assert [(n["author"], n["text"]) for n in notes] == [
        ("binh", "checked the source address"),
        ("binh", "blocked at the firewall"),
    ]


@pytest.mark.parametrize(
    "body",
    [{"status": "closed"}, {"status": "closed", "disposition": "benign"}, {"status": "closed", "reason": "dup"}],
)
def test_closing_needs_a_disposition_and_a_reason(client, store, body):
    a = store.record_alert(make_alert())
    r = patch(client, a.id, body, 1)
    assert r.status_code == 422 and store.get_alert(a.id).status == "open"


def test_closing_with_both_is_the_close_action(client, store):
    a = store.record_alert(make_alert())
    r = patch(client, a.id, {"status": "closed", "disposition": "false_positive", "reason": "the portal's probe"}, 1)
    assert r.status_code == 200
    closed = store.get_alert(a.id)
    assert (closed.status, closed.disposition, closed.close_reason) == (
        "closed",
        "false_positive",
        "the portal's probe",
    )


def test_lowering_severity_needs_a_reason_kept_as_a_note(client, store):
    a = store.record_alert(make_alert(severity="high"))
    hidden = patch(client, a.id, {"severity": "informational"}, 1)
    assert hidden.status_code == 422 and store.get_alert(a.id).severity == "high"
    r = patch(client, a.id, {"severity": "low", "reason": "scanner of the provincial SOC"}, 1)
    assert r.status_code == 200 and r.json()["severity"] == "low"
    assert (
        r.json()["notes"][-1]["author"] == "binh" and "scanner of the provincial SOC" in r.json()["notes"][-1]["text"]
    )
    raised = patch(client, a.id, {"severity": "critical"}, 2)  # raising needs no reason
    assert raised.status_code == 200


def test_status_assignee_and_tags_still_work(client, store):
    a = store.record_alert(make_alert())
    r = patch(client, a.id, {"status": "acknowledged", "assignee": "an", "tags": ["pentest"]}, 1)
    assert r.status_code == 200
    got = store.get_alert(a.id)
    assert (got.status, got.assignee, got.tags) == ("acknowledged", "an", ["pentest"]) and got.version == 2
