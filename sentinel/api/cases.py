"""/api/cases: alerts grouped into investigations, scoped and versioned like alerts.

A case is visible to a caller when its place labels (those its alerts share)
are within the caller's scope; alerts are added only when the caller can see
them. Changes are :class:`~sentinel.respond.cases.CaseAction`\\ s carrying the
version the caller saw: a stale one answers 409 with the current version.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from sentinel.api.auth import current_principal
from sentinel.api.errors import unprocessable
from sentinel.api.scope import visible_alert
from sentinel.api.views import forbidden, role_view
from sentinel.errors import VersionConflict
from sentinel.identity import Principal
from sentinel.models import Alert
from sentinel.policy import AccessDenied, RoleView
from sentinel.respond import Case, CaseAction, CaseIn, CaseStore, Suggestion, case_changes, new_case, suggest
from sentinel.store import AlertQuery, InvalidChange

SUGGESTION_ALERTS = 2000

router = APIRouter(prefix="/api/cases", tags=["cases"])
Caller = Annotated[Principal, Depends(current_principal)]
View = Annotated[RoleView, Depends(role_view)]


def case_store(request: Request) -> CaseStore:
    """The app's case store, opened on first use in ``data_dir/cases.db``."""
    state = request.app.state
    if getattr(state, "cases", None) is None:
        state.cases = CaseStore(state.settings.cases_db_path)
    return state.cases


def visible_case(request: Request, view: RoleView, case_id: str) -> Case:
    """The case if the caller's scope covers it; 404 otherwise (no hint that it exists)."""
    case = case_store(request).get(case_id)
    if case is None or not view.in_scope(case.labels):
        raise HTTPException(status_code=404, detail=f"no case with id {case_id}")
    return case


def visible_cases(request: Request, view: RoleView, statuses: list[str] | None = None) -> list[Case]:
    return [c for c in case_store(request).list(statuses) if view.in_scope(c.labels)]


def open_case(request: Request, view: RoleView, data: CaseIn, actor: str) -> Case:
    """Create a case of alerts the caller can see (404 for any other)."""
    alerts = [visible_alert(request, view, a) for a in dict.fromkeys(data.alert_ids)]
    if not alerts:
        raise unprocessable("a case starts with at least one alert", "alert_ids")
    return case_store(request).create(new_case(data, alerts, actor))


def act_on_case(request: Request, view: RoleView, case_id: str, version: int, act: CaseAction, actor: str) -> Case:
    """Apply one action with the version the caller saw; VersionConflict and InvalidChange pass to the caller."""
    case = visible_case(request, view, case_id)
    alerts: list[Alert] | None = None
    if act.action in ("add_alerts", "remove_alert"):
        ids = list(case.alert_ids)
        if act.action == "add_alerts":
            ids += [a for a in act.alert_ids if a not in ids]
        else:
            if act.alert_ids[0] not in ids:
                raise InvalidChange(f"alert {act.alert_ids[0]} is not in the case")
            ids.remove(act.alert_ids[0])
        alerts = [visible_alert(request, view, a) for a in ids]
    return case_store(request).update(case_id, case_changes(case, act, actor, alerts), version, actor, act.action)


def suggestions(request: Request, view: RoleView, hours: int) -> list[Suggestion]:
    since = datetime.now(UTC) - timedelta(hours=hours)
    query = AlertQuery(status=["open", "acknowledged", "in_progress"], since=since, limit=SUGGESTION_ALERTS)
    alerts, _ = view.list_alerts(request.app.state.store, query)
    in_cases = set(case_store(request).cases_of([a.id for a in alerts]))
    return suggest(alerts, in_cases, timedelta(hours=hours))


# -- routes ------------------------------------------------------------------------------------------
class CaseActionIn(CaseAction):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)


class SuggestionOut(BaseModel):
    kind: str
    key: str
    field: str
    title: str
    severity: str
    alert_ids: list[str]


@router.get("", response_model=list[Case])
def list_cases(
    request: Request,
    view: View,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
) -> list[Case]:
    """Cases in the caller's scope, most recently changed first."""
    try:
        view.require_read()
    except AccessDenied as exc:
        raise forbidden(exc) from None
    return visible_cases(request, view, status or None)


@router.post("", response_model=Case, status_code=201)
def create_case(data: CaseIn, request: Request, principal: Caller, view: View) -> Case:
    return open_case(request, view, data, principal.name)


@router.get("/suggestions", response_model=list[SuggestionOut])
def case_suggestions(
    request: Request, view: View, hours: Annotated[int, Query(ge=1, le=24 * 30)] = 24
) -> list[SuggestionOut]:
    """Alerts that share an entity, or one rule's alerts for many entities, within ``hours``, not yet in a case."""
    return [
        SuggestionOut(
            kind=s.kind,
            key=s.key,
            field=s.field,
            title=s.title,
            severity=s.severity,
            alert_ids=[a.id for a in s.alerts],
        )
        for s in suggestions(request, view, hours)
    ]


@router.get("/{case_id}")
def get_case(case_id: str, request: Request, view: View) -> dict[str, Any]:
    """The case and its timeline (every change, who and when)."""
    case = visible_case(request, view, case_id)
    return {"case": case.model_dump(), "timeline": case_store(request).history(case_id)}


@router.post("/{case_id}/actions", response_model=Case)
def case_action(case_id: str, body: CaseActionIn, request: Request, principal: Caller, view: View) -> Case:
    act = CaseAction.model_validate(body.model_dump(exclude={"version"}))
    try:
        return act_on_case(request, view, case_id, body.version, act, principal.name)
    except VersionConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except InvalidChange as exc:
        raise unprocessable(str(exc)) from None
