"""The one place alerts are built: rule matches, correlations and the Elasticsearch scheduler all call it.

An alert's ``labels`` are its scope (who may see it, where escalation routes it)
and come from its evidence only: a label every matched event carries with the
same value. When the evidence spans several places (one address attacking two
provinces) the place labels the events disagree on are dropped with the finer
ones below them, so the alert is national -- never silently labelled with the
first event's province, which would hide it from the other province and show
that province's evidence to the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sentinel import ecs
from sentinel.models import LEVEL_RISK, MAX_EVENT_IDS, MAX_EVIDENCE_EVENTS, SCOPE_LABELS, Alert, RuleRef, alert_id


def evidence_labels(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The labels all ``events`` agree on; a place they disagree on makes every finer place unknown too."""
    common: dict[str, str] | None = None
    seen: set[str] = set()
    for event in events:
        labels = _labels(event)
        seen.update(labels)
        common = labels if common is None else {k: v for k, v in common.items() if labels.get(k) == v}
    common = common or {}
    for i, name in enumerate(SCOPE_LABELS):
        if name in seen and name not in common:  # some evidence is elsewhere, or says nowhere
            for finer in SCOPE_LABELS[i + 1 :]:
                common.pop(finer, None)
            break
    return common


def build_alert(
    ref: RuleRef,
    *,
    group_key: str,
    entity: dict[str, Any],
    events: Sequence[dict[str, Any]],
    event_ids: Sequence[str],
    first_seen: str,
    last_seen: str,
    count: int | None = None,
    scope_evidence: Iterable[Mapping[str, Any]] | None = None,
) -> Alert:
    """An alert of ``ref`` for one group from its matched events.

    ``events`` are the evidence kept on the alert (the first
    :data:`~sentinel.models.MAX_EVIDENCE_EVENTS`); ``scope_evidence`` every match
    the labels are read from when that is more than the kept evidence (a
    correlation's whole window, or the label rows of every hit).
    """
    ids = list(event_ids)
    return Alert(
        id=alert_id(ref.id, group_key, ids[0]),
        timestamp=last_seen,
        rule=ref,
        group_key=group_key,
        entity=entity,
        count=len(ids) if count is None else count,
        first_seen=first_seen,
        last_seen=last_seen,
        event_ids=ids[:MAX_EVENT_IDS],
        events=list(events[:MAX_EVIDENCE_EVENTS]),
        severity=ref.level,
        risk_score=LEVEL_RISK[ref.level],
        tags=list(ref.tags),
        labels=evidence_labels(events if scope_evidence is None else scope_evidence),
    )


def group_key_of(entity: Mapping[str, Any]) -> str:
    """The group key of a correlation's entity (``user.name=an|source.ip=10.0.0.1``)."""
    return "|".join(f"{k}={v}" for k, v in entity.items())


def _labels(event: Mapping[str, Any]) -> dict[str, str]:
    """``labels.*`` of a nested or partly flattened event (a label row of the scheduler is one such event)."""
    return {
        k[7:]: str(v)
        for k, v in ecs.flatten(event).items()
        if k.startswith("labels.") and isinstance(v, str | int) and not isinstance(v, bool)
    }
