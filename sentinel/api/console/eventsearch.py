"""Event searches the console pages share: the time window, the scoped query, the histogram and the cells.

Every search goes through the caller's :class:`~sentinel.policy.access.RoleView`
exactly as ``/api/events`` does: ``restrict`` puts the scope into the store
query and refuses conditions on masked fields; every event shown is masked by
``mask_event``. The histogram is the store's counts per bucket of that same
query, and its sum is the page's total.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import quote

from sentinel import ecs
from sentinel.api.console.pages import PageError
from sentinel.policy import AccessDenied, RoleView
from sentinel.store import EventPage, EventQuery, InvalidQuery, QuerySyntaxError, Store
from sentinel.timefmt import show_time

RELATIVE = {"15m": 900, "1h": 3600, "4h": 4 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
# Bucket widths the histogram picks from: the smallest giving at most MAX_BUCKETS bars.
STEPS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
MAX_BUCKETS = 48
# Fields that name an entity with its own page.
ENTITY_FIELDS = {
    "source.ip": "ip",
    "destination.ip": "ip",
    "client.ip": "ip",
    "server.ip": "ip",
    "host.ip": "ip",
    "user.name": "user",
    "source.user.name": "user",
    "destination.user.name": "user",
    "host.name": "host",
    "host.hostname": "host",
    "observer.hostname": "host",
}


class SearchRefused(PageError):
    """The query cannot run for this caller: unreadable (400) or not allowed (403); the message says why."""


@dataclass
class Window:
    """The time span searched, as the picker shows it."""

    since: datetime
    until: datetime
    relative: str  # a RELATIVE key, or "" for an absolute span
    start: str  # the picker's absolute fields, in the SOC's zone (YYYY-MM-DDTHH:MM)
    end: str


def time_window(relative: str, start: str, end: str, tz: tzinfo, default: str = "24h") -> Window:
    """The span from the picker: absolute when a start or end is given (in the SOC's zone), else relative."""
    now = datetime.now(UTC)
    if start or end:
        since = _local(start, tz, "start") if start else now - timedelta(seconds=RELATIVE[default])
        until = _local(end, tz, "end") if end else now
        if since >= until:
            raise SearchRefused(400, "err_span_order")
        return Window(since, until, "", _picker(since, tz), _picker(until, tz))
    seconds = RELATIVE.get(relative or default)
    if seconds is None:
        raise SearchRefused(400, "err_span_unknown", span=relative, choices=", ".join(RELATIVE))
    since = now - timedelta(seconds=seconds)
    return Window(since, now, relative or default, _picker(since, tz), _picker(now, tz))


def _local(text: str, tz: tzinfo, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SearchRefused(400, f"err_span_{what}", text=text) from None
    return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)


def refused_query(exc: InvalidQuery) -> SearchRefused:
    """A query the store cannot run: where it stops reading (a syntax error's position) and the parser's reason."""
    if isinstance(exc, QuerySyntaxError) and exc.code:  # the parser's own reason, said in the reader's language
        return SearchRefused(400, f"query_error_{exc.code}", position=exc.position, **exc.values)
    if isinstance(exc, QuerySyntaxError) and exc.position:
        return SearchRefused(400, "err_query_at", detail=exc.reason, position=exc.position)
    return SearchRefused(400, "err_query", detail=str(exc))


def _picker(t: datetime, tz: tzinfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def scoped(view: RoleView, query: EventQuery) -> EventQuery:
    """The query narrowed by the caller's policy view (scope, masked-field rules), as /api/events does."""
    try:
        return view.restrict(query)
    except AccessDenied as exc:
        raise SearchRefused(403, "err_search_denied", detail=str(exc)) from None


def run_search(store: Store, view: RoleView, query: EventQuery) -> tuple[EventPage, list[dict[str, Any]]]:
    """One page of a scoped query and its events as the caller may see them."""
    try:
        page = store.search_events(query)
    except InvalidQuery as exc:
        raise refused_query(exc) from None
    return page, [view.mask_event(e) for e in page.events]


def histogram(store: Store, query: EventQuery, window: Window, tz: tzinfo) -> dict[str, Any]:
    """Bars of matches per time bucket over the window (``Store.histogram`` of the same scoped query)."""
    span = (window.until - window.since).total_seconds()
    step = next((s for s in STEPS if span / s <= MAX_BUCKETS), STEPS[-1])
    first = datetime.fromtimestamp(int(window.since.timestamp() // step * step), UTC)
    edges = []
    t = first
    while t < window.until:
        edges.append(t)
        t += timedelta(seconds=step)
    bucketed = dataclasses.replace(query, since=window.since, until=window.until, cursor=None)
    try:
        counts = store.histogram(bucketed, first, timedelta(seconds=step), len(edges))
    except InvalidQuery as exc:
        raise refused_query(exc) from None
    width, height, left = 760, 120, 44
    bar = (width - left) / max(1, len(edges))
    top = max(counts, default=0) or 1
    tick = "day" if step >= 86400 else ("day-clock" if span > 86400 else "clock")
    bars, ticks = [], []
    every = max(1, len(edges) // 8)
    for i, (b, n) in enumerate(zip(edges, counts, strict=True)):
        h = round((height - 24) * n / top, 1)
        bars.append(
            {
                "x": round(left + i * bar, 1),
                "y": round(height - 20 - h, 1),
                "w": round(max(bar - 1, 1), 1),
                "h": h,
                "count": n,
                "title": f"{show_time(b, tz, 'minute')}: {n}",
                "start": _picker(b, tz),
                "end": _picker(b + timedelta(seconds=step), tz),
            }
        )
        if i % every == 0:
            ticks.append((round(left + i * bar, 1), show_time(b, tz, tick)))
    return {
        "bars": bars,
        "ticks": ticks,
        "max": max(counts, default=0),
        "total": sum(counts),  # the buckets cover the window exactly: no separate count needed
        "width": width,
        "height": height,
    }


def quote_value(value: Any) -> str:
    """A value as a query term that matches exactly it."""
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_term(q: str, field: str, value: Any) -> str:
    """``q`` narrowed to ``field`` having ``value``."""
    term = f"{field}:{quote_value(value)}"
    q = q.strip()
    return f"({q}) AND {term}" if q else term


def entity_url(field: str, value: Any) -> str | None:
    kind = ENTITY_FIELDS.get(field)
    if kind is None or value in (None, ""):
        return None
    return f"/console/entities/{kind}/{quote(str(value), safe='')}"


def entity_links(entity: dict[str, Any] | None, view: RoleView) -> list[dict[str, Any]]:
    """An alert's (masked) entity as field, value and the entity page when the caller may look it up."""
    out = []
    for field, value in (entity or {}).items():
        url = entity_url(field, value) if not view.field_hidden(field) else None
        out.append({"field": field, "value": value, "url": url})
    return out


def cells(event: dict[str, Any], fields: list[str], view: RoleView) -> list[dict[str, Any]]:
    """The chosen columns of one (masked) event, each saying whether it may become a filter or an entity link."""
    out = []
    for f in fields:
        value = ecs.get_field(event, f)
        shown = "" if value is None else (value if isinstance(value, str | int | float) else str(value))
        linkable = value is not None and isinstance(value, str | int | float) and not view.field_hidden(f)
        out.append(
            {
                "field": f,
                "value": shown,
                "filter": linkable,
                "entity": entity_url(f, value) if linkable else None,
            }
        )
    return out


def field_counts(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """The fields present in these events with how many hold each, for the column chooser."""
    seen: dict[str, int] = {}
    for e in events:
        for name, value in ecs.flatten(e).items():
            if value not in (None, "", [], {}):
                seen[name] = seen.get(name, 0) + 1
    return sorted(seen.items())
