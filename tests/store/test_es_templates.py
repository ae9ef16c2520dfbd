"""Template generation and ``sentinel es setup``: naming rules, mappings Elasticsearch accepts, idempotency."""

from __future__ import annotations

import fnmatch
import json

import pytest
from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.store.es_query import TEXT_SEARCH_FIELDS
from sentinel.store.es_templates import (
    ALERTS_ALIAS,
    DATASET_FIELDS,
    ECS_FIELDS,
    TemplateOptions,
    build_plan,
    data_stream_name,
    field_type,
    namespace_name,
)

# Elasticsearch's rules for data stream names (type-dataset-namespace).
FORBIDDEN = set('\\/*?"<>| ,#:-')


@pytest.mark.parametrize(
    ("dataset", "province", "expected"),
    [
        ("nginx.access", "Hà Nội", "logs-sentinel.nginx.access-ha_noi"),
        ("portal.app", "Thành phố Hồ Chí Minh", "logs-sentinel.portal.app-thanh_pho_ho_chi_minh"),
        ("Portal-App", "Đà Nẵng", "logs-sentinel.portal_app-da_nang"),
        (None, None, "logs-sentinel.generic-default"),
        ("nginx.access", "  ", "logs-sentinel.nginx.access-default"),
        ("a/b*c", "Quảng Ninh", "logs-sentinel.a_b_c-quang_ninh"),
    ],
)
def test_data_stream_names(dataset, province, expected):
    assert data_stream_name(dataset, province) == expected


def test_names_obey_elasticsearch_rules_for_any_input():
    for raw in ["Hà Nội", "x" * 300, "-_-", "UPPER case", "日本", "a:b#c", "..", ""]:
        name = data_stream_name(raw, raw)
        _, dataset_ns = name.split(".", 1)
        dataset, namespace = dataset_ns.rsplit("-", 1)
        assert name == name.lower() and len(name.encode()) <= 255
        assert not (set(dataset) & FORBIDDEN) and not (set(namespace) & FORBIDDEN)
        assert dataset and namespace and not namespace.startswith(("_", "."))
    assert namespace_name("Hà Nội") == "ha_noi"


def test_plan_has_ilm_with_configured_retention():
    plan = build_plan(TemplateOptions(retention="400d", warm_after="30d", replicas=0))
    [(name, policy)] = plan["ilm_policies"].items()
    phases = policy["policy"]["phases"]
    assert list(phases) == ["hot", "warm", "delete"]
    assert phases["delete"]["min_age"] == "400d" and phases["warm"]["min_age"] == "30d"
    assert "rollover" in phases["hot"]["actions"]
    settings = plan["component_templates"]["sentinel@settings"]["template"]["settings"]["index"]
    assert settings["lifecycle"]["name"] == name and settings["number_of_replicas"] == 0


@pytest.mark.parametrize("bad", [{"retention": "forever"}, {"retention": "5d", "warm_after": "7d"}, {"shards": 0}])
def test_bad_options_are_refused(bad):
    with pytest.raises(ValueError):
        TemplateOptions(**bad)


def test_each_stream_gets_the_most_specific_template():
    """Elasticsearch picks the highest-priority template whose pattern matches; ours must beat logs-*-* (100)."""
    plan = build_plan(TemplateOptions(extra_datasets=["Firewall.Fortigate"]))
    templates = plan["index_templates"]

    def chosen(stream: str) -> str:
        matching = [
            (t["priority"], n)
            for n, t in templates.items()
            if any(fnmatch.fnmatchcase(stream, p) for p in t["index_patterns"])
        ]
        assert len({p for p, _ in matching}) == len(matching), f"two templates tie for {stream}"
        return max(matching)[1]

    assert chosen("logs-sentinel.nginx.access-ha_noi") == "logs-sentinel.nginx.access"
    assert chosen("logs-sentinel.firewall.fortigate-hue") == "logs-sentinel.firewall.fortigate"
    assert chosen("logs-sentinel.unknown.thing-default") == "logs-sentinel"
    assert all(t["priority"] > 100 and "data_stream" in t for t in templates.values())
    for t in templates.values():
        assert all(c in plan["component_templates"] for c in t["composed_of"])
    assert set(DATASET_FIELDS) <= {t["_meta"].get("dataset") for t in templates.values()}


def _leaves(props: dict, prefix: str = "") -> dict[str, dict]:
    out = {}
    for name, spec in props.items():
        if "properties" in spec:
            assert "type" not in spec, f"{prefix}{name} is both a field and an object"
            out.update(_leaves(spec["properties"], f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = spec
    return out


def test_ecs_mappings_are_consistent():
    plan = build_plan()
    leaves = _leaves(plan["component_templates"]["sentinel-ecs@mappings"]["template"]["mappings"]["properties"])
    assert leaves.keys() == ECS_FIELDS.keys()
    assert leaves["@timestamp"]["type"] == "date"
    assert leaves["source.ip"]["type"] == "ip" and leaves["http.response.status_code"]["type"] == "long"
    assert leaves["event.id"]["type"] == "keyword"
    for name in TEXT_SEARCH_FIELDS:  # every field free-text search reads is analysed text
        base = name.removesuffix(".text")
        spec = leaves[base]["fields"]["text"] if name.endswith(".text") else leaves[base]
        assert spec["type"] == "text" and spec["analyzer"] == "sentinel_folded"
    assert field_type("labels.province") == "keyword" and field_type("no.such.field") is None


def test_alert_indices_sit_behind_write_aliases():
    indices = build_plan()["indices"]
    alerts = indices[f"{ALERTS_ALIAS}-000001"]
    assert alerts["aliases"] == {ALERTS_ALIAS: {"is_write_index": True}}
    props = alerts["mappings"]["properties"]
    assert props["events"] == {"type": "object", "enabled": False}  # evidence is kept, not indexed
    assert props["version"]["type"] == "long"


def test_setup_print_needs_no_cluster(tmp_path):
    env = {"SENTINEL_ES_URL": "", "SENTINEL_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["es", "setup", "--print"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == build_plan()


def test_setup_applies_everything_and_is_idempotent(sim, tmp_path):
    env = {"SENTINEL_ES_URL": sim.url, "SENTINEL_DATA_DIR": str(tmp_path)}
    first = CliRunner().invoke(cli, ["es", "setup", "--replicas", "0"], env=env)
    assert first.exit_code == 0, first.output
    plan = build_plan(TemplateOptions(replicas=0))
    kinds = {(k, n) for k, n, _ in sim.cluster.put_objects}
    assert {("_ilm", n) for n in plan["ilm_policies"]} <= kinds
    assert {("_component_template", n) for n in plan["component_templates"]} <= kinds
    assert {("_index_template", n) for n in plan["index_templates"]} <= kinds
    assert set(plan["indices"]) <= set(sim.cluster.indices)
    assert first.output.count(" created") == 3

    second = CliRunner().invoke(cli, ["es", "setup", "--replicas", "0"], env=env)
    assert second.exit_code == 0, second.output
    assert second.output.count(" exists") == 3 and " created" not in second.output
    sent = {(k, n): b for k, n, b in sim.cluster.put_objects}
    assert sent[("_index_template", "logs-sentinel.nginx.access")]["priority"] == 200
