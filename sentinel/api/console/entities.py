"""Entity pages: one address, user or host with its alerts, events over time, context and neighbours.

The events are one query naming the entity's fields (``source.ip:X OR
destination.ip:X ...``) run through the caller's policy view like every
search, so scope and masking hold and a role that sees the entity masked is
refused. Alerts come from the caller's scoped alert list (the newest
:data:`ALERT_LIMIT`, said on the page when reached).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import Response

from sentinel import ecs
from sentinel.api.console.eventsearch import (
    ENTITY_FIELDS,
    RELATIVE,
    cells,
    entity_url,
    histogram,
    run_search,
    scoped,
    time_window,
)
from sentinel.api.console.pages import Caller, PageError, Stage, View, console_router, guarded
from sentinel.api.console.rendering import display_zone, render
from sentinel.models import Alert
from sentinel.store import AlertQuery, EventQuery, Or, Term
from sentinel.timefmt import zone_label

Kind = Literal["ip", "user", "host"]
# Where an entity is looked up: fields every store indexes (SQLite's hot columns), so a page stays fast
# at millions of events; other fields naming the entity link here too (ENTITY_FIELDS).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "ip": ("source.ip", "destination.ip"),
    "user": ("user.name",),
    "host": ("host.name",),
}
ALERT_LIMIT = 2000
EVENTS_SHOWN = 50
RELATED_SAMPLE = 500
COLUMNS = ["event.dataset", "source.ip", "destination.ip", "user.name", "url.original", "event.action"]

router = console_router()


def address_context(request: Request, ip: str) -> dict[str, Any] | None:
    """Province, commune, unit and internal/external from the runtime's address plan."""
    plan = request.app.state.runtime.address_plan
    if plan is None:
        return None
    unit, internal = plan.resolve(ip)
    return {"unit": unit.as_dict() if unit else None, "internal": internal}


def entity_alerts(alerts: list[Alert], fields: tuple[str, ...], name: str) -> list[Alert]:
    """The alerts whose entity or group is this entity."""
    out = []
    for a in alerts:
        if any(str(a.entity.get(f)) == name for f in fields if f in a.entity) or a.group_key == name:
            out.append(a)
    return out


def related(events: list[dict[str, Any]], kind: str, name: str, view: Any) -> list[dict[str, Any]]:
    """Other entities in these events, most frequent first (ten per kind)."""
    seen: dict[tuple[str, str], int] = {}
    for e in events:
        for field, k in ENTITY_FIELDS.items():
            value = ecs.get_field(e, field)
            if not isinstance(value, str) or not value or (k == kind and value == name):
                continue
            if view.field_hidden(field):
                continue
            seen[(k, value)] = seen.get((k, value), 0) + 1
    out = []
    for k in ("ip", "user", "host"):
        top = sorted(((v, n) for (kk, v), n in seen.items() if kk == k), key=lambda x: (-x[1], x[0]))[:10]
        field = KIND_FIELDS[k][0]
        out += [{"kind": k, "value": v, "count": n, "url": entity_url(field, v)} for v, n in top]
    return out


@router.get("/entities/{kind}/{name}")
@guarded
def entity_page(
    kind: str,
    name: str,
    request: Request,
    principal: Caller,
    view: View,
    stage: Stage,
    span: str = "7d",
    start: str = "",
    end: str = "",
) -> Response:
    if kind not in KIND_FIELDS:
        raise PageError(404, "err_entity_kind", kind=kind)
    if kind == "ip":
        try:
            name = str(ipaddress.ip_address(name))
        except ValueError:
            raise PageError(404, "err_not_ip", name=name) from None
    fields = KIND_FIELDS[kind]
    tz = display_zone(request)
    store = request.app.state.store
    where = Or(tuple(Term(f, name) for f in fields))
    window = time_window(span, start, end, tz, default="7d")
    every_time = scoped(view, EventQuery(where=where, limit=1))
    _, first = run_search(store, view, dataclasses.replace(every_time, ascending=True))
    _, last = run_search(store, view, every_time)
    query = scoped(view, EventQuery(where=where, since=window.since, until=window.until, limit=EVENTS_SHOWN))
    _, events = run_search(store, view, query)
    chart = histogram(store, query, window, tz)
    total = chart["total"]
    sample_query = scoped(view, EventQuery(where=where, since=window.since, until=window.until))
    sample_query.limit = RELATED_SAMPLE
    _, sample = run_search(store, view, sample_query)
    alerts, _ = view.list_alerts(store, AlertQuery(limit=ALERT_LIMIT))
    mine = entity_alerts(alerts, fields, name)
    playbooks: dict[str, Any] = {}
    for a in mine:
        for pb in stage.playbooks.for_alert(a):
            playbooks.setdefault(pb.id, pb)
    rows = [
        {
            "ts": e.get("@timestamp"),
            "cells": cells(e, COLUMNS, view),
            "raw": ecs.get_field(e, "event.original") or ecs.get_field(e, "message"),
        }
        for e in events
    ]
    return render(
        request,
        "entity.html",
        principal,
        kind=kind,
        name=name,
        search_q=" OR ".join(f'{f}:"{name}"' for f in fields),
        first_seen=first[0].get("@timestamp") if first else None,
        last_seen=last[0].get("@timestamp") if last else None,
        window=window,
        relatives=list(RELATIVE),
        zone=zone_label(tz),
        total=total,
        chart=chart,
        rows=rows,
        columns=COLUMNS,
        alerts=mine,
        alerts_capped=len(alerts) >= ALERT_LIMIT,
        alert_limit=ALERT_LIMIT,
        context=address_context(request, name) if kind == "ip" else None,
        related=related(sample, kind, name, view),
        playbooks=list(playbooks.values()),
    )
