"""Cases: alerts grouped into one investigation, with an owner, tasks, observables and a closing summary.

A case is changed only by :class:`CaseAction`\\ s, each applied with the
version the analyst saw (a stale one is a :class:`VersionConflict`, 409 in the
API) and written to the case's history, which is its timeline. Its scope is
the province/commune its alerts share: a case of alerts from two provinces
carries no place label and is visible only to callers without a scope.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sentinel import ecs
from sentinel.models import Alert, Disposition, Level
from sentinel.store import InvalidChange

CaseStatus = Literal["open", "in_progress", "closed"]
MAX_TEXT = 10_000
MAX_ALERTS = 500
# Fields whose values become a case's observables, by observable type.
OBSERVABLE_FIELDS = {
    "source.ip": "ip",
    "destination.ip": "ip",
    "client.ip": "ip",
    "user.name": "user",
    "host.name": "host",
    "url.domain": "domain",
    "destination.domain": "domain",
    "dns.question.name": "domain",
    "file.hash.sha256": "hash",
}
SCOPE_LABELS = ("province", "commune")


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = Field(min_length=1, max_length=300)
    owner: str | None = None
    status: Literal["todo", "done"] = "todo"
    done_by: str | None = None
    done_at: str | None = None


class Observable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    value: str
    alerts: list[str] = Field(default_factory=list)


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=MAX_TEXT)
    status: CaseStatus = "open"
    severity: Level = "medium"
    assignee: str | None = None
    alert_ids: list[str] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    observables: list[Observable] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    resolution: Disposition | None = None
    summary: str | None = None
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str
    closed_at: str | None = None
    version: int = 1


class CaseIn(BaseModel):
    """What opening a case takes."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=MAX_TEXT)
    severity: Level = "medium"
    assignee: str | None = Field(None, max_length=200)
    alert_ids: list[str] = Field(default_factory=list, max_length=MAX_ALERTS)


CaseActionName = Literal[
    "assign", "start", "rate", "describe", "add_alerts", "remove_alert", "add_task", "finish_task", "close", "reopen"
]


class CaseAction(BaseModel):
    """One change to a case; which fields it needs depends on ``action``."""

    model_config = ConfigDict(extra="forbid")

    action: CaseActionName
    assignee: str | None = Field(None, max_length=200)
    severity: Level | None = None
    description: str | None = Field(None, max_length=MAX_TEXT)
    alert_ids: list[str] = Field(default_factory=list, max_length=MAX_ALERTS)
    task: str | None = Field(None, max_length=300)
    task_id: str | None = None
    owner: str | None = Field(None, max_length=200)
    resolution: Disposition | None = None
    summary: str | None = Field(None, max_length=MAX_TEXT)

    @model_validator(mode="after")
    def _needs(self) -> CaseAction:
        needs = {
            "assign": self.assignee is not None,
            "rate": self.severity is not None,
            "describe": self.description is not None,
            "add_alerts": bool(self.alert_ids),
            "remove_alert": len(self.alert_ids) == 1,
            "add_task": bool((self.task or "").strip()),
            "finish_task": bool(self.task_id),
            "close": bool(self.resolution and (self.summary or "").strip()),
        }
        if not needs.get(self.action, True):
            what = {
                "assign": "an assignee",
                "rate": "a severity",
                "describe": "a description",
                "add_alerts": "alert_ids",
                "remove_alert": "exactly one alert id",
                "add_task": "a task title",
                "finish_task": "a task_id",
                "close": "a resolution (true_positive, false_positive, benign) and a summary",
            }[self.action]
            raise ValueError(f"{self.action} needs {what}")
        return self


def new_case(data: CaseIn, alerts: list[Alert], actor: str) -> Case:
    now = ecs.now_ts()
    case = Case(
        id="case-" + secrets.token_hex(6),
        title=data.title.strip(),
        description=data.description,
        severity=data.severity,
        assignee=data.assignee,
        alert_ids=[a.id for a in alerts],
        created_at=now,
        created_by=actor,
        updated_at=now,
        updated_by=actor,
    )
    return with_alerts(case, alerts)


def with_alerts(case: Case, alerts: list[Alert]) -> Case:
    """The case with its derived parts recomputed from its alerts: observables and shared scope labels."""
    case.observables = observables(alerts)
    case.labels = shared_labels(alerts)
    return case


def shared_labels(alerts: Iterable[Alert]) -> dict[str, str]:
    """The place labels every alert has with the same value (empty for no alerts or mixed places)."""
    alerts = list(alerts)
    if not alerts:
        return {}
    out = {}
    for name in SCOPE_LABELS:
        values = {a.labels.get(name) for a in alerts}
        if len(values) == 1 and None not in values:
            out[name] = values.pop()
    # a commune without its province would widen the scope
    return out if "province" in out or not out else {}


def observables(alerts: Iterable[Alert]) -> list[Observable]:
    """Entity and evidence values worth pivoting on, each with the alerts it came from."""
    found: dict[tuple[str, str], list[str]] = {}
    for a in alerts:
        docs = [a.entity, *a.events]
        for doc in docs:
            for field, kind in OBSERVABLE_FIELDS.items():
                value = doc.get(field) if field in doc else ecs.get_field(doc, field)
                if isinstance(value, str) and value:
                    ids = found.setdefault((kind, value), [])
                    if a.id not in ids:
                        ids.append(a.id)
    return [Observable(type=k, value=v, alerts=ids) for (k, v), ids in sorted(found.items())]


def case_changes(case: Case, act: CaseAction, actor: str, alerts: list[Alert] | None = None) -> dict[str, Any]:
    """The field changes ``act`` makes; ``alerts`` are the case's alerts after an alert change (checked by the caller).

    Raises :class:`InvalidChange` when the action does not apply to the case as it is.
    """
    if case.status == "closed" and act.action not in ("reopen",):
        raise InvalidChange(f"the case is closed: reopen it before you {act.action.replace('_', ' ')}")
    now = ecs.now_ts()
    match act.action:
        case "assign":
            return {"assignee": act.assignee or None}
        case "start":
            if case.status != "open":
                raise InvalidChange("only an open case can be started")
            return {"status": "in_progress", "assignee": case.assignee or actor}
        case "rate":
            return {"severity": act.severity}
        case "describe":
            return {"description": act.description}
        case "add_alerts" | "remove_alert":
            if alerts is None:  # pragma: no cover - the service always passes them
                raise InvalidChange("alert changes need the alerts")
            if not alerts:
                raise InvalidChange("a case keeps at least one alert")
            if len(alerts) > MAX_ALERTS:
                raise InvalidChange(f"a case holds at most {MAX_ALERTS} alerts")
            derived = with_alerts(case.model_copy(deep=True), alerts)
            return {
                "alert_ids": [a.id for a in alerts],
                "observables": [o.model_dump() for o in derived.observables],
                "labels": derived.labels,
            }
        case "add_task":
            task = Task(id="t" + secrets.token_hex(3), title=(act.task or "").strip(), owner=act.owner or None)
            return {"tasks": [*(t.model_dump() for t in case.tasks), task.model_dump()]}
        case "finish_task":
            tasks = [t.model_dump() for t in case.tasks]
            hit = next((t for t in tasks if t["id"] == act.task_id), None)
            if hit is None:
                raise InvalidChange(f"the case has no task {act.task_id}")
            if hit["status"] == "done":
                raise InvalidChange(f"task {act.task_id} is done already")
            hit.update(status="done", done_by=actor, done_at=now)
            return {"tasks": tasks}
        case "close":
            open_tasks = [t.title for t in case.tasks if t.status != "done"]
            if open_tasks:
                raise InvalidChange(f"finish the open tasks first: {', '.join(open_tasks[:3])}")
            return {"status": "closed", "resolution": act.resolution, "summary": act.summary, "closed_at": now}
        case "reopen":
            if case.status != "closed":
                raise InvalidChange("only a closed case can be reopened")
            return {"status": "in_progress", "closed_at": None}
    raise InvalidChange(f"unknown action {act.action}")  # pragma: no cover - the model limits actions
