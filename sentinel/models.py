"""Records shared between stages: alerts and their change history.

Events are plain ECS dicts (see :mod:`sentinel.ecs`); alerts have a fixed shape
so that the streaming engine, the Elasticsearch scheduler, the store backends,
the API and the console all agree on it.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sentinel.audit import digest as audit_digest

AlertStatus = Literal["open", "acknowledged", "in_progress", "closed"]
Disposition = Literal["true_positive", "false_positive", "benign"]
Level = Literal["informational", "low", "medium", "high", "critical"]

LEVEL_RISK = {"informational": 10, "low": 25, "medium": 50, "high": 75, "critical": 95}
# Keep a bounded sample of evidence in the alert; the full list of ids is capped too.
MAX_EVIDENCE_EVENTS = 20
MAX_EVENT_IDS = 1000
# An alert's place labels, coarsest first: its scope (who sees it, where it is escalated, what it folds with).
SCOPE_LABELS = ("province", "commune", "unit")


class RuleRef(BaseModel):
    """The rule that fired, as far as an analyst needs it on the alert."""

    id: str
    title: str
    level: Level = "medium"
    tags: list[str] = Field(default_factory=list)
    description: str | None = None


class Alert(BaseModel):
    """One alert: a rule that matched for one entity (group), possibly many times.

    ``version`` starts at 1 and grows with every change; updates must send the
    version they read (optimistic concurrency), so concurrent edits never
    silently overwrite each other.
    """

    model_config = ConfigDict(populate_by_name=True)

    id: str
    timestamp: str = Field(alias="@timestamp")
    rule: RuleRef
    group_key: str = ""
    entity: dict[str, Any] = Field(default_factory=dict)
    count: int = 1
    first_seen: str
    last_seen: str
    event_ids: list[str] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    status: AlertStatus = "open"
    disposition: Disposition | None = None
    severity: Level = "medium"
    risk_score: int = 50
    assignee: str | None = None
    tags: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    notes: list[dict[str, Any]] = Field(default_factory=list)
    updated_by: str | None = None
    updated_at: str | None = None
    close_reason: str | None = None
    # Who last changed the status and when; set by every status change so the
    # alert itself answers "who closed this and why" without reading history.
    status_by: str | None = None
    status_at: str | None = None
    # First acknowledgement (any move out of "open") and last close: the
    # response stage measures time-to-acknowledge/close from these.
    acknowledged_at: str | None = None
    closed_at: str | None = None
    version: int = 1

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


class AlertChange(BaseModel):
    """One entry of an alert's audited history."""

    alert_id: str
    version: int
    at: str
    actor: str
    action: str
    before: dict[str, Any] = Field(default_factory=dict)
    after: dict[str, Any] = Field(default_factory=dict)
    digest: str | None = None  # of the content below, also recorded in the audit chain (None: written earlier)

    def content_digest(self) -> str:
        """The digest of what this entry says; a stored entry whose ``digest`` differs was rewritten."""
        return audit_digest(
            {
                "object": f"alert:{self.alert_id}",
                "version": self.version,
                "at": self.at,
                "actor": self.actor,
                "action": self.action,
                "before": self.before,
                "after": self.after,
            }
        )


def alert_id(rule_id: str, group_key: str, first_event_id: str) -> str:
    """Deterministic alert id: the same rule, group and first event always give the same alert."""
    raw = f"{rule_id}\0{group_key}\0{first_event_id}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def scope_of(labels: dict[str, Any] | None) -> tuple[str, ...]:
    """The place part of some labels: alerts of different places never fold into one."""
    labels = labels or {}
    return tuple(str(labels.get(name) or "") for name in SCOPE_LABELS)
