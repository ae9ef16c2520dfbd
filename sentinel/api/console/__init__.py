"""The web console: server-rendered pages for SOC analysts and data-protection officers.

Pages are Jinja2 templates with plain HTML forms (no front-end build); charts
are SVG drawn on the server. The acting user is the request's
:class:`~sentinel.api.auth.Principal`; alert content is scoped and masked by
the caller's data-policy view, as in the JSON API. Each module below holds
one area's routes; this package mounts them under ``/console``.
"""

from __future__ import annotations

from fastapi import APIRouter

from sentinel.api.console import (
    alert,
    cases,
    dashboard,
    dpo,
    entities,
    home,
    queue,
    rules,
    runs,
    search,
    suppressions,
)
from sentinel.api.console.i18n import catalogue
from sentinel.api.console.pages import refused_page
from sentinel.api.console.rendering import TEMPLATES

__all__ = ["TEMPLATES", "catalogue", "refused_page", "router"]

router = APIRouter()
router.include_router(home.root)
for _area in (home, queue, alert, rules, search, entities, cases, runs, suppressions, dashboard, dpo):
    router.include_router(_area.router)
