"""Case pages: the list with suggested groupings, one case with its alerts, tasks and timeline, and its forms.

Everything goes through the same functions as ``/api/cases`` (scope, alert
visibility, versions), so the console cannot do what the API refuses.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from sentinel.api.cases import act_on_case, case_store, open_case, suggestions, visible_case, visible_cases
from sentinel.api.console.eventsearch import entity_links, entity_url
from sentinel.api.console.pages import Caller, PageError, View, console_router, guarded, require, see_other
from sentinel.api.console.queue import user_names
from sentinel.api.console.rendering import render
from sentinel.api.respond import ANALYST_ROLES
from sentinel.errors import VersionConflict
from sentinel.respond import OBSERVABLE_FIELDS, CaseAction, CaseIn

router = console_router()
# the field an observable type is searched by, for the "search" link
SEARCH_FIELD = {kind: field for field, kind in reversed(OBSERVABLE_FIELDS.items())}


def _validation(exc: ValidationError) -> PageError:
    return PageError(422, detail=exc.errors()[0]["msg"].removeprefix("Value error, "))


@router.get("/cases")
@guarded
def cases_page(
    request: Request,
    principal: Caller,
    view: View,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    hours: Annotated[int, Query(ge=1, le=24 * 30)] = 24,
) -> Response:
    statuses = [] if status == ["all"] else (status or ["open", "in_progress"])
    return render(
        request,
        "cases.html",
        principal,
        cases=visible_cases(request, view, statuses),
        status=status,
        hours=hours,
        suggestions=suggestions(request, view, hours),
        can_act=principal.role in ANALYST_ROLES,
    )


@router.post("/cases")
@guarded
def cases_create(
    request: Request,
    principal: Caller,
    view: View,
    title: Annotated[str, Form()],
    severity: Annotated[str, Form()] = "medium",
    description: Annotated[str, Form()] = "",
    sel: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    require(principal, ANALYST_ROLES, "may_open_cases")
    try:
        data = CaseIn(title=title, severity=severity, description=description, alert_ids=sel)
    except ValidationError as exc:
        raise _validation(exc) from None
    case = open_case(request, view, data, principal.name)
    return see_other(f"/console/cases/{case.id}")


@router.get("/cases/{case_id}")
@guarded
def case_page(case_id: str, request: Request, principal: Caller, view: View, conflict: str = "") -> Response:
    case = visible_case(request, view, case_id)
    store = request.app.state.store
    alerts = []
    for alert_id in case.alert_ids:
        alert = store.get_alert(alert_id)
        if alert is not None and view.in_scope(alert.labels):
            doc = view.mask_alert({"entity": alert.entity, "group_key": alert.group_key, "events": []})
            alerts.append({"alert": alert, "entities": entity_links(doc.get("entity"), view)})
    observables = [
        {
            "type": o.type,
            "value": o.value,
            "alerts": len(o.alerts),
            "entity": entity_url(SEARCH_FIELD[o.type], o.value) if o.type in ("ip", "user", "host") else None,
            "field": SEARCH_FIELD.get(o.type),
        }
        for o in case.observables
        if not view.field_hidden(SEARCH_FIELD.get(o.type, ""))
    ]
    return render(
        request,
        "case.html",
        principal,
        case=case,
        alerts=alerts,
        observables=observables,
        timeline=list(reversed(case_store(request).history(case_id))),
        users=user_names(request),
        conflict=conflict,
        can_act=principal.role in ANALYST_ROLES,
    )


@router.post("/cases/{case_id}/action")
@guarded
def case_action(
    case_id: str,
    request: Request,
    principal: Caller,
    view: View,
    version: Annotated[int, Form()],
    action: Annotated[str, Form()],
    assignee: Annotated[str, Form()] = "",
    severity: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    alert_id: Annotated[str, Form()] = "",
    task: Annotated[str, Form()] = "",
    task_id: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
    resolution: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
) -> Response:
    require(principal, ANALYST_ROLES, "may_change_cases")
    fields: dict[str, Any] = {
        "action": action,
        "assignee": assignee if action == "assign" else None,
        "severity": severity or None,
        "description": description if action == "describe" else None,
        "alert_ids": [a.strip() for a in alert_id.replace(",", " ").split() if a.strip()],
        "task": task or None,
        "task_id": task_id or None,
        "owner": owner or None,
        "resolution": resolution or None,
        "summary": summary or None,
    }
    try:
        act = CaseAction.model_validate({k: v for k, v in fields.items() if v not in (None, [])})
    except ValidationError as exc:
        raise _validation(exc) from None
    try:
        act_on_case(request, view, case_id, version, act, principal.name)
    except VersionConflict as exc:
        return see_other(f"/console/cases/{case_id}?conflict={exc.actual}")
    except HTTPException as exc:
        if exc.status_code == 404 and action in ("add_alerts", "remove_alert"):
            raise PageError(422, detail=str(exc.detail)) from None
        raise
    return see_other(f"/console/cases/{case_id}")
