"""The search page: the query language over a time span, a histogram, chosen columns and the raw lines.

``?alert=ID`` shows every stored event of an alert (its evidence on the alert
page stops at a sample): the alert is read through the same scope check as the
alert page, and its event ids become the query.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response

from sentinel import ecs
from sentinel.api.console.eventsearch import (
    RELATIVE,
    SearchRefused,
    add_term,
    cells,
    field_counts,
    histogram,
    refused_query,
    run_search,
    scoped,
    time_window,
)
from sentinel.api.console.pages import Caller, View, console_router, guarded
from sentinel.api.console.rendering import display_zone, render
from sentinel.api.scope import visible_alert
from sentinel.store import And, EventQuery, Expr, Or, QuerySyntaxError, Term, parse_expression
from sentinel.timefmt import zone_label

DEFAULT_COLUMNS = [
    "event.dataset",
    "source.ip",
    "user.name",
    "http.request.method",
    "url.original",
    "http.response.status_code",
]
PAGE = 50
MAX_COLUMNS = 12

router = console_router()


@router.get("/search")
@guarded
def search_page(
    request: Request,
    principal: Caller,
    view: View,
    q: str = "",
    span: str = "",
    start: str = "",
    end: str = "",
    col: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    alert: str = "",
    cursor: str = "",
) -> Response:
    tz = display_zone(request)
    columns = [c for c in dict.fromkeys(col) if c and c != "@timestamp"][:MAX_COLUMNS] or DEFAULT_COLUMNS
    context: dict[str, Any] = {
        "q": q,
        "columns": columns,
        "alert_id": alert,
        "zone": zone_label(tz),
        "relatives": list(RELATIVE),
        "error": None,
        "rows": [],
        "total": 0,
        "chart": None,
        "fields": [],
        "next_url": None,
        "window": None,
    }
    status = 200
    try:
        source = visible_alert(request, view, alert) if alert else None
        if source is not None and not (span or start or end):
            # the alert's own span, widened to whole minutes
            start = ecs.parse_ts(source.first_seen).astimezone(tz).strftime("%Y-%m-%dT%H:%M")
            end = (ecs.parse_ts(source.last_seen) + timedelta(minutes=1)).astimezone(tz).strftime("%Y-%m-%dT%H:%M")
        window = time_window(span, start, end, tz)
        context["window"] = window
        where = _expression(q)
        if source is not None:
            ids: Expr = Or(tuple(Term("event.id", eid) for eid in source.event_ids) or (Term("event.id", ""),))
            where = And((ids, where)) if where is not None else ids
            context["alert"] = source
        query = scoped(view, EventQuery(where=where, since=window.since, until=window.until, limit=PAGE))
        query.cursor = cursor or None
        page, events = run_search(request.app.state.store, view, query)
        context["chart"] = histogram(request.app.state.store, query, window, tz)
        context["total"] = context["chart"]["total"]
        context["rows"] = [
            {
                "ts": e.get("@timestamp"),
                "id": ecs.get_field(e, "event.id"),
                "cells": cells(e, columns, view),
                "raw": ecs.get_field(e, "event.original") or ecs.get_field(e, "message"),
            }
            for e in events
        ]
        context["fields"] = field_counts(events)
        if page.next_cursor:
            context["next_url"] = str(request.url.include_query_params(cursor=page.next_cursor))
    except SearchRefused as exc:
        status, context["error"] = exc.status, exc
    return render(
        request,
        "search.html",
        principal,
        status_code=status,
        add_term=add_term,
        url_with=lambda **changes: _url_with(request, **changes),
        **context,
    )


def _expression(q: str) -> Expr | None:
    try:
        return parse_expression(q)
    except QuerySyntaxError as exc:
        raise refused_query(exc) from None


def _url_with(request: Request, **changes: Any) -> str:
    """This page's URL with some parameters replaced (a list replaces every value; None removes one)."""
    params: list[tuple[str, str]] = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    params = [(k, v) for k, v in params if k not in ("cursor", "lang")]
    for key, value in changes.items():
        if value is None:
            continue
        for v in value if isinstance(value, list) else [value]:
            params.append((key, str(v)))
    return f"{request.url.path}?{urlencode(params)}"
