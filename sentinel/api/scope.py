"""Everything derived from an alert is scoped like the alert: the one set of dependencies every route uses.

An alert's scope is its place labels (province, commune). A playbook run is
seen, listed and decided on only by callers who see its alert; a suppression
carries its author's scope, matches only alerts inside it, and is seen or ended
only by callers whose scope holds it; reports and the response audit count only
what the caller may see. Out of scope is 404 (no hint the object exists
elsewhere); the role's permission is the permission table's (403).
Routes take these as FastAPI dependencies (:data:`ScopedAlert`, :data:`ScopedRun`,
:data:`ScopedSuppression`) or call the functions with ids from a form or body,
so there is one place where "may this caller see it" is decided.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from sentinel.api.views import role_view
from sentinel.content import ContentError
from sentinel.models import Alert
from sentinel.policy import RoleView
from sentinel.respond import ResponseService, Run, Suppression

_build_lock = threading.Lock()


def response_stage(request: Request) -> ResponseService:
    """The app's response stage, built on first use (playbooks, settings, ``respond.db``)."""
    state = request.app.state
    stage = getattr(state, "response", None)
    if stage is None:
        with _build_lock:
            stage = getattr(request.app.state, "response", None)
            if stage is None:
                try:
                    stage = ResponseService.build(state.settings, state.store, address_plan=state.runtime.address_plan)
                except ContentError as exc:
                    raise HTTPException(status_code=503, detail=f"response stage unavailable: {exc}") from None
                request.app.state.response = stage
    return stage


Stage = Annotated[ResponseService, Depends(response_stage)]
View = Annotated[RoleView, Depends(role_view)]


def visible_alert(request: Request, view: RoleView, alert_id: str) -> Alert:
    """The alert if it exists within the caller's scope; 404 otherwise (no hint that it exists elsewhere)."""
    alert = request.app.state.store.get_alert(alert_id)
    if alert is None or not view.in_scope(alert.labels):
        raise HTTPException(status_code=404, detail=f"no alert with id {alert_id}")
    return alert


def visible_run(request: Request, view: RoleView, stage: ResponseService, run_id: str) -> Run:
    """The run if its alert is within the caller's scope; 404 otherwise."""
    run = stage.runner.get(run_id)
    alert = request.app.state.store.get_alert(run.alert_id) if run is not None else None
    if run is None or alert is None or not view.in_scope(alert.labels):
        raise HTTPException(status_code=404, detail=f"no playbook run with id {run_id}")
    return run


def visible_runs(request: Request, view: RoleView, runs: Iterable[Run]) -> list[Run]:
    """The runs whose alerts the caller sees."""
    store = request.app.state.store
    seen: dict[str, bool] = {}
    out = []
    for run in runs:
        if run.alert_id not in seen:
            alert = store.get_alert(run.alert_id)
            seen[run.alert_id] = alert is not None and view.in_scope(alert.labels)
        if seen[run.alert_id]:
            out.append(run)
    return out


def visible_suppression(view: RoleView, stage: ResponseService, suppression_id: str) -> Suppression:
    """The suppression if it lies within the caller's scope; 404 otherwise."""
    item = stage.suppressions.get(suppression_id)
    if item is None or not view.in_scope(item.scope):
        raise HTTPException(status_code=404, detail=f"no suppression with id {suppression_id}")
    return item


def visible_suppressions(view: RoleView, items: Iterable[Suppression]) -> list[Suppression]:
    return [s for s in items if view.in_scope(s.scope)]


def author_scope(view: RoleView) -> dict[str, str]:
    """The place labels a suppression created by this caller is confined to (empty: national)."""
    return view.scope_labels


def visible_audit(request: Request, view: RoleView, stage: ResponseService, entries: list[dict]) -> list[dict]:
    """Response-audit entries about runs and suppressions the caller sees."""
    if not view.scope:
        return entries
    out = []
    for entry in entries:
        kind, record = entry.get("kind"), str(entry.get("record_id") or "")
        if kind == "run":
            run = stage.runner.get(record)
            alert = request.app.state.store.get_alert(run.alert_id) if run is not None else None
            ok = alert is not None and view.in_scope(alert.labels)
        elif kind == "suppression":
            item = stage.suppressions.get(record)
            ok = item is not None and view.in_scope(item.scope)
        else:
            ok = False  # a kind of record this module does not know how to scope is not shown to scoped callers
        if ok:
            out.append(entry)
    return out


def _scoped_alert(alert_id: str, request: Request, view: View) -> Alert:
    return visible_alert(request, view, alert_id)


def _scoped_run(run_id: str, request: Request, view: View, stage: Stage) -> Run:
    return visible_run(request, view, stage, run_id)


def _scoped_suppression(suppression_id: str, view: View, stage: Stage) -> Suppression:
    return visible_suppression(view, stage, suppression_id)


ScopedAlert = Annotated[Alert, Depends(_scoped_alert)]
ScopedRun = Annotated[Run, Depends(_scoped_run)]
ScopedSuppression = Annotated[Suppression, Depends(_scoped_suppression)]
