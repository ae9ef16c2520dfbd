"""/api/events: search stored events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from sentinel.api.views import forbidden, role_view
from sentinel.policy import AccessDenied, RoleView
from sentinel.store import InvalidQuery, QuerySyntaxError, parse_query

router = APIRouter(prefix="/api/events", tags=["events"])


class EventPageOut(BaseModel):
    events: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None


@router.get("", response_model=EventPageOut)
def search_events(
    request: Request,
    view: Annotated[RoleView, Depends(role_view)],
    q: Annotated[str | None, Query(description="field:value terms and free-text words, all must match")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
    total: bool = False,
) -> EventPageOut:
    """Events matching the query, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    try:
        query = parse_query(q or "")
    except QuerySyntaxError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    query.since, query.until, query.limit, query.cursor = since, until, limit, cursor
    try:
        view.restrict(query)  # scope and masked-field rules go into the store query itself
    except AccessDenied as exc:
        raise forbidden(exc) from None
    store = request.app.state.store
    try:
        page = store.search_events(query)
        count = store.count_events(query) if total else None
    except InvalidQuery as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return EventPageOut(events=[view.mask_event(e) for e in page.events], next_cursor=page.next_cursor, total=count)


@router.get("/{event_id}")
def get_event(event_id: str, request: Request, view: Annotated[RoleView, Depends(role_view)]) -> dict[str, Any]:
    event = request.app.state.store.get_event(event_id)
    if event is None or not view.event_in_scope(event):
        raise HTTPException(status_code=404, detail=f"no event with id {event_id}")
    return view.mask_event(event)
