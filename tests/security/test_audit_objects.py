"""The chain against the objects it vouches for, in this process: each finding of ``check_objects`` exactly.

``test_audit_actions.py`` checks the same through ``sentinel audit verify`` in a child process, over every
kind of object; here one kind (suppressions, in a real ``respond.db``) is rewritten each way behind
Sentinel's back and the finding must name the record, the object and what happened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from sentinel.audit import AuditLog, Entry, Finding, check_objects, digest
from sentinel.respond.db import ResponseDB
from sentinel.respond.suppress import SuppressionIn, Suppressions, SuppressionWitness


@dataclass
class World:
    db: ResponseDB
    witness: SuppressionWitness
    log: AuditLog
    ended: str  # a suppression created then ended: versions 1 and 2
    kept: str  # a suppression only created

    def findings(self) -> list[Finding]:
        return check_objects(iter(self.log), [self.witness])

    def seq(self, object_id: str, action: str) -> int:
        (seq,) = [r["seq"] for r in self.log if r["object"] == f"suppression:{object_id}" and r["action"] == action]
        return seq

    def sql(self, statement: str, *args: object) -> None:
        with closing(sqlite3.connect(self.db.path)) as conn, conn:
            conn.execute(statement, args)

    def doc(self, object_id: str) -> dict:
        with closing(sqlite3.connect(self.db.path)) as conn:
            (row,) = conn.execute("SELECT doc FROM suppressions WHERE id = ?", (object_id,)).fetchall()
        return orjson.loads(row[0])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = ResponseDB(tmp_path / "respond.db")
    suppressions = Suppressions(db)
    expires = datetime.now(UTC) + timedelta(days=1)
    ended = suppressions.create(SuppressionIn(rule_id="web-sqli", reason="pentest", expires=expires), "lan")
    suppressions.end(ended.id, 1, "minh", "pentest over")
    scanner = SuppressionIn(match={"source.ip": ["203.0.113.5"]}, reason="scanner", expires=expires)
    kept = suppressions.create(scanner, "lan")
    AuditLog.beside(db.path).record("lan", "login")  # records about no object are not checked
    yield World(db, SuppressionWitness(suppressions), AuditLog.beside(db.path), ended.id, kept.id)
    db.close()


def test_untouched_objects_give_no_finding(world: World) -> None:
    assert world.findings() == []


def test_an_object_rewritten_is_named_at_its_newest_audited_version(world: World) -> None:
    doc = {**world.doc(world.ended), "reason": "nothing"}
    world.sql("UPDATE suppressions SET doc = ? WHERE id = ?", orjson.dumps(doc), world.ended)
    assert world.findings() == [
        Finding(
            world.seq(world.ended, "suppression.end"),
            f"suppression:{world.ended}",
            "the object differs from its audited state at version 2 (rewritten)",
        )
    ]


def test_an_object_put_back_to_an_older_version_is_named(world: World) -> None:
    """The state recorded at version 1 is a valid state, but not the newest: it is a rewrite all the same."""
    (row,) = world.db.audit_trail("suppression", world.ended, limit=1)
    older = {
        **world.doc(world.ended),
        "expires": row["before"]["expires"],
        "ended_by": None,
        "ended_reason": None,
        "version": 1,
    }
    world.sql("UPDATE suppressions SET doc = ? WHERE id = ?", orjson.dumps(older), world.ended)
    (finding,) = world.findings()
    assert finding.seq == world.seq(world.ended, "suppression.end") and "at version 2" in finding.reason


def test_an_object_deleted_is_named(world: World) -> None:
    world.sql("DELETE FROM suppressions WHERE id = ?", world.kept)
    assert world.findings() == [
        Finding(world.seq(world.kept, "suppression.create"), f"suppression:{world.kept}", "the object was deleted")
    ]


def test_a_history_row_changed_is_named_with_the_record_that_vouches_for_it(world: World) -> None:
    world.sql("UPDATE audit SET actor = 'someone-else' WHERE record_id = ? AND action = 'create'", world.kept)
    seq = world.seq(world.kept, "suppression.create")
    obj = f"suppression:{world.kept}"
    assert world.findings() == [
        Finding(seq, obj, "the history row this record vouches for was changed or deleted"),
        Finding(seq, obj, "history row 3 (create by someone-else) was changed"),
    ]


def test_a_history_row_deleted_is_named(world: World) -> None:
    world.sql("DELETE FROM audit WHERE record_id = ? AND action = 'end'", world.ended)
    assert world.findings() == [
        Finding(
            world.seq(world.ended, "suppression.end"),
            f"suppression:{world.ended}",
            "the history row this record vouches for was changed or deleted",
        )
    ]


def test_history_rows_written_behind_the_chain_are_named(world: World) -> None:
    insert = (
        "INSERT INTO audit(at, actor, kind, record_id, action, before, after, digest) "
        "VALUES ('2026-01-01T00:00:00Z', 'mallory', 'suppression', ?, 'end', '{}', '{}', ?)"
    )
    world.sql(insert, world.kept, None)  # no digest at all
    forged = digest({"kind": "suppression", "record_id": world.ended, "at": "2026-01-01T00:00:00Z",
                     "actor": "mallory", "action": "end", "before": {}, "after": {}})  # fmt: skip
    world.sql(insert, world.ended, forged)  # a correct digest, but no record vouches for it
    assert sorted(world.findings(), key=lambda f: f.object != f"suppression:{world.ended}") == [
        Finding(None, f"suppression:{world.ended}", "history row 5 (end by mallory) is not in the audit trail"),
        Finding(None, f"suppression:{world.kept}", "history row 4 (end by mallory) carries no audit digest (inserted)"),
    ]


def test_an_object_whose_id_holds_a_colon_is_checked(world: World) -> None:
    """Datasets are named by URL (``postgresql://...``): the kind is what comes before the first colon."""
    world.log.append("lan", [Entry("suppression.create", "suppression:pg://db/table", version=1, after={"x": 1})])
    (finding,) = world.findings()
    assert (finding.object, finding.reason) == ("suppression:pg://db/table", "the object was deleted")


def test_records_of_other_kinds_and_without_state_are_not_checked(world: World) -> None:
    world.log.append("lan", [Entry("alert.update", "alert:gone", version=3, after={"status": "closed"})])
    world.log.append("lan", [Entry("suppression.note", f"suppression:{world.kept}", details={"text": "seen"})])
    assert world.findings() == []
