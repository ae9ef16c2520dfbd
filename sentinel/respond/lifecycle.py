"""Analyst actions on alerts: acknowledge, start, close, reopen, assign, note, tag, re-rate; singly or in bulk.

Each action becomes one ``Store.update_alert`` call carrying the version the
analyst saw, so the store's optimistic concurrency (and its audited history)
applies on every backend, and one record in the audit chain (:func:`audited_update`,
the one way an alert changes on someone's behalf) carrying the digest of the
history row and of the alert's state. Rules that the store does not know about, such as
"closing needs a reason" and which status moves make sense, live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sentinel import ecs
from sentinel.audit import AuditLog, Entry, Row
from sentinel.errors import NotFound, VersionConflict
from sentinel.models import LEVEL_RISK, Alert, Disposition, Level
from sentinel.store import InvalidChange, Store

ActionName = Literal["acknowledge", "start", "close", "reopen", "assign", "note", "tag", "untag", "rate"]

# action -> the statuses it may start from
FROM_STATUS: dict[str, tuple[str, ...]] = {
    "acknowledge": ("open",),
    "start": ("open", "acknowledged"),
    "close": ("open", "acknowledged", "in_progress"),
    "reopen": ("closed",),
}
MAX_NOTE = 5000
# what the detector changes when it folds a repeat into an alert: not part of the audited state
FOLDED = frozenset({"count", "first_seen", "last_seen", "event_ids", "events", "version"})


class AlertAction(BaseModel):
    """One analyst action; which fields it needs depends on ``action``."""

    model_config = ConfigDict(extra="forbid")

    action: ActionName
    disposition: Disposition | None = None
    reason: str | None = Field(None, max_length=MAX_NOTE)
    assignee: str | None = Field(None, max_length=200)
    text: str | None = Field(None, max_length=MAX_NOTE)
    tags: list[str] = Field(default_factory=list)
    severity: Level | None = None
    risk_score: int | None = Field(None, ge=0, le=100)

    @model_validator(mode="after")
    def _needs(self) -> AlertAction:
        if self.action == "close" and (not self.disposition or not (self.reason or "").strip()):
            raise ValueError("closing needs a disposition (true_positive, false_positive, benign) and a reason")
        if self.action == "note" and not (self.text or "").strip():
            raise ValueError("a note needs text")
        if self.action in ("tag", "untag") and not [t for t in self.tags if t.strip()]:
            raise ValueError(f"{self.action} needs at least one tag")
        if self.action == "rate" and self.severity is None and self.risk_score is None:
            raise ValueError("rate needs a severity or a risk_score")
        return self


def changes_for(alert: Alert, act: AlertAction, actor: str) -> dict[str, Any]:
    """The field changes ``act`` makes to ``alert``; raises :class:`InvalidChange` when it does not apply."""
    allowed = FROM_STATUS.get(act.action)
    if allowed and alert.status not in allowed:
        raise InvalidChange(f"cannot {act.action} an alert that is {alert.status.replace('_', ' ')}")
    match act.action:
        case "acknowledge":
            changes: dict[str, Any] = {"status": "acknowledged"}
            if act.assignee is not None or not alert.assignee:
                changes["assignee"] = act.assignee or actor
            return changes
        case "start":
            return {"status": "in_progress", "assignee": act.assignee or alert.assignee or actor}
        case "close":
            return {"status": "closed", "disposition": act.disposition, "close_reason": act.reason.strip()}
        case "reopen":
            return {"status": "open", **({"assignee": act.assignee} if act.assignee else {})}
        case "assign":
            return {"assignee": (act.assignee or "").strip() or None}
        case "note":
            note = {"at": ecs.now_ts(), "author": actor, "text": act.text.strip()}
            return {"notes": [*alert.notes, note]}
        case "tag":
            return {"tags": sorted({*alert.tags, *(t.strip() for t in act.tags if t.strip())})}
        case "untag":
            drop = {t.strip() for t in act.tags}
            return {"tags": [t for t in alert.tags if t not in drop]}
        case "rate":
            severity = act.severity or alert.severity
            score = act.risk_score if act.risk_score is not None else LEVEL_RISK[severity]
            changes = {"severity": severity, "risk_score": score}
            if LEVEL_RISK[severity] < LEVEL_RISK[alert.severity] or score < alert.risk_score:
                # lowering is how an alert is hidden from the queue: it needs a reason, kept as the rater's note
                reason = (act.reason or "").strip()
                if not reason:
                    raise InvalidChange("lowering an alert's severity or risk score needs a reason")
                text = f"severity lowered to {severity} (risk {score}): {reason}"
                changes["notes"] = [*alert.notes, {"at": ecs.now_ts(), "author": actor, "text": text}]
            return changes
    raise InvalidChange(f"unknown action {act.action}")


# PATCH fields -> the action that changes them; anything else is refused with the reason.
_STATUS_ACTION = {"acknowledged": "acknowledge", "in_progress": "start", "closed": "close", "open": "reopen"}
PATCHABLE = ("status", "disposition", "reason", "close_reason", "assignee", "note", "tags", "severity", "risk_score")
_REFUSED = {
    "labels": "labels are the alert's scope and come from its evidence; they cannot be edited",
    "notes": 'notes are append-only: send {"note": "text"} (the author is you)',
}


def actions_for_patch(alert: Alert, changes: Mapping[str, Any]) -> list[AlertAction]:
    """The validated actions a ``PATCH /api/alerts/{id}`` body stands for, in the order they apply.

    The JSON route accepts field changes for convenience, but every change goes
    through the same actions as the console: closing needs a disposition and a
    reason, notes are appended under the caller's name, labels cannot be set.
    """
    for name, why in _REFUSED.items():
        if name in changes:
            raise InvalidChange(why)
    unknown = sorted(set(changes) - set(PATCHABLE))
    if unknown:
        raise InvalidChange(f"cannot change {', '.join(unknown)}; allowed: {', '.join(PATCHABLE)}")
    data = dict(changes)
    reason = data.pop("reason", None) or data.pop("close_reason", None)
    plan: list[dict[str, Any]] = []
    status = data.pop("status", None)
    if status is not None:
        if status not in _STATUS_ACTION:
            raise InvalidChange(f"status {status!r}: use one of {', '.join(_STATUS_ACTION)}")
        step: dict[str, Any] = {"action": _STATUS_ACTION[status]}
        if status == "closed":
            step |= {"disposition": data.pop("disposition", None), "reason": reason}
        plan.append(step)
    if "disposition" in data:
        raise InvalidChange("a disposition is given when closing: send status closed with a disposition and a reason")
    if "assignee" in data:
        plan.append({"action": "assign", "assignee": data.pop("assignee") or ""})
    if "severity" in data or "risk_score" in data:
        plan.append(
            {"action": "rate", "severity": data.pop("severity", None), "risk_score": data.pop("risk_score", None)}
            | ({"reason": reason} if reason else {})
        )
    if "tags" in data:
        wanted = data.pop("tags") or []
        if not isinstance(wanted, list):
            raise InvalidChange("tags: give the list of tags the alert should have")
        if added := [t for t in wanted if t not in alert.tags]:
            plan.append({"action": "tag", "tags": added})
        if removed := [t for t in alert.tags if t not in wanted]:
            plan.append({"action": "untag", "tags": removed})
    if "note" in data:
        plan.append({"action": "note", "text": data.pop("note")})
    try:
        return [AlertAction.model_validate({k: v for k, v in step.items() if v is not None}) for step in plan]
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidChange(str(err["msg"]).removeprefix("Value error, ")) from None


def apply_patch(
    store: Store, alert_id: str, expected_version: int, changes: Mapping[str, Any], actor: str, audit: AuditLog
) -> Alert:
    """Apply a PATCH body as its actions in one versioned, audited update (see :func:`actions_for_patch`)."""
    alert = store.get_alert(alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    if alert.version != expected_version:
        raise VersionConflict(alert_id, expected_version, alert.version)
    acts = actions_for_patch(alert, changes)
    if not acts:
        raise InvalidChange(f"nothing to change; send one of {', '.join(PATCHABLE)}")
    merged: dict[str, Any] = {}
    state = alert
    for act in acts:
        step = changes_for(state, act, actor)
        merged |= step
        state = state.model_copy(update=step)
    details = {"actions": [_action_details(a) | {"action": a.action} for a in acts]}
    new, entry = audited_update(store, alert, merged, actor, "update", details)
    audit.append(actor, [entry])
    return new


def alert_state(alert: Alert) -> dict[str, Any]:
    """What people decide about an alert (status, verdict, owner, notes, tags, severity...): the audited state."""
    return {k: v for k, v in alert.to_doc().items() if k not in FOLDED}


def audited_update(
    store: Store,
    alert: Alert,
    changes: dict[str, Any],
    actor: str,
    action: str,
    details: dict[str, Any] | None = None,
) -> tuple[Alert, Entry]:
    """Change ``alert`` (at the version it has) in the store; return it with the audit entry to chain.

    The caller chains the entry (:meth:`AuditLog.append`), so a bulk action costs one fsync.
    """
    new = store.update_alert(alert.id, changes, alert.version, actor, action=action)
    row = next((c for c in reversed(store.alert_history(alert.id)) if c.version == new.version), None)
    entry = Entry(
        f"alert.{action}",
        f"alert:{alert.id}",
        version=new.version,
        before=alert_state(alert),
        after=alert_state(new),
        row=row.digest if row else None,
        details=details or {},
    )
    return new, entry


def _action_details(act: AlertAction) -> dict[str, Any]:
    return act.model_dump(exclude_none=True, exclude_defaults=True, exclude={"action"})


def apply_action(
    store: Store, alert_id: str, expected_version: int, act: AlertAction, actor: str, audit: AuditLog
) -> Alert:
    """Apply one action and chain its audit record; raises NotFound, VersionConflict or InvalidChange."""
    new, entry = _apply(store, alert_id, expected_version, act, actor)
    audit.append(actor, [entry])
    return new


def _apply(store: Store, alert_id: str, expected_version: int, act: AlertAction, actor: str) -> tuple[Alert, Entry]:
    alert = store.get_alert(alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    if alert.version != expected_version:
        raise VersionConflict(alert_id, expected_version, alert.version)
    return audited_update(store, alert, changes_for(alert, act, actor), actor, act.action, _action_details(act))


@dataclass
class BulkOutcome:
    alert_id: str
    ok: bool
    status: int  # HTTP-like: 200, 404, 409, 422
    detail: str = ""
    version: int | None = None


def apply_bulk(
    store: Store, targets: dict[str, int], act: AlertAction, actor: str, audit: AuditLog
) -> list[BulkOutcome]:
    """Apply ``act`` to each alert at the version the analyst saw; one failure does not stop the rest.

    The audit records of the whole batch are chained together, once (one lock, one fsync).
    """
    out, entries = [], []
    try:
        for alert_id, version in targets.items():
            try:
                new, entry = _apply(store, alert_id, version, act, actor)
                entries.append(entry)
                out.append(BulkOutcome(alert_id, True, 200, version=new.version))
            except NotFound as exc:
                out.append(BulkOutcome(alert_id, False, 404, str(exc)))
            except VersionConflict as exc:
                out.append(BulkOutcome(alert_id, False, 409, str(exc), version=exc.actual))
            except InvalidChange as exc:
                out.append(BulkOutcome(alert_id, False, 422, str(exc)))
    finally:
        if entries:
            audit.append(actor, entries)
    return out


class AlertWitness:
    """How ``sentinel audit verify`` reads alerts: their history rows and their audited state, from any backend."""

    kind = "alert"

    def __init__(self, store: Store) -> None:
        self.store = store

    def rows(self, object_id: str) -> list[Row]:
        return [
            Row(f"version {c.version} ({c.action} by {c.actor})", c.digest, c.content_digest())
            for c in self.store.alert_history(object_id)
            if c.actor != "detector"
        ]

    def state(self, object_id: str) -> dict[str, Any] | None:
        alert = self.store.get_alert(object_id)
        return alert_state(alert) if alert else None
