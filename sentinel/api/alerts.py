"""/api/alerts: list, read and update alerts (optimistic concurrency with ETag / If-Match)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel

from sentinel.api.auth import Principal, current_principal
from sentinel.models import Alert, AlertChange
from sentinel.store.alert_ops import InvalidChange
from sentinel.store.base import AlertQuery, NotFound, VersionConflict

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


class AlertListOut(BaseModel):
    alerts: list[dict[str, Any]]
    total: int


@router.get("", response_model=AlertListOut)
def list_alerts(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    severity: Annotated[list[str], Query()] = [],  # noqa: B006
    rule_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AlertListOut:
    query = AlertQuery(
        status=status, severity=severity, rule_id=rule_id, since=since, until=until, limit=limit, offset=offset
    )
    store = request.app.state.store
    return AlertListOut(alerts=[a.to_doc() for a in store.list_alerts(query)], total=store.count_alerts(query))


def _etag(alert: Alert) -> str:
    return f'"{alert.version}"'


@router.get("/{alert_id}")
def get_alert(
    alert_id: str, request: Request, response: Response, principal: Annotated[Principal, Depends(current_principal)]
) -> dict[str, Any]:
    alert = request.app.state.store.get_alert(alert_id)
    if alert is None:
        raise HTTPException(status_code=404, detail=f"no alert with id {alert_id}")
    response.headers["ETag"] = _etag(alert)
    return alert.to_doc()


@router.get("/{alert_id}/history", response_model=list[AlertChange])
def alert_history(
    alert_id: str, request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> list[AlertChange]:
    if request.app.state.store.get_alert(alert_id) is None:
        raise HTTPException(status_code=404, detail=f"no alert with id {alert_id}")
    return request.app.state.store.alert_history(alert_id)


@router.patch("/{alert_id}")
def update_alert(
    alert_id: str,
    changes: dict[str, Any],
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(current_principal)],
    if_match: Annotated[str | None, Header(description="the ETag (version) you read")] = None,
) -> dict[str, Any]:
    """Change status, assignee, disposition, ... Requires ``If-Match`` with the version read; 409 when stale."""
    if not if_match:
        raise HTTPException(status_code=428, detail="send If-Match with the ETag you read, so no update is lost")
    try:
        expected = int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise HTTPException(status_code=400, detail=f"If-Match {if_match!r} is not an alert version") from None
    try:
        alert = request.app.state.store.update_alert(alert_id, changes, expected, actor=principal.name)
    except NotFound:
        raise HTTPException(status_code=404, detail=f"no alert with id {alert_id}") from None
    except VersionConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except InvalidChange as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    response.headers["ETag"] = _etag(alert)
    return alert.to_doc()
