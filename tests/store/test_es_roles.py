"""Policy-to-role export: field-level security bodies Elasticsearch accepts, derived from the data policy."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from sentinel.store.es_roles import RoleExportError, apply_roles, export_roles, service_roles
from sentinel.store.es_templates import ALERTS_ALIAS, EVENTS_PATTERN
from tests.content import CLASSIFIERS

ACCESS = {
    "soc_lead": {"grant": ["*"], "except": []},
    "soc_analyst": {"grant": ["*"], "except": ["user.email", "user.name"]},
    "commune_engineer": {"grant": ["source.ip", "url.path", "http.*"], "except": []},
    "ci": {"grant": [], "except": []},
}


def index_priv(body: dict, name: str) -> dict:
    return next(i for i in body["indices"] if name in i["names"])


def visible(security: dict, field: str) -> bool:
    """How Elasticsearch reads a field_security block: granted by a pattern and not excepted by one."""
    granted = any(fnmatch.fnmatchcase(field, g) for g in security["grant"])
    return granted and not any(fnmatch.fnmatchcase(field, e) for e in security.get("except", []))


def test_analyst_cannot_read_denied_fields_in_events_or_alert_evidence():
    roles = export_roles(ACCESS)
    analyst = roles["sentinel_soc_analyst"]
    events = index_priv(analyst, EVENTS_PATTERN)["field_security"]
    alerts = index_priv(analyst, ALERTS_ALIAS)["field_security"]
    assert not visible(events, "user.email") and not visible(events, "user.name")
    assert visible(events, "source.ip") and visible(events, "@timestamp")
    assert not visible(alerts, "events.user.email") and not visible(alerts, "entity.user.name")
    assert not visible(alerts, "group_key")  # the group key may be the very value withheld
    assert visible(alerts, "status") and visible(alerts, "events.source.ip")


def test_lead_sees_everything():
    lead = export_roles(ACCESS)["sentinel_soc_lead"]
    assert index_priv(lead, EVENTS_PATTERN)["field_security"] == {"grant": ["*"]}
    assert index_priv(lead, ALERTS_ALIAS)["field_security"] == {"grant": ["*"]}


def test_listed_grants_keep_time_and_identity_and_alert_metadata():
    eng = export_roles(ACCESS)["sentinel_commune_engineer"]
    events = index_priv(eng, EVENTS_PATTERN)["field_security"]
    alerts = index_priv(eng, ALERTS_ALIAS)["field_security"]
    assert visible(events, "http.response.status_code") and visible(events, "@timestamp")
    assert not visible(events, "user.name") and not visible(events, "event.original")
    assert visible(alerts, "events.source.ip") and visible(alerts, "rule.id") and visible(alerts, "status")
    assert not visible(alerts, "events.event.original") and not visible(alerts, "group_key")


def test_scoped_role_sees_only_its_province_or_commune():
    import json

    roles = export_roles(ACCESS, scopes={"commune_engineer": "commune", "soc_analyst": "province"})
    commune = json.loads(index_priv(roles["sentinel_commune_engineer"], EVENTS_PATTERN)["query"]["template"]["source"])
    assert commune == {
        "bool": {
            "filter": [
                {"term": {"labels.province": "{{_user.metadata.province}}"}},
                {"term": {"labels.commune": "{{_user.metadata.commune}}"}},
            ]
        }
    }
    assert "query" in index_priv(roles["sentinel_soc_analyst"], ALERTS_ALIAS)
    assert "query" not in index_priv(roles["sentinel_soc_lead"], EVENTS_PATTERN)
    with pytest.raises(RoleExportError, match="scope"):
        export_roles(ACCESS, scopes={"ci": "district"} | {"soc_lead": "district"})


def test_role_without_read_gets_no_index_access():
    ci = export_roles(ACCESS)["sentinel_ci"]
    assert ci["indices"] == [] and ci["metadata"]["sentinel_role"] == "ci"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"grant": ["source.*"], "except": ["user.name"]}, "is not granted"),
        ({"grant": ["user name"]}, "not a field name"),
        ({"grant": ["*"], "deny": ["x"]}, "unknown key"),
    ],
)
def test_invalid_access_is_refused_with_the_role_named(spec, message):
    with pytest.raises(RoleExportError, match=f"role r1: .*{message}"):
        export_roles({"r1": spec})


def test_policy_field_access_exports():
    """The real data policy's decisions, through the policy module, become valid roles."""
    from sentinel.policy.access import field_access
    from sentinel.policy.model import load_policy

    access = field_access(
        load_policy(Path(__file__).resolve().parents[2] / "classifiers" / "policy.yaml", classifiers_dir=CLASSIFIERS)
    )
    roles = export_roles(access)
    assert set(roles) == {f"sentinel_{r}" for r in access}
    for name, body in roles.items():
        for priv in body["indices"]:
            sec = priv.get("field_security")
            if sec:
                for f in sec.get("except", []):
                    assert any(fnmatch.fnmatchcase(f, g) for g in sec["grant"]), (name, f)


def test_apply_puts_each_role(sim, sim_client):
    sent = []

    def put_role(cluster, req):
        sent.append(req)
        return 200, {"role": {"created": True}}

    sim.cluster.script("PUT", r"^/_security/role/", [put_role] * 6)
    names = apply_roles(sim_client, {**export_roles(ACCESS), **service_roles()})
    assert [r.path.rsplit("/", 1)[1] for r in sent] == names
    assert len(names) == 6
