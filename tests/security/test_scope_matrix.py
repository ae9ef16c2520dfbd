"""Everything derived from an alert is scoped like the alert: route x role x in/out of scope, from the permission table.

Real objects (alerts, playbook runs, suppressions, cases) exist in two provinces;
every caller is a Hà Nội principal of one role. Each route of the permission
table that takes an alert-derived object is called on a fresh Hà Nội object
(in scope) and a fresh Huế object (out of scope), and the status must be the
one expected for that cell: 403 when the table refuses the role (or a stricter
check inside, such as a lead for side effects), 404 out of scope (no hint the
object exists), and the route's own success status in scope. List routes must
list the in-scope object and never the other. A route of the table that is
neither here nor declared unrelated to alerts fails the test, so a new route
cannot forget scope.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sentinel import ecs
from sentinel.api.app import create_app
from sentinel.api.permissions import LEADS, PERMISSIONS, allowed_roles
from sentinel.config import Settings
from sentinel.identity import ROLES, Principal
from sentinel.models import Alert, RuleRef, alert_id
from sentinel.respond.suppress import SuppressionIn
from sentinel.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]
HANOI = {"province": "Thành phố Hà Nội", "commune": "Phường Ba Đình"}
HUE = {"province": "Thành phố Huế", "commune": "Phường Thuận Hóa"}
PLAYBOOK = "playbook--web-attack"
_seq = itertools.count()


class Caller:
    """Authenticates every request as the principal the test sets (the real app, a chosen identity)."""

    principal = Principal(name="seed", role="admin")

    def authenticate(self, request: Any) -> Principal:
        return self.principal


@dataclass
class Objects:
    """One alert, its playbook run (awaiting approval), a suppression and a case, all in one place."""

    alert: Alert
    run: dict
    suppression: dict
    case: dict


class World:
    def __init__(self, root: Path) -> None:
        self.settings = Settings(data_dir=root / "data", content_dir=REPO)
        self.store = SQLiteStore(self.settings.sqlite_path)
        self.auth = Caller()
        self.client = TestClient(create_app(self.settings, self.store, authenticator=self.auth))
        self.client.__enter__()

    def as_role(self, role: str | None) -> None:
        """Act as a Hà Nội principal of ``role`` (None: the national admin that seeds objects)."""
        if role is None:
            self.auth.principal = Principal(name="seed", role="admin")
        else:
            self.auth.principal = Principal(name=f"hn-{role}", role=role, **HANOI)

    def make(self, place: dict[str, str]) -> Objects:
        self.as_role(None)
        n = next(_seq)
        ts = ecs.format_ts(datetime.now(UTC) - timedelta(minutes=n % 50))
        ip = f"203.0.113.{n % 250}"
        event = {
            "@timestamp": ts,
            "event": {"id": f"ev-{n}", "dataset": "nginx.access"},
            "source": {"ip": ip},
            "url": {"original": "/dich-vu-cong/tra-cuu?id=1' UNION SELECT 1--"},
            "labels": dict(place),
        }
        alert = Alert(
            id=alert_id("web-sqli", f"{ip}-{n}", f"ev-{n}"),
            timestamp=ts,
            rule=RuleRef(id="web-sqli", title="SQL injection", level="high", tags=["attack.t1190"]),
            group_key=f"{ip}-{n}",
            entity={"source.ip": ip},
            first_seen=ts,
            last_seen=ts,
            event_ids=[f"ev-{n}"],
            events=[event],
            severity="high",
            labels=dict(place),
        )
        self.store.record_alert(alert)
        run = self.client.post("/api/runs", json={"playbook_id": PLAYBOOK, "alert_id": alert.id})
        assert run.status_code == 201 and run.json()["status"] == "awaiting_approval", run.text
        stage = self.client.app.state.response
        spec = SuppressionIn(rule_id="web-sqli", reason="pen test", expires=datetime.now(UTC) + timedelta(hours=1))
        suppression = stage.suppressions.create(spec, "seed", place).model_dump()
        case = self.client.post("/api/cases", json={"title": f"case {n}", "alert_ids": [alert.id]})
        assert case.status_code == 201, case.text
        return Objects(alert, run.json(), suppression, case.json())

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.store.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("scope"))
    yield w
    w.close()


@dataclass(frozen=True)
class Call:
    """How a route is exercised on one object, and what it answers in scope for a role allowed to succeed."""

    request: Callable[[Objects], dict[str, Any]]
    ok: int = 200
    needs: frozenset[str] | None = None  # a stricter role check inside the route (None: the table's roles)


def _alert(o: Objects) -> str:
    return o.alert.id


OBJECT_ROUTES: dict[tuple[str, str], Call] = {
    ("GET", "/api/alerts/{alert_id}"): Call(lambda o: {"url": f"/api/alerts/{_alert(o)}"}),
    ("PATCH", "/api/alerts/{alert_id}"): Call(
        lambda o: {"url": f"/api/alerts/{_alert(o)}", "json": {"assignee": "an"}, "headers": {"If-Match": '"1"'}}
    ),
    ("GET", "/api/alerts/{alert_id}/history"): Call(lambda o: {"url": f"/api/alerts/{_alert(o)}/history"}),
    ("POST", "/api/alerts/{alert_id}/actions"): Call(
        lambda o: {
            "url": f"/api/alerts/{_alert(o)}/actions",
            "json": {"action": "acknowledge"},
            "headers": {"If-Match": '"1"'},
        }
    ),
    ("GET", "/api/alerts/{alert_id}/notifications"): Call(lambda o: {"url": f"/api/alerts/{_alert(o)}/notifications"}),
    ("GET", "/api/alerts/{alert_id}/playbooks"): Call(lambda o: {"url": f"/api/alerts/{_alert(o)}/playbooks"}),
    ("GET", "/api/runs/{run_id}"): Call(lambda o: {"url": f"/api/runs/{o.run['id']}"}),
    ("POST", "/api/runs/{run_id}/decision"): Call(
        lambda o: {
            "url": f"/api/runs/{o.run['id']}/decision",
            "json": {"approve": False, "comment": "not now"},
            "headers": {"If-Match": f'"{o.run["version"]}"'},
        },
        needs=LEADS,  # the step blocks an address: a side effect
    ),
    ("POST", "/api/suppressions/{suppression_id}/end"): Call(
        lambda o: {
            "url": f"/api/suppressions/{o.suppression['id']}/end",
            "json": {"reason": "test over"},
            "headers": {"If-Match": f'"{o.suppression["version"]}"'},
        }
    ),
    ("GET", "/api/cases/{case_id}"): Call(lambda o: {"url": f"/api/cases/{o.case['id']}"}),
    ("POST", "/api/cases/{case_id}/actions"): Call(
        lambda o: {
            "url": f"/api/cases/{o.case['id']}/actions",
            "json": {"action": "assign", "assignee": "an", "version": o.case["version"]},
        }
    ),
    ("GET", "/console/alerts/{alert_id}"): Call(lambda o: {"url": f"/console/alerts/{_alert(o)}"}),
    ("POST", "/console/alerts/{alert_id}/action"): Call(
        lambda o: {"url": f"/console/alerts/{_alert(o)}/action", "data": {"version": 1, "action": "acknowledge"}},
        ok=303,
    ),
    ("POST", "/console/alerts/{alert_id}/runs"): Call(
        lambda o: {"url": f"/console/alerts/{_alert(o)}/runs", "data": {"playbook_id": PLAYBOOK}}, ok=303
    ),
    ("GET", "/console/runs/{run_id}"): Call(lambda o: {"url": f"/console/runs/{o.run['id']}"}),
    ("POST", "/console/runs/{run_id}/decision"): Call(
        lambda o: {
            "url": f"/console/runs/{o.run['id']}/decision",
            "data": {"version": o.run["version"], "decision": "reject"},
        },
        ok=303,
        needs=LEADS,
    ),
    ("POST", "/console/suppressions/{suppression_id}/end"): Call(
        lambda o: {
            "url": f"/console/suppressions/{o.suppression['id']}/end",
            "data": {"version": o.suppression["version"], "reason": "test over"},
        },
        ok=303,
    ),
    ("GET", "/console/cases/{case_id}"): Call(lambda o: {"url": f"/console/cases/{o.case['id']}"}),
    ("POST", "/console/cases/{case_id}/action"): Call(
        lambda o: {
            "url": f"/console/cases/{o.case['id']}/action",
            "data": {"version": o.case["version"], "action": "assign", "assignee": "an"},
        },
        ok=303,
    ),
}

# Routes that list alert-derived objects: (request for both places, how an object appears in the answer).
LIST_ROUTES: dict[tuple[str, str], Callable[[Objects, Objects], dict[str, Any]]] = {
    ("GET", "/api/alerts"): lambda a, b: {"url": "/api/alerts"},
    ("GET", "/api/runs"): lambda a, b: {"url": "/api/runs"},
    ("GET", "/api/suppressions"): lambda a, b: {"url": "/api/suppressions"},
    ("GET", "/api/cases"): lambda a, b: {"url": "/api/cases"},
    ("GET", "/api/cases/suggestions"): lambda a, b: {"url": "/api/cases/suggestions"},
    ("GET", "/api/response/audit"): lambda a, b: {"url": "/api/response/audit"},
    ("GET", "/console/alerts"): lambda a, b: {"url": "/console/alerts"},
    ("GET", "/console/runs"): lambda a, b: {"url": "/console/runs"},
    ("GET", "/console/suppressions"): lambda a, b: {"url": "/console/suppressions"},
    ("GET", "/console/cases"): lambda a, b: {"url": "/console/cases"},
    ("GET", "/console/entities/{kind}/{name}"): lambda a, b: {
        "url": f"/console/entities/ip/{b.alert.entity['source.ip']}"
    },
}
# A route that may also refuse a role that sees its subject masked (an address page, for a role seeing addresses
# masked): that refusal says so; any other answer must be a 200 without the other place's objects.
MASKED_SUBJECT = {("GET", "/console/entities/{kind}/{name}")}

# Routes that take or list alert-derived objects but are checked by their own tests below
# (their answer is an aggregate or a creation, not an object to look for).
CHECKED_BELOW = {
    ("POST", "/api/alerts/bulk"),
    ("POST", "/console/alerts/bulk"),
    ("POST", "/api/runs"),
    ("POST", "/api/suppressions"),
    ("POST", "/console/suppressions"),
    ("POST", "/api/cases"),
    ("POST", "/console/cases"),
    ("GET", "/api/reports/shifts"),
    ("GET", "/console/dashboard"),
}

# Routes of the table that have nothing to do with alerts (identity, classification, ingest, content, search).
UNRELATED = {
    ("GET", "/auth/whoami"),
    ("POST", "/auth/logout"),
    ("GET", "/api/events"),
    ("GET", "/api/events/{event_id}"),
    ("GET", "/api/playbooks"),
    ("GET", "/api/playbooks/{playbook_id}"),
    ("POST", "/api/ingest"),
    ("POST", "/api/correlate"),  # matches between workers of one deployment: no stored object is read
    ("GET", "/api/collect/status"),
    ("GET", "/console"),
    ("GET", "/console/"),
    ("GET", "/console/search"),
    ("GET", "/console/rules/{rule_id}"),
    ("GET", "/docs"),  # the API's own documentation: no stored object on it
    ("GET", "/redoc"),
}


def _identifying(path: str) -> bool:
    return path.startswith(("/api/classifications", "/console/dpo"))


def test_every_route_of_the_table_is_in_the_matrix_or_declared_unrelated():
    known = set(OBJECT_ROUTES) | set(LIST_ROUTES) | CHECKED_BELOW | UNRELATED
    missing = [r for r in PERMISSIONS if r not in known and not _identifying(r[1])]
    assert not missing, f"say how these routes are scoped (add them to the matrix): {missing}"
    taking = [r for r in PERMISSIONS if re.search(r"\{(alert|run|suppression|case)_id\}", r[1])]
    assert set(taking) <= set(OBJECT_ROUTES), "every route taking an alert, run, suppression or case is in the matrix"


def _expected(route: tuple[str, str], call: Call, role: str, inside: bool) -> int:
    if role not in allowed_roles(*route):
        return 403
    if not inside:
        return 404
    if call.needs is not None and role not in call.needs:
        return 403
    return call.ok


@pytest.mark.parametrize("route", sorted(OBJECT_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_object_route_by_role_and_scope(world, route):
    call = OBJECT_ROUTES[route]
    wrong = []
    for role in ROLES:
        for inside in (True, False):
            objects = world.make(HANOI if inside else HUE)
            world.as_role(role)
            response = world.client.request(route[0], follow_redirects=False, **call.request(objects))
            want = _expected(route, call, role, inside)
            if response.status_code != want:
                wrong.append((role, "in" if inside else "out", want, response.status_code, response.text[:100]))
    assert not wrong, wrong


@pytest.fixture(scope="module")
def two_places(world):
    return world.make(HANOI), world.make(HUE)


@pytest.mark.parametrize("route", sorted(LIST_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_list_route_lists_only_the_callers_place(world, two_places, route):
    inside, outside = two_places
    wrong = []
    for role in ROLES:
        world.as_role(role)
        response = world.client.request(route[0], **LIST_ROUTES[route](inside, outside))
        if role not in allowed_roles(*route):
            if response.status_code != 403:
                wrong.append((role, "want 403", response.status_code))
            continue
        if route in MASKED_SUBJECT and response.status_code == 403 and "masked" in response.text:
            continue
        if response.status_code != 200:
            wrong.append((role, "want 200", response.status_code, response.text[:100]))
            continue
        for objects, place in ((outside, "Huế"),):
            for what in (objects.alert.id, objects.run["id"], objects.suppression["id"], objects.case["id"]):
                if what in response.text:
                    wrong.append((role, f"lists a {place} object", what))
    assert not wrong, wrong


def test_lists_show_the_callers_own_place(world, two_places):
    inside, _ = two_places
    world.as_role("soc_lead")
    assert inside.alert.id in world.client.get("/api/alerts").text
    assert inside.run["id"] in world.client.get("/api/runs").text
    assert inside.suppression["id"] in world.client.get("/api/suppressions").text
    assert inside.case["id"] in world.client.get("/api/cases").text
    assert inside.suppression["id"] in world.client.get("/api/response/audit").text


def test_bulk_actions_refuse_the_other_place_per_alert(world):
    inside, outside = world.make(HANOI), world.make(HUE)
    world.as_role("soc_analyst")
    body = {"alerts": {inside.alert.id: 1, outside.alert.id: 1}, "action": {"action": "acknowledge"}}
    results = {r["alert_id"]: r for r in world.client.post("/api/alerts/bulk", json=body).json()["results"]}
    assert results[inside.alert.id]["ok"] and results[outside.alert.id]["status"] == 404
    page = world.client.post(
        "/console/alerts/bulk", data={"action": "assign", "assignee": "an", "sel": [outside.alert.id]}
    )
    assert world.store.get_alert(outside.alert.id).assignee is None, page.status_code


def test_runs_and_cases_start_only_on_alerts_in_scope(world):
    outside = world.make(HUE)
    world.as_role("soc_lead")
    assert (
        world.client.post("/api/runs", json={"playbook_id": PLAYBOOK, "alert_id": outside.alert.id}).status_code == 404
    )
    assert world.client.post("/api/cases", json={"title": "x", "alert_ids": [outside.alert.id]}).status_code == 404


def test_a_suppression_mutes_only_its_authors_place(world):
    """A Hà Nội lead's suppression carries Hà Nội's scope and does not match a Huế alert."""
    inside, outside = world.make(HANOI), world.make(HUE)
    world.as_role("soc_lead")
    created = world.client.post(
        "/api/suppressions",
        json={
            "rule_id": "web-sqli",
            "reason": "pen test",
            "expires": ecs.format_ts(datetime.now(UTC) + timedelta(hours=2)),
        },
    )
    assert created.status_code == 201 and created.json()["scope"] == HANOI
    stage = world.client.app.state.response
    item = stage.suppressions.get(created.json()["id"])
    assert item.matches(inside.alert) and not item.matches(outside.alert)
    world.client.post(
        "/console/suppressions", data={"kind": "window", "reason": "maintenance", "hours": 1, "rule_id": "x"}
    )
    console_made = [s for s in stage.suppressions.list() if s.rule_id == "x"]
    assert console_made and all(s.scope == HANOI for s in console_made)


def test_shift_report_and_dashboard_count_the_callers_place_only(world):
    world.make(HUE)
    world.as_role("soc_lead")
    rows = world.client.get("/api/reports/shifts").json()
    total = sum(r["alerts"] for r in rows)
    world.as_role(None)
    national = sum(r["alerts"] for r in world.client.get("/api/reports/shifts").json())
    hanoi = len([a for a in world.store.list_alerts(_query()) if a.labels.get("province") == HANOI["province"]])
    assert total == hanoi < national
    world.as_role("soc_analyst")  # the classification coverage is for the roles /api/classifications allows
    assert world.client.get("/api/classifications").status_code == 403
    page = world.client.get("/console/dashboard")
    assert page.status_code == 200 and "/console/dpo" not in page.text


def _query():
    from sentinel.store.base import AlertQuery

    return AlertQuery(limit=10_000)
