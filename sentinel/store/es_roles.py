"""Elasticsearch roles from Sentinel's data policy: field-level security per SOC role.

The policy (``classifiers/policy.yaml``, read by :mod:`sentinel.policy`) decides
which personal-data fields each role may see. Sentinel's API enforces that on
every response; people who open Kibana or query the cluster directly are held to
the same decision by the roles exported here. The input is the field-access
mapping ``{role: {"grant": [...], "except": [...]}}`` from
:func:`sentinel.policy.access.field_access`.

Alerts carry copies of event fields (the ``events`` evidence and the ``entity``
that grouped them), so each excepted event field is withheld there too, and
the ``group_key`` (an entity value) is withheld from roles that miss any field.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

from sentinel.errors import Invalid
from sentinel.store.es_templates import ALERTS_ALIAS, EVENTS_PATTERN, HISTORY_ALIAS, OPEN_ALIAS

ROLE_PREFIX = "sentinel_"
# What every reading role needs whatever the policy says: time (every view sorts on it) and record identity.
ALWAYS_GRANTED = ("@timestamp", "event.id", "event.dataset", "event.kind", "data_stream.*")
ALERT_FIELDS = (
    "id",
    "@timestamp",
    "rule.*",
    "count",
    "first_seen",
    "last_seen",
    "event_ids",
    "status",
    "disposition",
    "severity",
    "risk_score",
    "assignee",
    "tags",
    "labels.*",
    "notes",
    "updated_by",
    "updated_at",
    "close_reason",
    "version",
)
KIBANA_READ = {
    "application": "kibana-.kibana",
    "privileges": ["feature_discover.read", "feature_dashboard.read", "feature_visualize.read"],
    "resources": ["*"],
}
_FIELD = re.compile(r"^[@\w*][\w.@*-]*$")


class RoleExportError(Invalid):
    """The field-access mapping cannot become a valid Elasticsearch role; the message says which entry."""


def _check(role: str, grant: list[str], excepted: list[str]) -> None:
    for f in [*grant, *excepted]:
        if not isinstance(f, str) or not _FIELD.match(f):
            raise RoleExportError(f"role {role}: {f!r} is not a field name or pattern")
    for f in excepted:
        # Elasticsearch rejects a role whose exceptions are not inside its grants
        if not any(fnmatch.fnmatchcase(f, g) for g in grant):
            raise RoleExportError(f"role {role}: excepted field {f} is not granted, so it cannot be excepted")


def scope_query(scope: str | None) -> dict[str, Any] | None:
    """Document-level security for province- or commune-scoped roles, from the user's metadata.

    Each user carries ``metadata.province`` (and ``metadata.commune``), the same
    scope the API gives its principals; the query is a template Elasticsearch
    fills in per user, so one role serves all 34 provinces.
    """
    if scope in (None, "national"):
        return None
    terms = ['{"term": {"labels.province": "{{_user.metadata.province}}"}}']
    if scope == "commune":
        terms.append('{"term": {"labels.commune": "{{_user.metadata.commune}}"}}')
    elif scope != "province":
        raise RoleExportError(f"scope {scope!r} is not one of: national, province, commune")
    return {"template": {"source": '{"bool": {"filter": [' + ", ".join(terms) + "]}}"}}


def role_body(role: str, grant: list[str], excepted: list[str], scope: str | None = None) -> dict[str, Any]:
    """One role: read on events and alerts with the role's field (and scope) security; read-only Kibana."""
    _check(role, grant, excepted)
    meta = {"managed_by": "sentinel", "sentinel_role": role}
    if not grant:
        return {"cluster": [], "indices": [], "applications": [], "metadata": meta}
    all_fields = "*" in grant
    event_grant = sorted(set(grant) | (set() if all_fields else set(ALWAYS_GRANTED)))
    event_security: dict[str, Any] = {"grant": event_grant}
    if excepted:
        event_security["except"] = sorted(excepted)
    if all_fields:
        alert_security: dict[str, Any] = {"grant": ["*"]}
        withheld = [f"{side}.{f}" for f in excepted for side in ("events", "entity")]
        if excepted:
            withheld.append("group_key")
            alert_security["except"] = sorted(withheld)
    else:
        copies = [f"{side}.{f}" for f in event_grant for side in ("events", "entity")]
        alert_security = {"grant": sorted({*ALERT_FIELDS, *copies})}
        if excepted:
            alert_security["except"] = sorted(f"{side}.{f}" for f in excepted for side in ("events", "entity"))
    read = ["read", "view_index_metadata"]
    dls = scope_query(scope)
    where = {"query": dls} if dls else {}
    return {
        "cluster": [],
        "indices": [
            {"names": [EVENTS_PATTERN], "privileges": read, "field_security": event_security, **where},
            {"names": [ALERTS_ALIAS], "privileges": read, "field_security": alert_security, **where},
            {"names": [HISTORY_ALIAS], "privileges": read},
        ],
        "applications": [KIBANA_READ],
        "metadata": meta,
    }


def export_roles(
    access: Mapping[str, Mapping[str, list[str]]], scopes: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Elasticsearch role bodies (for ``PUT _security/role/<name>``), named ``sentinel_<role>``.

    ``scopes`` optionally maps a role to ``province`` or ``commune``, limiting
    its documents to the user's own (see :func:`scope_query`).
    """
    out = {}
    scopes = scopes or {}
    for role, spec in sorted(access.items()):
        unknown = set(spec) - {"grant", "except"}
        if unknown:
            raise RoleExportError(f"role {role}: unknown key(s) {', '.join(sorted(unknown))}; use grant and except")
        grant, excepted = list(spec.get("grant", [])), list(spec.get("except", []))
        out[ROLE_PREFIX + role] = role_body(role, grant, excepted, scopes.get(role))
    return out


def service_roles() -> dict[str, dict[str, Any]]:
    """The roles Sentinel's own processes use: writing events and alerts, and ``sentinel es setup``."""
    return {
        f"{ROLE_PREFIX}writer": {
            "cluster": ["monitor"],
            "indices": [
                # maintenance: the bulk writer refreshes before its duplicate check after a failed request
                {
                    "names": [EVENTS_PATTERN],
                    "privileges": ["create_doc", "auto_configure", "read", "view_index_metadata", "maintenance"],
                },
                {"names": [ALERTS_ALIAS, HISTORY_ALIAS, OPEN_ALIAS], "privileges": ["read", "write"]},
            ],
            "metadata": {"managed_by": "sentinel"},
        },
        f"{ROLE_PREFIX}setup": {
            "cluster": ["manage_ilm", "manage_index_templates", "monitor"],
            "indices": [
                {
                    "names": [f"{ALERTS_ALIAS}-*", f"{HISTORY_ALIAS}-*", f"{OPEN_ALIAS}-*"],
                    "privileges": ["create_index", "manage"],
                },
            ],
            "metadata": {"managed_by": "sentinel"},
        },
    }


def apply_roles(client: Any, roles: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """PUT each role (creates or replaces it: running again is a no-op)."""
    for name, body in roles.items():
        client.security.put_role(name=name, **body)
    return list(roles)
