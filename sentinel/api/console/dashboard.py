"""The dashboard: alerts over time, by province and source, statuses, shifts and data coverage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from sentinel.api.classifications import classification_store
from sentinel.api.console.i18n import language, translator
from sentinel.api.console.pages import Caller, Stage, View, console_router, guarded
from sentinel.api.console.rendering import display_zone, render
from sentinel.api.console.texts import rule_texts
from sentinel.api.permissions import allowed_roles
from sentinel.respond import dashboard, shift_rows
from sentinel.store import AlertQuery

DASHBOARD_LIMIT = 5000

router = console_router()
COVERAGE_ROLES = allowed_roles("GET", "/api/classifications")


@router.get("/dashboard")
@guarded
def dashboard_page(
    request: Request, principal: Caller, view: View, stage: Stage, days: Annotated[int, Query(ge=1, le=90)] = 7
) -> Response:
    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    alerts, total = view.list_alerts(request.app.state.store, AlertQuery(since=since, limit=DASHBOARD_LIMIT))
    masked_sources = dashboard.top_sources(alerts) if not view.field_hidden("source.ip") else None
    # the same roles as GET /api/classifications: the permission table decides, not a second list
    coverage = classification_store(request).list_datasets() if principal.role in COVERAGE_ROLES else None
    lang = language(request)
    title, _ = rule_texts(request.app.state.settings.rules_dir, lang)
    other = translator(lang)("other")
    zone = display_zone(request)
    return render(
        request,
        "dashboard.html",
        principal,
        days=days,
        total=total,
        sampled=len(alerts),
        chart=dashboard.over_time(alerts, now, days, zone, series=lambda a: title(a.rule), other=other),
        chart_province=dashboard.over_time(alerts, now, days, zone, series=dashboard.province_of, other=other),
        provinces=dashboard.horizontal(dashboard.by_province(alerts)),
        sources=dashboard.horizontal(masked_sources) if masked_sources is not None else None,
        statuses=dashboard.status_counts(alerts),
        shifts=shift_rows(alerts, stage.config, now)[-14:],
        coverage=coverage,
    )
