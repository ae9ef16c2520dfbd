"""``sentinel es check``: is this cluster ready for Sentinel, and does it hold what ``es setup`` would install?

The first command an operator runs on a new cluster. It reports the version
(and whether the installed client fits it, :mod:`es_version`), the licence
features Sentinel uses, each ILM policy, component and index template and
alert index against :func:`~sentinel.store.es_templates.build_plan`, and each
role against :mod:`es_roles`.

Elasticsearch returns stored objects in its own normal form (index settings
under ``index`` with every value a string, ILM phases with ``min_age``, roles
with empty defaults), so the plan is put in the same form before comparing; a
difference is reported by the dotted path of each value setup would set that
the cluster lacks or holds differently. Values the cluster added on its own
are not drift.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from elasticsearch import ApiError, AuthorizationException, NotFoundError

from sentinel.store.es_version import ClusterInfo, compatibility

PAID = ("platinum", "enterprise", "trial")  # licences with field- and document-level security


@dataclass
class Finding:
    """One line of the report: ``status`` is ok, missing, drift, warning or error."""

    area: str
    name: str
    status: str
    detail: str = ""


@dataclass
class CheckReport:
    version: str = ""
    findings: list[Finding] = field(default_factory=list)

    def add(self, area: str, name: str, status: str, detail: str = "") -> None:
        self.findings.append(Finding(area, name, status, detail))

    @property
    def ok(self) -> bool:
        return all(f.status in ("ok", "warning") for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "ok": self.ok, "findings": [asdict(f) for f in self.findings]}


def stored_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Index settings as Elasticsearch returns them: nested under ``index``, every leaf a string."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(node, list):
            flat[prefix] = [_text(v) for v in node]
        else:
            flat[prefix] = _text(node)

    walk(settings, "")
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = (key if key.startswith("index.") else f"index.{key}").split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def differences(wanted: Any, actual: Any, path: str = "") -> list[str]:
    """Dotted paths where ``actual`` lacks or differs from a value of ``wanted``."""
    where = path or "(whole)"
    if isinstance(wanted, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{where}: expected an object"]
        out = []
        for key, value in wanted.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{sub}: missing")
            else:
                out += differences(value, actual[key], sub)
        return out
    if wanted != actual:
        return [f"{where}: {_show(actual)} instead of {_show(wanted)}"]
    return []


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _stored_template(body: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in body.items()}
    template = out.get("template")
    if isinstance(template, Mapping) and "settings" in template:
        out["template"] = {**template, "settings": stored_settings(template["settings"])}
    return out


def _stored_policy(body: Mapping[str, Any]) -> dict[str, Any]:
    policy = dict(body["policy"])
    policy["phases"] = {name: {"min_age": "0ms", **phase} for name, phase in policy["phases"].items()}
    return policy


def check_cluster(
    client: Any, info: ClusterInfo, plan: Mapping[str, Any], roles: Mapping[str, Mapping[str, Any]]
) -> CheckReport:
    """Everything ``sentinel es check`` reports, from read-only requests."""
    report = CheckReport(version=info.number)
    refusal, advice = compatibility(info)
    status = "error" if refusal else "warning" if advice else "ok"
    report.add("version", f"Elasticsearch {info.number}", status, refusal or advice or f"cluster {info.name}")
    if refusal:
        return report
    _features(client, info, report)
    _objects(client, plan, report)
    _roles(client, roles, report)
    return report


def _features(client: Any, info: ClusterInfo, report: CheckReport) -> None:
    try:
        xpack = client.xpack.info().body
    except ApiError as exc:
        report.add("licence", "features", "error", f"cannot read /_xpack ({exc.meta.status} {exc.message})")
        return
    licence = (xpack.get("license") or {}).get("type", "unknown")
    features = xpack.get("features") or {}
    report.add("licence", licence, "ok", (xpack.get("license") or {}).get("status", ""))
    needs = [
        ("ilm", "ILM", "event retention and rollover (sentinel-logs policy)"),
        ("data_streams", "data streams", "events in logs-sentinel.* streams"),
        ("security", "security", "users, roles and field-level security for people outside the API"),
        ("esql", "ES|QL", "scheduled rules (sentinel rules schedule)"),
    ]
    for key, label, why in needs:
        feature = features.get(key)
        if feature is None and key == "esql":
            report.add("feature", label, "warning", f"not reported by {info.number} (GA from 8.14): {why}")
        elif feature is None or not feature.get("available"):
            report.add("feature", label, "error", f"not available with the {licence} licence: {why}")
        elif not feature.get("enabled"):
            severity = "warning" if key in ("security", "esql") else "error"
            report.add("feature", label, severity, f"available but disabled: {why}")
        else:
            report.add("feature", label, "ok", why)
    if licence in PAID:
        report.add("feature", "field/document-level security", "ok", "sentinel es roles applies the data policy")
    else:
        report.add(
            "feature",
            "field/document-level security",
            "warning",
            f"needs a Platinum or Enterprise licence (this one: {licence}); the roles from `sentinel es roles` "
            "use it, so outside the API personal-data fields are not withheld",
        )


def _objects(client: Any, plan: Mapping[str, Any], report: CheckReport) -> None:
    for name, body in plan["ilm_policies"].items():
        _compare(
            report,
            "ilm_policy",
            name,
            _stored_policy(body),
            lambda n: client.ilm.get_lifecycle(name=n).body[n]["policy"],
        )
    for name, body in plan["component_templates"].items():
        _compare(
            report,
            "component_template",
            name,
            _stored_template(body),
            lambda n: client.cluster.get_component_template(name=n).body["component_templates"][0][
                "component_template"
            ],
        )
    for name, body in plan["index_templates"].items():
        _compare(
            report,
            "index_template",
            name,
            _stored_template(body),
            lambda n: client.indices.get_index_template(name=n).body["index_templates"][0]["index_template"],
        )
    for name, body in plan["indices"].items():
        alias = next(iter(body["aliases"]))
        try:
            present = bool(client.indices.exists_alias(name=alias))
        except ApiError as exc:
            report.add("index", alias, "error", f"cannot read ({exc.meta.status} {exc.message})")
            continue
        report.add(
            "index", alias, "ok" if present else "missing", "" if present else f"run `sentinel es setup` ({name})"
        )


def _compare(report: CheckReport, kind: str, name: str, wanted: Any, fetch: Any) -> None:
    try:
        actual = fetch(name)
    except NotFoundError:
        report.add(kind, name, "missing", "run `sentinel es setup`")
        return
    except AuthorizationException as exc:
        report.add(kind, name, "error", f"not allowed to read it ({exc.message}); check as the sentinel_setup user")
        return
    diff = differences(wanted, actual)
    report.add(kind, name, "drift" if diff else "ok", "; ".join(diff[:5]) + (" ..." if len(diff) > 5 else ""))


def _parsed_queries(role: Mapping[str, Any]) -> dict[str, Any]:
    """A role as read back: Elasticsearch returns document-level security queries as JSON text."""
    indices = [
        {**p, "query": json.loads(p["query"])} if isinstance(p.get("query"), str) else p
        for p in role.get("indices", [])
    ]
    return {**role, "indices": indices}


def _roles(client: Any, roles: Mapping[str, Mapping[str, Any]], report: CheckReport) -> None:
    try:
        found = client.security.get_role(name=",".join(roles)).body
    except NotFoundError:
        found = {}
    except ApiError as exc:
        report.add("role", "*", "error", f"cannot read roles ({exc.meta.status} {exc.message}; needs manage_security)")
        return
    for name, body in roles.items():
        if name not in found:
            report.add("role", name, "missing", "run `sentinel es roles --apply`")
            continue
        diff = differences(dict(body), _parsed_queries(found[name]))
        report.add("role", name, "drift" if diff else "ok", "; ".join(diff[:5]))
