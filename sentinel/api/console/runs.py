"""Playbook runs: those awaiting approval, one run's steps, and the approve/reject decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from sentinel.api.console.pages import Caller, Stage, View, console_router, guarded, require, see_other
from sentinel.api.console.rendering import render
from sentinel.api.respond import ANALYST_ROLES, LEAD_ROLES
from sentinel.api.scope import visible_run, visible_runs
from sentinel.errors import VersionConflict

router = console_router()


@router.get("/runs")
@guarded
def runs_page(request: Request, principal: Caller, view: View, stage: Stage) -> Response:
    runs = visible_runs(request, view, stage.runner.list(status="awaiting_approval", limit=5000))[:100]
    return render(request, "runs.html", principal, runs=runs)


@router.get("/runs/{run_id}")
@guarded
def run_page(
    run_id: str, request: Request, principal: Caller, view: View, stage: Stage, conflict: str = ""
) -> Response:
    run = visible_run(request, view, stage, run_id)
    pb = stage.playbooks.get(run.playbook_id)
    pending = pb.workflow.get(run.pending_step) if pb and run.pending_step else None
    spec = stage.runner.actions.get(getattr(pending, "action", "")) if pending else None
    needs_lead = bool(spec and spec.side_effect)
    return render(
        request,
        "run.html",
        principal,
        run=run,
        pending=pending,
        conflict=conflict,
        can_decide=principal.role in (LEAD_ROLES if needs_lead else ANALYST_ROLES),
    )


@router.post("/runs/{run_id}/decision")
@guarded
def run_decision(
    run_id: str,
    request: Request,
    principal: Caller,
    view: View,
    stage: Stage,
    version: Annotated[int, Form()],
    decision: Annotated[str, Form()],
    comment: Annotated[str, Form()] = "",
) -> Response:
    run = visible_run(request, view, stage, run_id)
    pb = stage.playbooks.get(run.playbook_id)
    step = pb.workflow.get(run.pending_step or "") if pb else None
    spec = stage.runner.actions.get(getattr(step, "action", "")) if step else None
    require(principal, LEAD_ROLES if spec and spec.side_effect else ANALYST_ROLES, "may_decide_step")
    try:
        stage.runner.decide(run_id, version, principal.name, decision == "approve", comment[:2000])
    except VersionConflict as exc:
        return see_other(f"/console/runs/{run_id}?conflict={exc.actual}")
    return see_other(f"/console/runs/{run_id}")
