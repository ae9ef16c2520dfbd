"""Response JSON API: analyst actions and bulk actions on alerts, playbooks and their runs, suppressions,
notification log, shift reports.

Writes carry the version the caller read (``If-Match``, or per alert in bulk
requests) and a stale one gets 409, as for ``PATCH /api/alerts/{id}``. Alert
content returned here goes through the caller's data-policy view (scope and
masking), like every other alert route.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from sentinel.api.auth import current_principal
from sentinel.api.errors import unprocessable
from sentinel.api.scope import (
    ScopedAlert,
    ScopedRun,
    ScopedSuppression,
    Stage,
    View,
    author_scope,
    visible_alert,
    visible_audit,
    visible_runs,
    visible_suppressions,
)
from sentinel.errors import NotFound, VersionConflict
from sentinel.identity import Principal
from sentinel.respond import (
    AlertAction,
    Run,
    RunError,
    Suppression,
    apply_action,
    apply_bulk,
    parse_suppression,
    shift_report,
)
from sentinel.store import InvalidChange

router = APIRouter(prefix="/api", tags=["response"])

# Who may change alerts and start playbooks; who may approve side effects and mute detections.
ANALYST_ROLES = frozenset({"admin", "soc_lead", "soc_analyst"})
LEAD_ROLES = frozenset({"admin", "soc_lead"})


Caller = Annotated[Principal, Depends(current_principal)]


def require_role(principal: Principal, roles: frozenset[str], what: str) -> None:
    if principal.role not in roles:
        raise HTTPException(
            status_code=403, detail=f"role {principal.role} may not {what}; needs one of {', '.join(sorted(roles))}"
        )


def if_match_version(if_match: str | None) -> int:
    """The version an ``If-Match`` header names; 428 when missing, 400 when unreadable."""
    if not if_match:
        raise HTTPException(status_code=428, detail="send If-Match with the ETag you read, so no update is lost")
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise HTTPException(status_code=400, detail=f"If-Match {if_match!r} is not a version") from None


# -- analyst actions ---------------------------------------------------------------------------------
@router.post("/alerts/{alert_id}/actions")
def act_on_alert(
    alert_id: str,
    act: AlertAction,
    request: Request,
    response: Response,
    principal: Caller,
    view: View,
    scoped: ScopedAlert,
    if_match: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Acknowledge, start, close (disposition + reason), reopen, assign, note, tag, untag or rate one alert."""
    require_role(principal, ANALYST_ROLES, "change alerts")
    expected = if_match_version(if_match)
    try:
        alert = apply_action(request.app.state.store, alert_id, expected, act, principal.name, request.app.state.audit)
    except NotFound:
        raise HTTPException(status_code=404, detail=f"no alert with id {alert_id}") from None
    except VersionConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except InvalidChange as exc:
        raise unprocessable(str(exc)) from None
    response.headers["ETag"] = f'"{alert.version}"'
    return view.mask_alert(alert.to_doc())


class BulkIn(BaseModel):
    alerts: dict[str, int] = Field(min_length=1, max_length=1000, description="alert id -> the version you read")
    action: AlertAction


@router.post("/alerts/bulk")
def bulk_action(body: BulkIn, request: Request, principal: Caller, view: View) -> dict[str, Any]:
    """Apply one action to many alerts; each succeeds or fails (404/409/422) on its own."""
    require_role(principal, ANALYST_ROLES, "change alerts")
    store = request.app.state.store
    targets = {}
    results = []
    for alert_id, version in body.alerts.items():
        alert = store.get_alert(alert_id)
        if alert is None or not view.in_scope(alert.labels):
            results.append({"alert_id": alert_id, "ok": False, "status": 404, "detail": f"no alert with id {alert_id}"})
        else:
            targets[alert_id] = version
    results += [asdict(o) for o in apply_bulk(store, targets, body.action, principal.name, request.app.state.audit)]
    return {
        "ok": sum(1 for r in results if r["ok"]),
        "failed": sum(1 for r in results if not r["ok"]),
        "results": results,
    }


@router.get("/alerts/{alert_id}/notifications")
def alert_notifications(alert: ScopedAlert, stage: Stage) -> list[dict]:
    return stage.escalator.history(alert.id)


# -- playbooks and runs ----------------------------------------------------------------------------
@router.get("/playbooks")
def list_playbooks(principal: Caller, stage: Stage) -> list[dict[str, Any]]:
    return [
        {
            "id": pb.id,
            "name": pb.name,
            "description": pb.description,
            "playbook_types": pb.playbook_types,
            "triggers": pb.x_sentinel_triggers.model_dump(),
            "steps": len(pb.workflow),
        }
        for pb in stage.playbooks.by_id.values()
    ]


@router.get("/playbooks/{playbook_id}")
def get_playbook(playbook_id: str, principal: Caller, stage: Stage) -> dict[str, Any]:
    pb = stage.playbooks.get(playbook_id)
    if pb is None:
        raise HTTPException(status_code=404, detail=f"no playbook {playbook_id}")
    return pb.model_dump(mode="json")


@router.get("/alerts/{alert_id}/playbooks")
def playbooks_for_alert(alert: ScopedAlert, stage: Stage) -> list[dict[str, str]]:
    return [{"id": pb.id, "name": pb.name} for pb in stage.playbooks.for_alert(alert)]


class RunIn(BaseModel):
    playbook_id: str
    alert_id: str
    dry_run: bool = Field(True, description="render side effects without doing them (the default)")


def _run_out(run: Run, response: Response) -> dict[str, Any]:
    response.headers["ETag"] = f'"{run.version}"'
    return run.model_dump()


@router.post("/runs", status_code=201)
def start_run(
    body: RunIn, request: Request, response: Response, principal: Caller, view: View, stage: Stage
) -> dict[str, Any]:
    """Start a playbook on an alert. Live runs (``dry_run: false``) need a SOC lead."""
    require_role(
        principal,
        ANALYST_ROLES if body.dry_run else LEAD_ROLES,
        "start playbooks" if body.dry_run else "start live playbook runs",
    )
    visible_alert(request, view, body.alert_id)
    try:
        run = stage.runner.start(body.playbook_id, body.alert_id, principal.name, dry_run=body.dry_run)
    except RunError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return _run_out(run, response)


@router.get("/runs")
def list_runs(
    request: Request,
    view: View,
    stage: Stage,
    alert_id: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Runs of the alerts the caller sees (the scope is applied before the limit is counted)."""
    if alert_id is not None:
        visible_alert(request, view, alert_id)
    runs = stage.runner.list(alert_id=alert_id, status=status, limit=limit if not view.scope else 5000)
    return [r.model_dump() for r in visible_runs(request, view, runs)[:limit]]


@router.get("/runs/{run_id}")
def get_run(run: ScopedRun, response: Response) -> dict[str, Any]:
    return _run_out(run, response)


class DecisionIn(BaseModel):
    approve: bool
    comment: str = Field("", max_length=2000)


@router.post("/runs/{run_id}/decision")
def decide_run(
    run_id: str,
    run: ScopedRun,
    body: DecisionIn,
    response: Response,
    principal: Caller,
    stage: Stage,
    if_match: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Approve (the step then runs) or reject the step a run waits on. Side effects need a SOC lead."""
    expected = if_match_version(if_match)
    pending = stage.playbooks.get(run.playbook_id)
    step = pending.workflow.get(run.pending_step or "") if pending else None
    spec = stage.runner.actions.get(getattr(step, "action", "")) if step else None
    require_role(principal, LEAD_ROLES if spec and spec.side_effect else ANALYST_ROLES, "decide on this step")
    try:
        run = stage.runner.decide(run_id, expected, principal.name, body.approve, body.comment)
    except VersionConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except RunError as exc:
        raise unprocessable(str(exc)) from None
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return _run_out(run, response)


# -- suppressions ------------------------------------------------------------------------------------
@router.get("/suppressions", response_model=list[Suppression])
def list_suppressions(view: View, stage: Stage, include_expired: bool = False) -> list[Suppression]:
    """The suppressions within the caller's scope."""
    return visible_suppressions(view, stage.suppressions.list(include_expired=include_expired))


@router.post("/suppressions", status_code=201, response_model=Suppression)
def create_suppression(
    body: dict[str, Any], response: Response, principal: Caller, view: View, stage: Stage
) -> Suppression:
    """A suppression window or exception: ``rule_id`` and/or ``match``, a ``reason`` and an ``expires`` time.

    It matches only alerts within its author's scope (a provincial lead mutes their own province only).
    """
    require_role(principal, LEAD_ROLES, "create suppressions")
    try:
        spec = parse_suppression(body)
    except ValueError as exc:
        raise unprocessable(str(exc)) from None
    item = stage.suppressions.create(spec, principal.name, author_scope(view))
    response.headers["ETag"] = f'"{item.version}"'
    return item


class EndIn(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)


@router.post("/suppressions/{suppression_id}/end", response_model=Suppression)
def end_suppression(
    suppression_id: str,
    body: EndIn,
    principal: Caller,
    stage: Stage,
    scoped: ScopedSuppression,
    if_match: Annotated[str | None, Header()] = None,
) -> Suppression:
    require_role(principal, LEAD_ROLES, "end suppressions")
    expected = if_match_version(if_match)
    try:
        return stage.suppressions.end(suppression_id, expected, principal.name, body.reason)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except VersionConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


# -- reports and audit -------------------------------------------------------------------------------
@router.get("/reports/shifts")
def shifts(
    request: Request, view: View, stage: Stage, days: Annotated[int, Query(ge=1, le=90)] = 7
) -> list[dict[str, Any]]:
    """Alerts, time to acknowledge and time to close (median, p90, seconds) per shift over the last days,
    counting the alerts within the caller's scope only."""
    since = datetime.now(UTC) - timedelta(days=days)
    return shift_report(request.app.state.store, stage.config, since, labels=view.scope_labels)


@router.get("/response/audit")
def response_audit(
    request: Request,
    principal: Caller,
    view: View,
    stage: Stage,
    kind: str | None = None,
    record_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Who changed suppressions and playbook runs, when, with values before and after."""
    require_role(principal, LEAD_ROLES | {"auditor"}, "read the response audit")
    return visible_audit(request, view, stage, stage.db.audit_trail(kind, record_id, limit))
