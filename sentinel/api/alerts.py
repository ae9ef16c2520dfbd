"""/api/alerts: list, read and update alerts (optimistic concurrency with ETag / If-Match)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel

from sentinel.api.auth import current_principal
from sentinel.api.errors import unprocessable
from sentinel.api.scope import visible_alert
from sentinel.api.views import forbidden, role_view
from sentinel.errors import NotFound, VersionConflict
from sentinel.identity import Principal
from sentinel.models import Alert, AlertChange
from sentinel.policy import AccessDenied, RoleView
from sentinel.respond import apply_patch
from sentinel.store import AlertQuery, InvalidChange

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


class AlertListOut(BaseModel):
    alerts: list[dict[str, Any]]
    total: int


@router.get("", response_model=AlertListOut)
def list_alerts(
    request: Request,
    view: Annotated[RoleView, Depends(role_view)],
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    severity: Annotated[list[str], Query()] = [],  # noqa: B006
    rule_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    province: Annotated[str | None, Query(description="alerts labelled with this province code")] = None,
    commune: Annotated[str | None, Query(description="alerts labelled with this commune code")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AlertListOut:
    labels = {k: v for k, v in (("province", province), ("commune", commune)) if v is not None}
    query = AlertQuery(
        status=status,
        severity=severity,
        rule_id=rule_id,
        since=since,
        until=until,
        labels=labels,
        limit=limit,
        offset=offset,
    )
    try:
        alerts, count = view.list_alerts(request.app.state.store, query)
    except AccessDenied as exc:
        raise forbidden(exc) from None
    return AlertListOut(alerts=[view.mask_alert(a.to_doc()) for a in alerts], total=count)


def _etag(alert: Alert) -> str:
    return f'"{alert.version}"'


@router.get("/{alert_id}")
def get_alert(
    alert_id: str, request: Request, response: Response, view: Annotated[RoleView, Depends(role_view)]
) -> dict[str, Any]:
    alert = visible_alert(request, view, alert_id)
    response.headers["ETag"] = _etag(alert)
    return view.mask_alert(alert.to_doc())


@router.get("/{alert_id}/history", response_model=list[AlertChange])
def alert_history(alert_id: str, request: Request, view: Annotated[RoleView, Depends(role_view)]) -> list[AlertChange]:
    visible_alert(request, view, alert_id)
    return request.app.state.store.alert_history(alert_id)


@router.patch("/{alert_id}")
def update_alert(
    alert_id: str,
    changes: dict[str, Any],
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(current_principal)],
    view: Annotated[RoleView, Depends(role_view)],
    if_match: Annotated[str | None, Header(description="the ETag (version) you read")] = None,
) -> dict[str, Any]:
    """Change status (closing: with a disposition and a reason), assignee, tags, severity, or add a note.

    Each change is the console's validated action (:func:`~sentinel.respond.lifecycle.actions_for_patch`):
    labels cannot be set and notes are only appended, under the caller's name. Requires ``If-Match``
    with the version read; 409 when stale.
    """
    if not if_match:
        raise HTTPException(status_code=428, detail="send If-Match with the ETag you read, so no update is lost")
    try:
        expected = int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise HTTPException(status_code=400, detail=f"If-Match {if_match!r} is not an alert version") from None
    visible_alert(request, view, alert_id)
    try:
        store, audit = request.app.state.store, request.app.state.audit
        alert = apply_patch(store, alert_id, expected, changes, principal.name, audit)
    except NotFound:
        raise HTTPException(status_code=404, detail=f"no alert with id {alert_id}") from None
    except VersionConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except InvalidChange as exc:
        raise unprocessable(str(exc)) from None
    response.headers["ETag"] = _etag(alert)
    return view.mask_alert(alert.to_doc())
