"""API enforcement: scope inside the store query, masking per role, and attempts to get around both."""

from __future__ import annotations

from typing import ClassVar

import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.config import Settings
from sentinel.identity import Principal
from sentinel.models import Alert, RuleRef, alert_id
from sentinel.policy.access import field_access
from sentinel.store.es_roles import export_roles
from sentinel.store.sqlite import SQLiteStore

HANOI, CUA_NAM, BA_DINH = "Hà Nội", "Phường Cửa Nam", "Phường Ba Đình"
HUE, THUAN_HOA = "Huế", "Phường Thuận Hóa"
PLACES = [(HANOI, CUA_NAM), (HANOI, BA_DINH), (HUE, THUAN_HOA)]
EMAIL_TOKEN = "pz-email_address-abcdefghijklmnop"


class As:
    principal: ClassVar[Principal] = Principal(name="lead", role="soc_lead")

    def authenticate(self, request):
        return As.principal


def event(i: int) -> dict:
    province, commune = PLACES[i % 3]
    ip = f"14.160.{i % 3}.{i}"
    return {
        "@timestamp": f"2026-11-20T01:{i // 60:02d}:{i % 60:02d}Z",
        "event": {"id": f"e{i:03d}", "dataset": "portal.app", "original": f"{ip} login ok for {EMAIL_TOKEN}"},
        "source": {"ip": ip},
        "user": {"email": EMAIL_TOKEN, "name": f"user{i}"},
        "app": {"form": {"tinh_trang_suc_khoe": "<HEALTH>"}},
        "message": f"login from {province}",
        "labels": {"province": province, "commune": commune},
    }


def alert(i: int) -> Alert:
    province, commune = PLACES[i % 3]
    ts = f"2026-11-20T02:00:{i:02d}.000Z"
    return Alert(
        id=alert_id("brute", f"g{i}", f"e{i:03d}"),
        timestamp=ts,
        rule=RuleRef(id="brute", title="Password guessing", level="high"),
        group_key=f"{EMAIL_TOKEN}|14.160.{i % 3}.{i}",
        entity={"user.email": EMAIL_TOKEN, "source.ip": f"14.160.{i % 3}.{i}"},
        first_seen=ts,
        last_seen=ts,
        event_ids=[f"e{i:03d}"],
        events=[event(i)],
        labels={"province": province, "commune": commune},
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    store = SQLiteStore(tmp / "s.db")
    store.append_events([event(i) for i in range(30)])
    for i in range(9):
        store.record_alert(alert(i))
    with TestClient(create_app(Settings(data_dir=tmp), store, authenticator=As())) as http:
        yield http
    store.close()


def as_(role: str, province: str | None = None, commune: str | None = None) -> None:
    As.principal = Principal(name=f"{role}-user", role=role, province=province, commune=commune)


def engineer() -> None:
    as_("commune_engineer", HANOI, CUA_NAM)


def test_commune_engineer_sees_only_their_commune(client):
    engineer()
    body = client.get("/api/events", params={"total": "true", "limit": 1000}).json()
    assert body["total"] == 10 and len(body["events"]) == 10
    assert {(e["labels"]["province"], e["labels"]["commune"]) for e in body["events"]} == {(HANOI, CUA_NAM)}


def test_pagination_stays_in_scope(client):
    engineer()
    seen, cursor = [], None
    for _ in range(20):
        page = client.get("/api/events", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [e["event"]["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 10 and all(int(i[1:]) % 3 == 0 for i in seen)


@pytest.mark.parametrize(
    "q",
    [
        f'labels.commune:"{BA_DINH}"',
        f"labels.province:{HUE}",
        "labels.commune:Phường*",
        f'labels.province:"{HANOI}" labels.province:"{HUE}"',
        f'labels.province:("{HANOI}" OR "{HUE}")',
        f"labels.province:[A TO Z] OR labels.province:{HUE}",
    ],
)
def test_another_scope_through_query_parameters_is_refused(client, q):
    engineer()
    r = client.get("/api/events", params={"q": q, "total": "true"})
    assert r.status_code == 403 and "outside your scope" in r.json()["detail"]


def test_own_scope_filter_is_accepted(client):
    engineer()
    r = client.get("/api/events", params={"q": f'labels.commune:"{CUA_NAM}"', "total": "true"})
    assert r.status_code == 200 and r.json()["total"] == 10


def test_event_of_another_commune_is_not_found(client):
    engineer()
    assert client.get("/api/events/e000").status_code == 200
    r = client.get("/api/events/e001")
    assert r.status_code == 404 and r.json()["detail"] == "no event with id e001"


def test_masked_fields_in_responses(client):
    engineer()
    e = client.get("/api/events/e000").json()
    assert e["user"]["email"] == "*" * (len(EMAIL_TOKEN) - 4) + EMAIL_TOKEN[-4:]
    assert e["source"]["ip"] == "14.160.0.0"  # addresses stay visible to engineers
    assert "tinh_trang_suc_khoe" not in e["app"]["form"]  # sensitive: denied, so dropped
    as_("soc_lead")
    assert client.get("/api/events/e000").json()["user"]["email"] == EMAIL_TOKEN


@pytest.mark.parametrize(
    "q",
    [
        "user.email:pz*",
        f"user.email:{EMAIL_TOKEN}",
        "message:login*",
        "event.original:14*",
        "source.ip:14.160.0.0 OR NOT user.email:[a TO q]",
        "(event.dataset:x OR (user.email:*))",
    ],
)
def test_masked_field_cannot_be_probed_through_filters(client, q):
    engineer()
    r = client.get("/api/events", params={"q": q, "total": "true"})
    assert r.status_code == 403 and "sees it masked" in r.json()["detail"]
    assert EMAIL_TOKEN not in r.text


def test_free_text_search_refused_where_it_could_reveal_masked_values(client):
    engineer()
    r = client.get("/api/events", params={"q": "14.160.0.3"})
    assert r.status_code == 403 and "free-text search" in r.json()["detail"]
    r = client.get("/api/events", params={"q": 'event.dataset:x OR NOT "14.160"'})
    assert r.status_code == 403 and "free-text search" in r.json()["detail"]
    as_("soc_lead")
    assert client.get("/api/events", params={"q": "login"}).status_code == 200


def test_sensitive_field_probe_refused_for_soc_lead(client):
    as_("soc_lead")
    r = client.get("/api/events", params={"q": "app.form.tinh_trang_suc_khoe:*"})
    assert r.status_code == 403


def test_auditor_sees_addresses_masked_everywhere(client):
    as_("auditor")
    body = client.get("/api/events", params={"limit": 1000}).json()
    assert len(body["events"]) == 30
    for e in body["events"]:
        assert "14.160." not in str(e), e
        assert e["source"]["ip"].startswith("***")
    assert client.get("/api/events", params={"q": "source.ip:14.160.0.0"}).status_code == 403


def test_sort_and_aggregation_parameters_do_not_exist(client):
    engineer()
    plain = client.get("/api/events").json()
    tricked = client.get(
        "/api/events", params={"sort": "user.email", "order": "asc", "aggs": "user.email", "fields": "user.email"}
    ).json()
    assert tricked == plain  # unknown parameters change nothing: no sort or aggregation on any field
    assert "aggregations" not in tricked


def test_roles_without_read_access(client):
    for role in ("ci", "collector"):
        as_(role)
        assert client.get("/api/events").status_code == 403
        assert client.get("/api/alerts").status_code == 403
    as_("commune_engineer")  # no commune assigned: fails closed
    r = client.get("/api/events")
    assert r.status_code == 403 and "no commune assigned" in r.json()["detail"]


def test_alerts_scoped_counted_and_masked(client):
    engineer()
    body = client.get("/api/alerts", params={"limit": 2}).json()
    assert body["total"] == 3 and len(body["alerts"]) == 2
    rest = client.get("/api/alerts", params={"limit": 2, "offset": 2}).json()["alerts"]
    ids = [a["id"] for a in body["alerts"] + rest]
    assert len(set(ids)) == 3
    for a in body["alerts"] + rest:
        assert a["labels"]["commune"] == CUA_NAM
        assert a["entity"]["user.email"].endswith(EMAIL_TOKEN[-4:]) and a["entity"]["user.email"].startswith("***")
        assert EMAIL_TOKEN not in a["group_key"] and EMAIL_TOKEN not in str(a["events"])
        assert a["entity"]["source.ip"].startswith("14.160.0.")


def test_alerts_filtered_by_province_and_commune_within_the_scope(client):
    as_("soc_lead")
    hue = client.get("/api/alerts", params={"province": HUE}).json()
    assert hue["total"] == 3 and {a["labels"]["commune"] for a in hue["alerts"]} == {THUAN_HOA}
    ba_dinh = client.get("/api/alerts", params={"province": HANOI, "commune": BA_DINH, "limit": 1}).json()
    assert ba_dinh["total"] == 3 and len(ba_dinh["alerts"]) == 1
    engineer()
    own = client.get("/api/alerts", params={"commune": CUA_NAM}).json()
    assert own["total"] == 3
    for params in ({"commune": BA_DINH}, {"province": HUE}, {"province": HUE, "commune": CUA_NAM}):
        r = client.get("/api/alerts", params=params)
        assert r.status_code == 403 and "outside your scope" in r.json()["detail"]


def test_alert_outside_the_scope_cannot_be_read_or_changed(client):
    other = alert(1).id  # Hà Nội, Ba Đình
    as_("soc_lead")
    version = client.get(f"/api/alerts/{other}").json()["version"]
    engineer()
    assert client.get(f"/api/alerts/{other}").status_code == 404
    assert client.get(f"/api/alerts/{other}/history").status_code == 404
    as_("soc_analyst", HUE)  # an analyst of another province may change alerts, but not this one
    assert client.get(f"/api/alerts/{other}").status_code == 404
    r = client.patch(f"/api/alerts/{other}", json={"status": "acknowledged"}, headers={"If-Match": f'"{version}"'})
    assert r.status_code == 404 and r.json()["detail"] == f"no alert with id {other}"
    as_("soc_lead")
    assert client.get(f"/api/alerts/{other}").json()["version"] == version


def test_elasticsearch_field_security_withholds_masked_fields(loaded):
    fls = field_access(loaded)
    assert fls["soc_lead"]["grant"] == ["*"] and "user.email" not in fls["soc_lead"]["except"]
    engineer_fields = fls["commune_engineer"]
    assert "source.ip" in engineer_fields["grant"] and "labels.commune" in engineer_fields["grant"]
    for hidden in ("user.email", "event.original", "message", "*"):
        assert hidden not in engineer_fields["grant"]
    assert fls["ci"] == {"grant": [], "except": []}
    assert "user.email" in fls["admin"]["except"] or "user.email" not in fls["admin"]["grant"]


def test_policy_exports_as_elasticsearch_roles(loaded):
    scopes = {name: role.scope for name, role in loaded.policy.access.roles.items()}
    roles = export_roles(field_access(loaded), scopes)  # what `sentinel es roles` does
    engineer_index = roles["sentinel_commune_engineer"]["indices"][0]
    assert "user.email" not in engineer_index["field_security"]["grant"] and "query" in engineer_index
    assert roles["sentinel_ci"]["indices"] == [] or not roles["sentinel_ci"]["indices"][0]["field_security"]["grant"]
