"""One alert's page: evidence, timeline, playbooks, and the forms that change it or start a run.

Every form carries the version the page showed, so a stale form gets a
conflict notice instead of overwriting someone else's change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from sentinel import ecs
from sentinel.api.console.eventsearch import entity_links
from sentinel.api.console.i18n import language
from sentinel.api.console.pages import Caller, PageError, Stage, View, console_router, guarded, require, see_other
from sentinel.api.console.rendering import render
from sentinel.api.console.rules import attack_tags
from sentinel.api.respond import ANALYST_ROLES, LEAD_ROLES
from sentinel.api.scope import visible_alert
from sentinel.errors import VersionConflict
from sentinel.respond import AlertAction, alert_place, apply_action

router = console_router()


def action_from_form(form: dict[str, Any]) -> AlertAction:
    data = {k: v for k, v in form.items() if v not in (None, "", [])}
    if "tags" in data and isinstance(data["tags"], str):
        data["tags"] = [t for t in data["tags"].replace(",", " ").split() if t]
    try:
        return AlertAction.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PageError(422, detail=err["msg"].removeprefix("Value error, ")) from None


def _timeline(history: list[Any], runs: list[Any], notifications: list[dict]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for h in history:
        changes = []
        for key, after in h.after.items():
            if key == "notes":
                note = after[-1] if isinstance(after, list) and after else None
                changes.append(("note", "", note.get("text", "") if isinstance(note, dict) else ""))
            else:
                changes.append((key, h.before.get(key), after))
        items.append({"at": h.at, "who": h.actor, "kind": "change", "action": h.action, "changes": changes})
    for r in runs:
        items.append({"at": r.started_at, "who": r.started_by, "kind": "run", "action": r.playbook_name, "run": r})
    for n in notifications:
        items.append({"at": n["at"], "who": "sentinel", "kind": "notify", "action": n["channel"], "n": n})
    return sorted(items, key=lambda i: i["at"], reverse=True)


@router.get("/alerts/{alert_id}")
@guarded
def alert_page(
    alert_id: str, request: Request, principal: Caller, view: View, stage: Stage, conflict: str = ""
) -> Response:
    alert = visible_alert(request, view, alert_id)
    doc = view.mask_alert(alert.to_doc())
    runs = stage.runner.list(alert_id=alert_id)
    store = request.app.state.store
    province, commune = alert_place(alert)
    return render(
        request,
        "alert.html",
        principal,
        alert=alert,
        doc=doc,
        province=province,
        commune=commune,
        entities=entity_links(doc.get("entity"), view),
        attack=attack_tags(alert.rule.tags, language(request)),
        events=[_evidence(e) for e in doc.get("events") or []],
        masked=bool(view.hidden),
        timeline=_timeline(store.alert_history(alert_id), runs, stage.escalator.history(alert_id)),
        playbooks=stage.playbooks.for_alert(alert),
        runs=runs,
        conflict=conflict,
        can_act=principal.role in ANALYST_ROLES,
        can_live=principal.role in LEAD_ROLES,
    )


EVIDENCE_FIELDS = (
    "event.dataset",
    "source.ip",
    "user.name",
    "http.request.method",
    "url.original",
    "http.response.status_code",
    "user_agent.original",
    "labels.province",
    "labels.commune",
)


def _evidence(event: dict[str, Any]) -> dict[str, Any]:
    flat = ecs.flatten(event)
    return {
        "ts": event.get("@timestamp"),
        "id": ecs.get_field(event, "event.id"),
        "fields": [(f, flat[f]) for f in EVIDENCE_FIELDS if flat.get(f) not in (None, "")],
        "original": ecs.get_field(event, "event.original") or ecs.get_field(event, "message"),
        "all": sorted(flat.items()),
    }


@router.post("/alerts/{alert_id}/action")
@guarded
def alert_action(
    alert_id: str,
    request: Request,
    principal: Caller,
    view: View,
    version: Annotated[int, Form()],
    action: Annotated[str, Form()],
    assignee: Annotated[str, Form()] = "",
    disposition: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
    severity: Annotated[str, Form()] = "",
) -> Response:
    require(principal, ANALYST_ROLES, "may_change_alerts")
    visible_alert(request, view, alert_id)
    act = action_from_form(
        {
            "action": action,
            "assignee": assignee,
            "disposition": disposition,
            "reason": reason,
            "text": text,
            "tags": tags,
            "severity": severity,
        }
    )
    try:
        apply_action(request.app.state.store, alert_id, version, act, principal.name, request.app.state.audit)
    except VersionConflict as exc:
        return see_other(f"/console/alerts/{alert_id}?conflict={exc.actual}")
    return see_other(f"/console/alerts/{alert_id}")


@router.post("/alerts/{alert_id}/runs")
@guarded
def alert_run(
    alert_id: str,
    request: Request,
    principal: Caller,
    view: View,
    stage: Stage,
    playbook_id: Annotated[str, Form()],
    mode: Annotated[str, Form()] = "dry",
) -> Response:
    live = mode == "live"
    require(principal, LEAD_ROLES if live else ANALYST_ROLES, "may_run_live" if live else "may_run_playbooks")
    visible_alert(request, view, alert_id)
    run = stage.runner.start(playbook_id, alert_id, principal.name, dry_run=not live)
    return see_other(f"/console/runs/{run.id}")
