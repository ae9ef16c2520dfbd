"""Suppressions: the list, and creating or ending one (leads only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from sentinel import ecs
from sentinel.api.console.pages import Caller, PageError, Stage, View, console_router, guarded, require, see_other
from sentinel.api.console.rendering import render
from sentinel.api.respond import LEAD_ROLES
from sentinel.api.scope import author_scope, visible_suppression, visible_suppressions
from sentinel.errors import VersionConflict
from sentinel.respond import parse_suppression

router = console_router()


@router.get("/suppressions")
@guarded
def suppressions_page(
    request: Request, principal: Caller, view: View, stage: Stage, rule: str = "", field: str = "", value: str = ""
) -> Response:
    return render(
        request,
        "suppressions.html",
        principal,
        items=visible_suppressions(view, stage.suppressions.list(include_expired=True, limit=200)),
        now=ecs.now_ts(),
        prefill={"rule": rule, "match": f"{field}={value}" if field and value else ""},
        can_edit=principal.role in LEAD_ROLES,
    )


def _parse_match(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        field, sep, values = line.partition("=")
        if not sep or not field.strip() or not values.strip():
            raise PageError(422, "err_match_line", n=n)
        out.setdefault(field.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return out


@router.post("/suppressions")
@guarded
def suppressions_create(
    request: Request,
    principal: Caller,
    view: View,
    stage: Stage,
    kind: Annotated[str, Form()],
    reason: Annotated[str, Form()],
    hours: Annotated[int, Form(ge=1, le=24 * 366)],
    rule_id: Annotated[str, Form()] = "",
    match: Annotated[str, Form()] = "",
) -> Response:
    require(principal, LEAD_ROLES, "may_create_suppressions")
    try:
        spec = parse_suppression(
            {
                "kind": kind,
                "rule_id": rule_id.strip() or None,
                "match": _parse_match(match),
                "reason": reason.strip(),
                "expires": datetime.now(UTC) + timedelta(hours=hours),
            }
        )
    except ValueError as exc:
        raise PageError(422, detail=str(exc)) from None
    stage.suppressions.create(spec, principal.name, author_scope(view))
    return see_other("/console/suppressions")


@router.post("/suppressions/{suppression_id}/end")
@guarded
def suppressions_end(
    suppression_id: str,
    request: Request,
    principal: Caller,
    view: View,
    stage: Stage,
    version: Annotated[int, Form()],
    reason: Annotated[str, Form()],
) -> Response:
    require(principal, LEAD_ROLES, "may_end_suppressions")
    visible_suppression(view, stage, suppression_id)
    try:
        stage.suppressions.end(suppression_id, version, principal.name, reason)
    except VersionConflict as exc:
        raise PageError(409, detail=str(exc)) from None
    except ValueError as exc:
        raise PageError(422, detail=str(exc)) from None
    return see_other("/console/suppressions")
