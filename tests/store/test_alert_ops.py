"""Backend-independent alert logic at its edges: the caps when folding, who moved the status, refused values."""

from __future__ import annotations

import pytest

from sentinel.models import MAX_EVENT_IDS
from sentinel.store.alert_ops import InvalidChange, apply_update, fold

from .test_contract import make_alert


def test_folding_stops_adding_event_ids_exactly_at_the_cap() -> None:
    merged = make_alert("e0").model_copy(update={"event_ids": [f"e{i}" for i in range(MAX_EVENT_IDS - 1)]})
    merged = fold(merged, make_alert("last-that-fits"))
    assert len(merged.event_ids) == MAX_EVENT_IDS and merged.event_ids[-1] == "last-that-fits"
    merged = fold(merged, make_alert("one-too-many"))
    assert len(merged.event_ids) == MAX_EVENT_IDS and "one-too-many" not in merged.event_ids
    assert merged.count == 3 and merged.version == 3  # still counted, only the id list is capped


def test_a_change_that_keeps_the_status_leaves_its_stamps() -> None:
    alert = make_alert()
    new, before, after = apply_update(alert, {"assignee": "lan"}, "lan")
    assert (new.status_by, new.status_at, new.acknowledged_at) == (None, None, None)
    assert (before, after) == ({"assignee": None}, {"assignee": "lan"}) and new.version == alert.version + 1


def test_moving_back_to_open_does_not_acknowledge() -> None:
    unacknowledged = make_alert().model_copy(update={"status": "in_progress"})
    reopened, _, _ = apply_update(unacknowledged, {"status": "open"}, "minh")
    assert reopened.status_by == "minh" and reopened.acknowledged_at is None
    taken, _, _ = apply_update(reopened, {"status": "in_progress"}, "minh")
    assert taken.acknowledged_at == taken.status_at is not None


def test_an_invalid_value_names_the_field_and_why() -> None:
    with pytest.raises(InvalidChange) as err:
        apply_update(make_alert(), {"severity": "apocalyptic"}, "lan")
    field, _, why = str(err.value).partition(": ")
    assert field == "severity" and "low" in why and "critical" in why
