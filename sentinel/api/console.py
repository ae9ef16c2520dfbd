"""The web console: server-rendered pages for SOC analysts and data-protection officers.

Pages are Jinja2 templates with plain HTML forms (no front-end build); charts
are SVG drawn on the server. Everything shown goes through autoescaping, and
pages carry a strict Content-Security-Policy, because log lines and notes are
attacker- or user-controlled text. The acting user is the request's
:class:`~sentinel.api.auth.Principal`; alert content is scoped and masked by
the caller's data-policy view, as in the JSON API. Every form that changes an
alert or a run carries the version the page showed, so a stale form gets a
conflict page instead of overwriting someone else's change.

Language: ``?lang=vi|en`` (remembered in a cookie), else the cookie, else
``Accept-Language``; Vietnamese by default.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache, wraps
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from sentinel import ecs
from sentinel.api.auth import Principal, current_principal
from sentinel.api.classifications import READERS, REVIEWERS, classification_store
from sentinel.api.respond import ANALYST_ROLES, LEAD_ROLES, response_stage, visible_alert
from sentinel.classify.review import NotFoundError, ReviewError, ReviewIn, StaleVersion
from sentinel.content import load_model
from sentinel.models import Alert
from sentinel.policy.access import RoleView
from sentinel.policy.http import role_view
from sentinel.respond import dashboard
from sentinel.respond.fields import alert_place
from sentinel.respond.lifecycle import AlertAction, apply_action, apply_bulk
from sentinel.respond.reports import shift_rows
from sentinel.respond.runner import RunError
from sentinel.respond.service import Response as ResponseStage
from sentinel.respond.suppress import parse_suppression
from sentinel.store.alert_ops import InvalidChange
from sentinel.store.base import AlertQuery, NotFound, VersionConflict

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LANGS = ("vi", "en")
QUEUE_LIMIT = 2000
PAGE_SIZE = 100
DASHBOARD_LIMIT = 5000
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

router = APIRouter(prefix="/console", include_in_schema=False)


Stage = Annotated[ResponseStage, Depends(response_stage)]
# a browser without a session is redirected to the login page by the app-wide authorisation
Caller = Annotated[Principal, Depends(current_principal)]
View = Annotated[RoleView, Depends(role_view)]


class Catalogue(BaseModel):
    """The message catalogue: each key in every console language."""

    model_config = ConfigDict(extra="forbid")

    messages: dict[str, dict[str, str]]

    @model_validator(mode="after")
    def _complete(self) -> Catalogue:
        for key, texts in self.messages.items():
            missing = [lang for lang in LANGS if not texts.get(lang)]
            if missing:
                raise ValueError(f"message {key} has no {', '.join(missing)} text")
        return self


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    return load_model(TEMPLATES / "i18n.yml", Catalogue).messages


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = _duration
    env.filters["pretty"] = _pretty
    return env


def _short_time(value: str | None, tz: tzinfo) -> str:
    """A stored UTC timestamp in the SOC's time zone."""
    if not value:
        return "-"
    try:
        t = ecs.parse_ts(value).astimezone(tz)
    except ValueError:
        return str(value)
    return t.strftime("%d/%m/%Y %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode()


def language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    cookie = request.cookies.get("sentinel_lang")
    if cookie in LANGS:
        return cookie
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return "vi"


def translator(lang: str) -> Callable[..., str]:
    messages = catalogue()

    def t(key: str, **values: Any) -> str:
        texts = messages.get(key)
        text = texts[lang] if texts else key
        return text.format(**values) if values else text

    return t


def render(request: Request, template: str, principal: Principal, status_code: int = 200, **context: Any) -> Response:
    lang = language(request)
    stage = getattr(request.app.state, "response", None)
    tz = stage.config.tz if stage is not None else UTC
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            principal=principal,
            lang=lang,
            t=translator(lang),
            dt=lambda value: _short_time(value, tz),
            csrf_field=lambda: _csrf_field(request),
            csrf_token=getattr(request.state, "session_csrf", None) or "",
            path=request.url.path,
            **context,
        )
    )
    resp = HTMLResponse(html, status_code=status_code)
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["Cache-Control"] = "no-store"
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie("sentinel_lang", lang, max_age=365 * 86400, samesite="strict", httponly=True)
    return resp


def _csrf_field(request: Request) -> Markup:
    """The hidden CSRF input every POST form carries when the caller has a console session."""
    token = getattr(request.state, "session_csrf", None)
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token) if token else Markup("")


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def guarded(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Render expected failures (403, 404, 409, 422) as a console page instead of JSON."""

    @wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return handler(*args, **kwargs)
        except PageError as exc:
            status, message = exc.status, exc.message
        except HTTPException as exc:
            status, message = exc.status_code, str(exc.detail)
        except NotFound as exc:
            status, message = 404, str(exc)
        except (InvalidChange, RunError) as exc:
            status, message = 422, str(exc)
        return render(
            kwargs["request"], "error.html", kwargs["principal"], status_code=status, status=status, message=message
        )

    return wrapper


def require(principal: Principal, roles: frozenset[str], what: str) -> None:
    if principal.role not in roles:
        raise PageError(403, f"role {principal.role} may not {what}")


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- static files and home -----------------------------------------------------------------------
@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise HTTPException(status_code=404, detail="no such file")
    return FileResponse(path, headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})


@router.get("")
@router.get("/")
def home(principal: Caller) -> RedirectResponse:
    """Data-protection officers start on their review page, everyone else on the alert queue."""
    return see_other("/console/dpo" if principal.role == "dpo" else "/console/alerts")


# -- queue -------------------------------------------------------------------------------------------
def _row(alert: Alert, view: RoleView) -> dict[str, Any]:
    """One queue line; the entity is shown as the caller's policy view masks it."""
    province, commune = alert_place(alert)
    return {"alert": alert, "province": province, "commune": commune, "entity": _entity_text(alert, view)}


def _entity_text(alert: Alert, view: RoleView) -> str:
    doc = view.mask_alert({"entity": alert.entity, "group_key": alert.group_key, "events": []})
    return ", ".join(f"{k}={v}" for k, v in (doc.get("entity") or {}).items()) or doc.get("group_key") or "-"


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
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """Alert queue, PAGE_SIZE per page, newest activity first.

    The store filters status, severity, rule and time; province and assignee are
    filtered here over at most QUEUE_LIMIT newest matching alerts (said on the page).
    """
    statuses = status or ["open", "acknowledged", "in_progress"]
    if status == ["all"]:
        statuses = []
    # Informational alerts (base rules feeding correlations) stay out of the default queue.
    severities = severity or ["low", "medium", "high", "critical"]
    since = datetime.now(UTC) - timedelta(days=days)
    store = request.app.state.store
    query = AlertQuery(status=statuses, severity=severities, rule_id=rule or None, since=since)
    local = bool(province or assignee)
    if local or group == "rule":
        query.limit = QUEUE_LIMIT
        alerts, total = view.list_alerts(store, query)
        every = [_row(a, view) for a in alerts]
        if province:
            every = [r for r in every if r["province"] == province]
        if assignee:
            every = [r for r in every if (r["alert"].assignee or "") == assignee]
        if local:
            total = len(every)
        rows = every[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    else:
        query.limit, query.offset = PAGE_SIZE, (page - 1) * PAGE_SIZE
        alerts, total = view.list_alerts(store, query)
        every = rows = [_row(a, view) for a in alerts]
    pages = max(1, -(-total // PAGE_SIZE))
    groups = _group_by_rule(every) if group == "rule" else []
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
        provinces=sorted({r["province"] for r in every if r["province"]}),
        done=done,
        page=page,
        pages=pages,
        capped=local and len(alerts) >= QUEUE_LIMIT,
        queue_limit=QUEUE_LIMIT,
        hides_informational=not severity,
        prev_url=str(request.url.include_query_params(page=page - 1)) if page > 1 else None,
        next_url=str(request.url.include_query_params(page=page + 1)) if page < pages else None,
    )


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


def _action_from_form(form: dict[str, Any]) -> AlertAction:
    data = {k: v for k, v in form.items() if v not in (None, "", [])}
    if "tags" in data and isinstance(data["tags"], str):
        data["tags"] = [t for t in data["tags"].replace(",", " ").split() if t]
    try:
        return AlertAction.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PageError(422, err["msg"].removeprefix("Value error, ")) from None


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
) -> Response:
    require(principal, ANALYST_ROLES, "change alerts")
    if not sel:
        raise PageError(422, "select at least one alert")
    act = _action_from_form({"action": action, "assignee": assignee, "disposition": disposition, "reason": reason})
    targets: dict[str, int] = {}
    for item in sel:
        alert_id, _, version = item.rpartition(":")
        if not alert_id or not version.isdigit():
            raise PageError(422, f"malformed selection {item!r}")
        targets[alert_id] = int(version)
    store = request.app.state.store
    for alert_id in list(targets):
        a = store.get_alert(alert_id)
        if a is None or not view.in_scope(a.labels):
            targets.pop(alert_id)
    results = apply_bulk(store, targets, act, principal.name)
    ok = sum(1 for r in results if r.ok)
    return see_other(f"/console/alerts?done={ok}-{len(sel) - ok}")


# -- alert detail ----------------------------------------------------------------------------------
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
        entity=", ".join(f"{k}={v}" for k, v in (doc.get("entity") or {}).items()) or "-",
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
    require(principal, ANALYST_ROLES, "change alerts")
    visible_alert(request, view, alert_id)
    act = _action_from_form(
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
        apply_action(request.app.state.store, alert_id, version, act, principal.name)
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
    require(principal, LEAD_ROLES if live else ANALYST_ROLES, "start live playbook runs" if live else "run playbooks")
    visible_alert(request, view, alert_id)
    run = stage.runner.start(playbook_id, alert_id, principal.name, dry_run=not live)
    return see_other(f"/console/runs/{run.id}")


# -- runs ------------------------------------------------------------------------------------------------
@router.get("/runs")
@guarded
def runs_page(request: Request, principal: Caller, stage: Stage) -> Response:
    return render(request, "runs.html", principal, runs=stage.runner.list(status="awaiting_approval"))


@router.get("/runs/{run_id}")
@guarded
def run_page(
    run_id: str, request: Request, principal: Caller, view: View, stage: Stage, conflict: str = ""
) -> Response:
    run = stage.runner.get(run_id)
    if run is None:
        raise PageError(404, f"no playbook run with id {run_id}")
    visible_alert(request, view, run.alert_id)
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
    run = stage.runner.get(run_id)
    if run is None:
        raise PageError(404, f"no playbook run with id {run_id}")
    visible_alert(request, view, run.alert_id)
    pb = stage.playbooks.get(run.playbook_id)
    step = pb.workflow.get(run.pending_step or "") if pb else None
    spec = stage.runner.actions.get(getattr(step, "action", "")) if step else None
    require(principal, LEAD_ROLES if spec and spec.side_effect else ANALYST_ROLES, "decide on this step")
    try:
        stage.runner.decide(run_id, version, principal.name, decision == "approve", comment[:2000])
    except VersionConflict as exc:
        return see_other(f"/console/runs/{run_id}?conflict={exc.actual}")
    return see_other(f"/console/runs/{run_id}")


# -- suppressions ----------------------------------------------------------------------------------
@router.get("/suppressions")
@guarded
def suppressions_page(
    request: Request, principal: Caller, stage: Stage, rule: str = "", field: str = "", value: str = ""
) -> Response:
    return render(
        request,
        "suppressions.html",
        principal,
        items=stage.suppressions.list(include_expired=True, limit=200),
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
            raise PageError(422, f"match line {n}: write field=value (several values separated by commas)")
        out.setdefault(field.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return out


@router.post("/suppressions")
@guarded
def suppressions_create(
    request: Request,
    principal: Caller,
    stage: Stage,
    kind: Annotated[str, Form()],
    reason: Annotated[str, Form()],
    hours: Annotated[int, Form(ge=1, le=24 * 366)],
    rule_id: Annotated[str, Form()] = "",
    match: Annotated[str, Form()] = "",
) -> Response:
    require(principal, LEAD_ROLES, "create suppressions")
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
        raise PageError(422, str(exc)) from None
    stage.suppressions.create(spec, principal.name)
    return see_other("/console/suppressions")


@router.post("/suppressions/{suppression_id}/end")
@guarded
def suppressions_end(
    suppression_id: str,
    request: Request,
    principal: Caller,
    stage: Stage,
    version: Annotated[int, Form()],
    reason: Annotated[str, Form()],
) -> Response:
    require(principal, LEAD_ROLES, "end suppressions")
    try:
        stage.suppressions.end(suppression_id, version, principal.name, reason)
    except VersionConflict as exc:
        raise PageError(409, str(exc)) from None
    except ValueError as exc:
        raise PageError(422, str(exc)) from None
    return see_other("/console/suppressions")


# -- dashboard -------------------------------------------------------------------------------------
@router.get("/dashboard")
@guarded
def dashboard_page(
    request: Request, principal: Caller, view: View, stage: Stage, days: Annotated[int, Query(ge=1, le=90)] = 7
) -> Response:
    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    alerts, total = view.list_alerts(request.app.state.store, AlertQuery(since=since, limit=DASHBOARD_LIMIT))
    masked_sources = dashboard.top_sources(alerts) if not view.field_hidden("source.ip") else None
    coverage = classification_store(request).list_datasets() if principal.role in READERS else None
    return render(
        request,
        "dashboard.html",
        principal,
        days=days,
        total=total,
        sampled=len(alerts),
        chart=dashboard.over_time(alerts, now, days, stage.config.tz),
        chart_province=dashboard.over_time(alerts, now, days, stage.config.tz, series=dashboard.province_of),
        provinces=dashboard.horizontal(dashboard.by_province(alerts)),
        sources=dashboard.horizontal(masked_sources) if masked_sources is not None else None,
        statuses=dashboard.status_counts(alerts),
        shifts=shift_rows(alerts, stage.config, now)[-14:],
        coverage=coverage,
    )


# -- data-protection officer review -------------------------------------------------------------------
def _classifications(request: Request, principal: Principal, roles: set[str], what: str) -> Any:
    if principal.role not in roles:
        raise PageError(403, f"role {principal.role} may not {what}")
    return classification_store(request)


@router.get("/dpo")
@guarded
def dpo_page(request: Request, principal: Caller, contains: str = "") -> Response:
    """Datasets with their latest scan and review progress."""
    store = _classifications(request, principal, READERS, "read classifications")
    return render(request, "dpo.html", principal, datasets=store.list_datasets(contains or None), contains=contains)


@router.get("/dpo/{dataset:path}")
@guarded
def dpo_dataset(request: Request, principal: Caller, dataset: str, conflict: str = "") -> Response:
    store = _classifications(request, principal, READERS, "read classifications")
    try:
        view = store.dataset_view(dataset)
    except NotFoundError as exc:
        raise PageError(404, str(exc)) from None
    return render(
        request,
        "dpo_dataset.html",
        principal,
        view=view,
        dataset=dataset,
        conflict=conflict,
        can_review=principal.role in REVIEWERS,
        entities=sorted(store.taxonomy.entities),
    )


@router.post("/dpo-review")
@guarded
def dpo_review(
    request: Request,
    principal: Caller,
    dataset: Annotated[str, Form()],
    field: Annotated[str, Form()],
    version: Annotated[int, Form()],
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()],
    category: Annotated[str, Form()] = "",
    entities: Annotated[str, Form()] = "",
) -> Response:
    """Accept or override one field's classification (the classifier's review store keeps version and audit)."""
    store = _classifications(request, principal, REVIEWERS, "review classifications")
    data: dict[str, Any] = {"decision": decision, "reason": reason.strip()}
    if decision == "override":
        if category:
            data["category"] = category
        if entities.strip():
            data["entities"] = [e for e in entities.replace(",", " ").split() if e]
    try:
        store.review(dataset, field, ReviewIn.model_validate(data), version, actor=principal.name)
    except ValidationError as exc:
        raise PageError(422, exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    except NotFoundError as exc:
        raise PageError(404, str(exc)) from None
    except ReviewError as exc:
        raise PageError(422, str(exc)) from None
    except StaleVersion as exc:
        return see_other(f"/console/dpo/{quote(dataset)}?conflict={exc.actual}#f-{quote(field)}")
    return see_other(f"/console/dpo/{quote(dataset)}#f-{quote(field)}")
