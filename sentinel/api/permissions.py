"""Who may call which route: one table, checked for every authenticated request.

Deny by default: a route missing from :data:`PERMISSIONS` is refused for every
role, so a new endpoint is closed until someone decides who may use it.
Province/commune scope is not decided here but inside the queries (see the
policy stage), so that counts and pagination cannot leak across scopes.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import HTTPException, Request

from sentinel.api.auth import current_principal
from sentinel.identity import ROLES

ALL = frozenset(ROLES)
READERS = frozenset({"admin", "soc_lead", "soc_analyst", "commune_engineer", "auditor", "dpo"})
SOC = frozenset({"admin", "soc_lead", "soc_analyst"})
SOC_READ = SOC | {"commune_engineer", "auditor"}
LEADS = frozenset({"admin", "soc_lead"})
DPO = frozenset({"admin", "dpo"})
DPO_READ = DPO | {"auditor", "soc_lead"}
OVERSIGHT = LEADS | {"auditor"}

# (method, route path template) -> roles allowed
PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/auth/whoami"): ALL,
    ("GET", "/docs"): ALL,  # the API's own description, for anyone who may call it
    ("GET", "/redoc"): ALL,
    ("POST", "/auth/logout"): ALL,
    ("GET", "/api/events"): READERS,
    ("GET", "/api/events/{event_id}"): READERS,
    ("GET", "/api/alerts"): SOC_READ,
    ("GET", "/api/alerts/{alert_id}"): SOC_READ,
    ("PATCH", "/api/alerts/{alert_id}"): SOC,
    ("GET", "/api/alerts/{alert_id}/history"): SOC_READ,
    ("POST", "/api/alerts/{alert_id}/actions"): SOC,
    ("POST", "/api/alerts/bulk"): SOC,  # side effects inside still need a lead
    ("GET", "/api/alerts/{alert_id}/notifications"): SOC_READ,
    ("GET", "/api/alerts/{alert_id}/playbooks"): SOC_READ,
    ("GET", "/api/playbooks"): SOC_READ,
    ("GET", "/api/playbooks/{playbook_id}"): SOC_READ,
    ("GET", "/api/runs"): SOC_READ,
    ("POST", "/api/runs"): SOC,
    ("GET", "/api/runs/{run_id}"): SOC_READ,
    ("POST", "/api/runs/{run_id}/decision"): SOC,  # approving side effects is checked for leads inside
    ("GET", "/api/suppressions"): SOC_READ,
    ("POST", "/api/suppressions"): LEADS,
    ("POST", "/api/suppressions/{suppression_id}/end"): LEADS,
    ("GET", "/api/cases"): SOC_READ,  # cases are scoped by the places their alerts share
    ("POST", "/api/cases"): SOC,
    ("GET", "/api/cases/suggestions"): SOC_READ,
    ("GET", "/api/cases/{case_id}"): SOC_READ,
    ("POST", "/api/cases/{case_id}/actions"): SOC,
    ("GET", "/api/reports/shifts"): OVERSIGHT,
    ("GET", "/api/response/audit"): OVERSIGHT,
    ("GET", "/api/classifications"): DPO_READ,
    ("GET", "/api/classifications/{dataset:path}"): DPO_READ,
    ("GET", "/api/classifications/{dataset:path}/audit"): DPO_READ,
    ("GET", "/api/classifications/{dataset:path}/fields/{field}"): DPO_READ,
    ("GET", "/api/classifications/{dataset:path}/fields/{field}/history"): DPO_READ,
    ("POST", "/api/classifications/{dataset:path}/fields/{field}/review"): DPO | {"soc_lead"},
    ("POST", "/api/ingest"): frozenset({"collector", "admin"}),
    ("POST", "/api/correlate"): frozenset({"collector", "admin"}),
    ("GET", "/api/collect/status"): SOC_READ,
    # the console: the same rules as the JSON routes behind each page
    ("GET", "/console"): READERS,
    ("GET", "/console/"): READERS,
    ("GET", "/console/alerts"): SOC_READ,
    ("GET", "/console/alerts/{alert_id}"): SOC_READ,
    ("POST", "/console/alerts/bulk"): SOC,
    ("POST", "/console/alerts/{alert_id}/action"): SOC,
    ("POST", "/console/alerts/{alert_id}/runs"): SOC,
    ("GET", "/console/runs"): SOC_READ,
    ("GET", "/console/runs/{run_id}"): SOC_READ,
    ("POST", "/console/runs/{run_id}/decision"): SOC,
    ("GET", "/console/suppressions"): SOC_READ,
    ("POST", "/console/suppressions"): LEADS,
    ("POST", "/console/suppressions/{suppression_id}/end"): LEADS,
    ("GET", "/console/dashboard"): READERS,
    ("GET", "/console/search"): READERS,  # as /api/events: scope and masking come from the data policy
    ("GET", "/console/entities/{kind}/{name}"): SOC_READ,  # an entity page lists alerts
    ("GET", "/console/rules/{rule_id}"): SOC_READ,
    ("GET", "/console/cases"): SOC_READ,
    ("POST", "/console/cases"): SOC,
    ("GET", "/console/cases/{case_id}"): SOC_READ,
    ("POST", "/console/cases/{case_id}/action"): SOC,
    ("GET", "/console/dpo"): DPO_READ,
    ("GET", "/console/dpo/{dataset:path}"): DPO_READ,
    ("POST", "/console/dpo-review"): DPO | {"soc_lead"},
    ("POST", "/console/dpo-accept-all"): DPO | {"soc_lead"},
}
# routes anyone may call: liveness, the login page and the console's static files
PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/auth/login"),
        ("POST", "/auth/login"),
        ("GET", "/console/static/{name}"),
        ("GET", "/docs/assets/{name}"),  # Swagger UI and ReDoc bundles
        ("GET", "/"),  # a redirect to the console, which asks to log in
        ("GET", "/favicon.ico"),
    }
)


def allowed_roles(method: str, path: str) -> frozenset[str]:
    if method == "HEAD":
        method = "GET"
    return PERMISSIONS.get((method, path), frozenset())


def route_key(request: Request) -> tuple[str, str]:
    route = request.scope.get("route")
    method = "GET" if request.method == "HEAD" else request.method
    return method, getattr(route, "path", None) or request.url.path


async def authorize(request: Request) -> None:
    """App-wide dependency: public routes pass; every other route needs a caller whose role it allows."""
    method, path = route_key(request)
    if (method, path) in PUBLIC:
        return
    try:
        principal = await current_principal(request)
    except HTTPException as exc:
        if exc.status_code == 401 and (path.startswith("/console") or path in ("/docs", "/redoc")):
            # a browser without a session is sent to the login page, and back afterwards
            target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
            raise HTTPException(
                303, detail="log in first", headers={"Location": f"/auth/login?next={target}"}
            ) from None
        raise
    request.state.principal = principal  # a refused console page is rendered for this caller
    if principal.role not in allowed_roles(method, path):
        raise HTTPException(status_code=403, detail=f"role {principal.role!r} may not {method} {path}")
