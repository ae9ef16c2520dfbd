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
    """Province and commune of an alert, as strings (None when unknown)."""
    p, c = alert_field(alert, "labels.province"), alert_field(alert, "labels.commune")
    return (str(p) if p is not None else None), (str(c) if c is not None else None)
