"""Backend-independent alert logic: folding repeats into one alert, validating updates.

Every store backend calls these so alerts behave the same whatever holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from sentinel import ecs
from sentinel.errors import Invalid
from sentinel.models import MAX_EVENT_IDS, MAX_EVIDENCE_EVENTS, Alert

# Fields an analyst (or the response stage) may change through update_alert.
UPDATABLE = {
    "status",
    "disposition",
    "assignee",
    "severity",
    "risk_score",
    "tags",
    "close_reason",
    "notes",
}  # not labels: an alert's scope comes from its evidence (detect/alerts.py), never from an edit


class InvalidChange(Invalid):
    """An alert update names an unknown field or an invalid value."""


def fold(existing: Alert, incoming: Alert) -> Alert:
    """Merge a new match into the open alert of the same rule and group."""
    merged = existing.model_copy(deep=True)
    merged.count += incoming.count
    merged.last_seen = max(existing.last_seen, incoming.last_seen)
    merged.first_seen = min(existing.first_seen, incoming.first_seen)
    known = set(merged.event_ids)
    for eid in incoming.event_ids:
        if eid not in known and len(merged.event_ids) < MAX_EVENT_IDS:
            merged.event_ids.append(eid)
            known.add(eid)
    room = MAX_EVIDENCE_EVENTS - len(merged.events)
    if room > 0:
        merged.events.extend(incoming.events[:room])
    merged.version += 1
    return merged


def apply_update(alert: Alert, changes: Mapping[str, Any], actor: str) -> tuple[Alert, dict, dict]:
    """Return the changed alert plus the before/after values of the changed fields."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise InvalidChange(f"cannot change {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(UPDATABLE))}")
    current = alert.to_doc()
    before = {k: current.get(k) for k in changes}
    updated = {**current, **changes}
    if updated.get("status") == "closed" and not updated.get("disposition"):
        raise InvalidChange("closing an alert needs a disposition: true_positive, false_positive or benign")
    now = ecs.now_ts()
    if updated.get("status") != current.get("status"):
        _stamp_status(current, updated, actor, now, explicit=changes)
    updated["version"] = alert.version + 1
    updated["updated_by"] = actor
    updated["updated_at"] = now
    try:
        new = Alert.model_validate(updated)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InvalidChange(f"{field}: {err['msg']}") from None
    after = {k: new.to_doc().get(k) for k in changes}
    return new, before, after


def _stamp_status(current: Mapping[str, Any], updated: dict[str, Any], actor: str, now: str, explicit: Mapping) -> None:
    """Record who moved the status and when; reopening forgets the old verdict unless a new one is given."""
    updated["status_by"] = actor
    updated["status_at"] = now
    if updated.get("status") != "open" and not current.get("acknowledged_at"):
        updated["acknowledged_at"] = now
    if updated.get("status") == "closed":
        updated["closed_at"] = now
    elif current.get("status") == "closed":
        updated["closed_at"] = None
        for key in ("disposition", "close_reason"):
            if key not in explicit:
                updated[key] = None
