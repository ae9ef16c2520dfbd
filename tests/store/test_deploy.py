"""deploy/: compose, Kubernetes manifests and Kibana saved objects are consistent with the code.

No Docker Compose plugin or Kubernetes API server exists on these machines, so
structure is checked here: security settings, every secret from the
environment, references that resolve, commands that exist.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import yaml

from sentinel.cli.main import COMMANDS
from sentinel.store.es_templates import ALERTS_ALIAS, ECS_FIELDS, EVENTS_PATTERN, build_plan

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
VAR = re.compile(r"\$\{([A-Z_]+)(:?[-?][^}]*)?\}")


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_turns_security_on():
    services = compose()["services"]
    es = services["es01"]["environment"]
    assert es["xpack.security.enabled"] == "true" and es["xpack.security.http.ssl.enabled"] == "true"
    assert es["xpack.security.transport.ssl.enabled"] == "true"
    kibana = services["kibana"]["environment"]
    assert kibana["SERVER_SSL_ENABLED"] == "true" and kibana["ELASTICSEARCH_HOSTS"].startswith("https://")
    for name in ("sentinel-api", "sentinel-syslog", "sentinel-files", "sentinel-setup"):
        env = services[name]["environment"]
        assert env["SENTINEL_ES_URL"].startswith("https://") and env["SENTINEL_ES_CA_CERTS"]
    # published ports of the stores and the API listen on loopback only
    for name in ("es01", "kibana", "sentinel-api"):
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"])


def test_compose_takes_every_secret_from_the_environment():
    text = COMPOSE.read_text()
    example = (DEPLOY / "compose" / ".env.example").read_text()
    defined = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")}
    for var, _ in VAR.findall(text):
        assert var in defined, f"{var} is used by docker-compose.yml but missing from .env.example"
    for svc in compose()["services"].values():
        env = svc.get("environment") or {}
        for key, value in env.items():
            if re.search(r"PASSWORD|TOKEN|ENCRYPTIONKEY", key):
                assert VAR.fullmatch(str(value)), f"{key} must come from the environment, not be written here"


def test_compose_references_resolve():
    doc = compose()
    services = doc["services"]
    for name, svc in services.items():
        for dep in svc.get("depends_on") or {}:
            assert dep in services and dep != name, f"{name} depends on {dep}"
        for vol in svc.get("volumes") or []:
            src = vol.split(":", 1)[0]
            if not src.startswith(("/", ".", "$")):
                assert src in doc["volumes"], f"{name} mounts undeclared volume {src}"
            elif src.startswith(".."):
                assert (COMPOSE.parent / src).resolve().exists(), f"{name} mounts missing {src}"
        if svc.get("image", "").startswith("sentinel:"):
            cmd = svc.get("command") or ["serve"]
            if svc.get("entrypoint") is None:
                assert cmd[0] in COMMANDS, f"{name} runs unknown command {cmd[0]}"


def test_dockerfile_copies_paths_that_exist():
    root = DEPLOY.parent
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for src in line.split()[1:-1]:
                assert (root / src).exists(), src


def k8s_docs() -> list[dict]:
    return [d for f in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def test_k8s_manifests_are_complete():
    docs = k8s_docs()
    for d in docs:
        assert d["apiVersion"] and d["kind"] and d["metadata"]["name"]
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == "sentinel"
    es = next(d for d in docs if d["kind"] == "Elasticsearch")
    roles = {ns["name"]: (ns["count"], ns["config"]["node.roles"]) for ns in es["spec"]["nodeSets"]}
    assert roles["master"] == (3, ["master"])
    # the ILM policy's hot and warm phases need matching data tiers to move indices
    phases = build_plan()["ilm_policies"]["sentinel-logs"]["policy"]["phases"]
    tiers = {r for _, rs in roles.values() for r in rs}
    assert {f"data_{p}" for p in phases if p != "delete"} <= tiers


def test_the_workers_statefulset_its_peer_list_and_the_sizing_agree():
    """One partition per worker: the peer list names every pod of the StatefulSet, in order, and no other."""
    docs = k8s_docs()
    workers = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "sentinel-api")
    replicas = workers["spec"]["replicas"]
    config = next(d for d in docs if d["kind"] == "ConfigMap" and "SENTINEL_PARTITION_PEERS" in d.get("data", {}))
    peers = config["data"]["SENTINEL_PARTITION_PEERS"].split(",")
    service = workers["spec"]["serviceName"]
    assert peers == [f"http://sentinel-api-{i}.{service}.sentinel.svc:8080" for i in range(replicas)]
    sizing = (DEPLOY.parent / "docs" / "elasticsearch.md").read_text(encoding="utf-8")
    assert f"**{replicas} workers**" in sizing and f"`deploy/k8s/30-sentinel.yaml` runs {replicas}" in sizing


def test_k8s_secret_references_exist():
    docs = k8s_docs()
    defined = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    es_name = next(d for d in docs if d["kind"] == "Elasticsearch")["metadata"]["name"]
    defined |= {f"{es_name}-es-elastic-user", f"{es_name}-es-http-certs-public"}  # made by the operator
    text = json.dumps(docs)
    for name in re.findall(r'"secretKeyRef": \{"name": "([^"]+)"', text) + re.findall(r'"secretName": "([^"]+)"', text):
        assert name in defined, name
    for d in docs:
        if d["kind"] == "Secret":
            assert set(d["stringData"].values()) <= {"replace-me", "sentinel"}, "example secrets hold placeholders"


def _saved_objects_module():
    spec = importlib.util.spec_from_file_location("build_saved_objects", DEPLOY / "kibana" / "build_saved_objects.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kibana_saved_objects_are_current_and_resolve():
    module = _saved_objects_module()
    committed = (DEPLOY / "kibana" / "sentinel-saved-objects.ndjson").read_text()
    assert committed == module.render(), "run python deploy/kibana/build_saved_objects.py and commit the result"
    objects = [json.loads(line) for line in committed.splitlines()]
    ids = {(o["type"], o["id"]) for o in objects}
    for o in objects:
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in ids, f"{o['id']} refers to missing {ref['type']} {ref['id']}"
    views = {o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    assert views == {EVENTS_PATTERN, ALERTS_ALIAS}
    assert any(o["type"] == "dashboard" for o in objects)


def test_kibana_visualisations_use_mapped_fields():
    plan = build_plan()
    alert_fields = plan["indices"][f"{ALERTS_ALIAS}-000001"]["mappings"]["properties"]
    for o in _saved_objects_module().build():
        if o["type"] != "visualization":
            continue
        view = o["references"][0]["id"]
        for agg in json.loads(o["attributes"]["visState"])["aggs"]:
            field = agg["params"].get("field")
            if field is None:
                continue
            if view == "sentinel-alerts":
                assert field.split(".")[0] in alert_fields, field
            else:
                assert field in ECS_FIELDS or field.startswith("labels."), field
