"""Cases: optimistic locking refuses a version behind or ahead of the stored one, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel import ecs
from sentinel.errors import VersionConflict
from sentinel.respond.case_store import CaseStore
from sentinel.respond.cases import Case


def test_a_stale_case_version_conflicts_in_both_directions(tmp_path: Path) -> None:
    cases = CaseStore(tmp_path / "cases.db")
    try:
        now = ecs.now_ts()
        cases.create(Case(id="c1", title="Dò quét", created_at=now, created_by="lan", updated_at=now, updated_by="lan"))
        for stale in (0, 2):  # behind or ahead of version 1: both are someone else's view
            with pytest.raises(VersionConflict) as err:
                cases.update("c1", {"assignee": "minh"}, stale, "minh", "assign")
            assert (err.value.expected, err.value.actual) == (stale, 1)
        unchanged = cases.get("c1")
        assert unchanged is not None and (unchanged.version, unchanged.assignee) == (1, None)
        assert [h["action"] for h in cases.history("c1")] == ["create"]
        updated = cases.update("c1", {"assignee": "minh"}, 1, "minh", "assign")
        assert (updated.version, updated.assignee, updated.updated_by) == (2, "minh", "minh")
    finally:
        cases.close()
