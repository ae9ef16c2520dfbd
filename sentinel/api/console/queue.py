"""The alert queue: filters, paging, grouping by rule, and bulk changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Form, Query, Request
from fastapi.responses import Response

from sentinel.api.cases import open_case
from sentinel.api.console.alert import action_from_form
from sentinel.api.console.eventsearch import entity_links
from sentinel.api.console.i18n import language
from sentinel.api.console.pages import Caller, PageError, View, console_router, guarded, require, see_other
from sentinel.api.console.rendering import render
from sentinel.api.console.texts import rule_texts
from sentinel.api.respond import ANALYST_ROLES
from sentinel.models import Alert
from sentinel.policy import RoleView
from sentinel.respond import CAMPAIGN_MIN, CaseIn, alert_place, apply_bulk
from sentinel.store import AlertQuery

QUEUE_LIMIT = 2000
PAGE_SIZE = 100

router = console_router()


def _row(alert: Alert, view: RoleView) -> dict[str, Any]:
    """One queue line; the entity is shown as the caller's policy view masks it."""
    province, commune = alert_place(alert)
    doc = view.mask_alert({"entity": alert.entity, "group_key": alert.group_key, "events": []})
    text = ", ".join(f"{k}={v}" for k, v in (doc.get("entity") or {}).items()) or doc.get("group_key") or "-"
    return {
        "alert": alert,
        "province": province,
        "commune": commune,
        "entity": text,
        "entities": entity_links(doc.get("entity"), view),
    }


SORTS = {
    "last_seen": lambda r: r["alert"].last_seen,
    "first_seen": lambda r: r["alert"].first_seen,
    "count": lambda r: r["alert"].count,
    "severity": lambda r: (SEVERITY_ORDER.index(r["alert"].severity), r["alert"].last_seen),
}
SEVERITY_ORDER = ["informational", "low", "medium", "high", "critical"]


@router.get("/alerts")
@guarded
def queue(
    request: Request,
    principal: Caller,
    view: View,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    severity: Annotated[list[str], Query()] = [],  # noqa: B006
    rule: str = "",
    province: str = "",
    assignee: str = "",
    days: Annotated[int, Query(ge=1, le=365)] = 7,
    group: str = "",
    done: str = "",
    sort: str = "last_seen",
    order: str = "desc",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """Alert queue, PAGE_SIZE per page, newest activity first unless sorted otherwise.

    The store filters status, severity and time and pages by last activity;
    a rule (id or words of its title), province, assignee or another sort
    order are applied here over at most QUEUE_LIMIT newest matching alerts
    (said on the page).
    """
    if sort not in SORTS:
        raise PageError(422, "err_sort", sort=sort, choices=", ".join(SORTS))
    statuses = status or ["open", "acknowledged", "in_progress"]
    if status == ["all"]:
        statuses = []
    # Informational alerts (base rules feeding correlations) stay out of the default queue.
    severities = severity or ["low", "medium", "high", "critical"]
    since = datetime.now(UTC) - timedelta(days=days)
    store = request.app.state.store
    title_of, _ = rule_texts(request.app.state.settings.rules_dir, language(request))
    query = AlertQuery(status=statuses, severity=severities, since=since)
    local = bool(province or assignee or rule)
    if local or group == "rule" or (sort, order) != ("last_seen", "desc"):
        query.limit = QUEUE_LIMIT
        alerts, total = view.list_alerts(store, query)
        every = [_row(a, view) for a in alerts]
        if rule:
            words = rule.casefold().split()
            every = [
                r
                for r in every
                if r["alert"].rule.id == rule
                or all(w in f"{r['alert'].rule.title} {title_of(r['alert'].rule)}".casefold() for w in words)
            ]
        if province:
            every = [r for r in every if r["province"] == province]
        if assignee:
            every = [r for r in every if (r["alert"].assignee or "") == assignee]
        if local:
            total = len(every)
        every.sort(key=SORTS[sort], reverse=order != "asc")
        rows = every[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        capped = len(alerts) >= QUEUE_LIMIT
    else:
        query.limit, query.offset = PAGE_SIZE, (page - 1) * PAGE_SIZE
        alerts, total = view.list_alerts(store, query)
        every = rows = [_row(a, view) for a in alerts]
        capped = False
    pages = max(1, -(-total // PAGE_SIZE))
    groups = _group_by_rule(every) if group == "rule" else []
    # one rule over many entities on this page (25 spraying addresses): say so once, with a way to group them
    campaigns = [g for g in _group_by_rule(rows) if len(g["entities"]) >= CAMPAIGN_MIN] if not groups else []
    here = request.url.remove_query_params(["done", "page"])
    return render(
        request,
        "queue.html",
        principal,
        rows=rows,
        groups=groups,
        total=total,
        filters={
            "status": status,
            "severity": severity,
            "rule": rule,
            "province": province,
            "assignee": assignee,
            "days": days,
            "group": group,
        },
        sort=sort,
        order=order,
        sort_url=lambda key: str(
            here.include_query_params(sort=key, order="asc" if (sort, order) == (key, "desc") else "desc")
        ),
        back=request.url.remove_query_params(["done"]).query,
        provinces=sorted({r["province"] for r in every if r["province"]}),
        rule_titles=sorted({title_of(r["alert"].rule) for r in every}),
        users=user_names(request),
        done=done,
        page=page,
        pages=pages,
        capped=capped,
        queue_limit=QUEUE_LIMIT,
        hides_informational=not severity,
        campaigns=campaigns,
        prev_url=str(request.url.include_query_params(page=page - 1)) if page > 1 else None,
        next_url=str(request.url.include_query_params(page=page + 1)) if page < pages else None,
    )


def user_names(request: Request) -> list[str]:
    """Who an alert can be assigned to: enabled analyst accounts (none in the single-user demo)."""
    users = request.app.state.accounts.list_users()
    return sorted(u["name"] for u in users if not u["disabled"] and u["role"] in ANALYST_ROLES)


def _group_by_rule(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = ["informational", "low", "medium", "high", "critical"]
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        a = r["alert"]
        g = groups.setdefault(
            a.rule.id,
            {
                "rule": a.rule,
                "alerts": 0,
                "matches": 0,
                "severity": a.severity,
                "last_seen": a.last_seen,
                "entities": set(),
            },
        )
        g["alerts"] += 1
        g["matches"] += a.count
        g["entities"].add(r["entity"])
        g["last_seen"] = max(g["last_seen"], a.last_seen)
        if order.index(a.severity) > order.index(g["severity"]):
            g["severity"] = a.severity
    return sorted(groups.values(), key=lambda g: (-order.index(g["severity"]), -g["alerts"]))


@router.post("/alerts/bulk")
@guarded
def queue_bulk(
    request: Request,
    principal: Caller,
    view: View,
    action: Annotated[str, Form()],
    sel: Annotated[list[str], Form()] = [],  # noqa: B006
    assignee: Annotated[str, Form()] = "",
    disposition: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Apply one action to the selected alerts; the queue comes back with the filters it had."""
    require(principal, ANALYST_ROLES, "may_change_alerts")
    if not sel:
        raise PageError(422, "err_select_alert")
    if action == "case":
        return _case_from_selection(request, principal.name, view, [item.rpartition(":")[0] for item in sel])
    act = action_from_form({"action": action, "assignee": assignee, "disposition": disposition, "reason": reason})
    targets: dict[str, int] = {}
    for item in sel:
        alert_id, _, version = item.rpartition(":")
        if not alert_id or not version.isdigit():
            raise PageError(422, "err_selection", item=item)
        targets[alert_id] = int(version)
    store = request.app.state.store
    for alert_id in list(targets):
        a = store.get_alert(alert_id)
        if a is None or not view.in_scope(a.labels):
            targets.pop(alert_id)
    results = apply_bulk(store, targets, act, principal.name, request.app.state.audit)
    ok = sum(1 for r in results if r.ok)
    kept = urlencode([(k, v) for k, v in parse_qsl(back) if k not in ("done", "lang")])
    return see_other(f"/console/alerts?{kept + '&' if kept else ''}done={ok}-{len(sel) - ok}")


def _case_from_selection(request: Request, actor: str, view: RoleView, alert_ids: list[str]) -> Response:
    """Open one case of the selected alerts (each must be visible to the caller) and show it."""
    first = request.app.state.store.get_alert(alert_ids[0]) if alert_ids else None
    if first is None:
        raise PageError(404, "err_no_alert", id=alert_ids[0] if alert_ids else "")
    more = f" (+{len(alert_ids) - 1})" if len(alert_ids) > 1 else ""
    title, _ = rule_texts(request.app.state.settings.rules_dir, language(request))
    data = CaseIn(title=f"{title(first.rule)}{more}"[:300], severity=first.severity, alert_ids=alert_ids)
    case = open_case(request, view, data, actor)
    return see_other(f"/console/cases/{case.id}")
