"""Rendering a console page: the Jinja environment, its filters, the CSRF field and the security headers.

Everything shown goes through autoescaping, and pages carry a strict
Content-Security-Policy, because log lines and notes are attacker- or
user-controlled text.
"""

from __future__ import annotations

from datetime import tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from sentinel.api.console.i18n import language, remember_language, translator, value_translator
from sentinel.api.console.texts import playbook_text, rule_texts
from sentinel.api.permissions import allowed_roles
from sentinel.identity import Principal
from sentinel.timefmt import show_time

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = TEMPLATES.parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


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


def display_zone(request: Request) -> tzinfo:
    """The zone every time on a page is shown in: the ``display_timezone`` setting."""
    return request.app.state.settings.display_tz


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


def render(request: Request, template: str, principal: Principal, status_code: int = 200, **context: Any) -> Response:
    lang = language(request)
    stage = getattr(request.app.state, "response", None)
    tz = display_zone(request)
    rule_title, rule_description = rule_texts(request.app.state.settings.rules_dir, lang)
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            principal=principal,
            lang=lang,
            t=translator(lang),
            tr=value_translator(lang),
            rule_title=rule_title,
            rule_description=rule_description,
            pb_text=playbook_text(stage.playbooks if stage is not None else None, lang),
            dt=lambda value: show_time(value, tz),
            csrf_field=lambda: _csrf_field(request),
            csrf_token=getattr(request.state, "session_csrf", None) or "",
            path=request.url.path,
            may=lambda href: principal.role in allowed_roles("GET", href),
            **context,
        )
    )
    resp = HTMLResponse(html, status_code=status_code)
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["Cache-Control"] = "no-store"
    remember_language(request, resp)
    return resp


def _csrf_field(request: Request) -> Markup:
    """The hidden CSRF input every POST form carries when the caller has a console session."""
    token = getattr(request.state, "session_csrf", None)
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token) if token else Markup("")
