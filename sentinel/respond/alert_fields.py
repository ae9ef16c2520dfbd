"""Reading an ECS field off an alert: its entity, its labels, then its first evidence event."""

from __future__ import annotations

from typing import Any

from sentinel import ecs
from sentinel.models import Alert


def alert_field(alert: Alert, field: str) -> Any:
    value = ecs.get_field(alert.entity, field)
    if value is None and field.startswith("labels."):
        value = alert.labels.get(field[7:])
    if value is None and alert.events:
        value = ecs.get_field(alert.events[0], field)
    return value


def alert_place(alert: Alert) -> tuple[str | None, str | None]:
    """Province and commune of an alert (None when unknown): its scope labels only, never its first event's
    place, which for evidence from several places would route the alert to one of them."""
    p, c = alert.labels.get("province"), alert.labels.get("commune")
    return (str(p) if p is not None else None), (str(c) if c is not None else None)
