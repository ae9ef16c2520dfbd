"""The hash-chained audit trail detects any change, deletion, insertion, reordering or truncation."""

from __future__ import annotations

import multiprocessing
import stat

import orjson
import pytest
from click.testing import CliRunner

from sentinel.audit import Actor, AuditLog, Entry, VerifyResult, _digest, acting_as, digest
from sentinel.cli.main import cli


@pytest.fixture
def log(tmp_path):
    a = AuditLog(tmp_path / "audit.log")
    for i in range(6):
        a.record(f"user{i}", "alert.update", f"alert-{i}", status="closed")
    return a


def lines(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().splitlines(keepends=True)


def test_intact_chain_verifies(log):
    r = log.verify()
    assert r.ok and r.records == 6
    assert log.head()["seq"] == 6


def test_a_record_keeps_who_did_what_to_what(tmp_path):
    a = AuditLog(tmp_path / "nested" / "folder" / "audit.log")
    assert a.head() is None and a.verify() == VerifyResult(True, 0)  # nothing written yet: an empty, intact log
    first = a.record("lan", "alert.update", "alert-7", status="closed", reason="fp")
    second = a.record("minh", "user.add", "binh")
    assert set(first) == {
        "seq",
        "at",
        "actor",
        "role",
        "scope",
        "client",
        "action",
        "object",
        "details",
        "prev",
        "hash",
    }
    assert (first["seq"], first["actor"], first["action"], first["object"]) == (1, "lan", "alert.update", "alert-7")
    assert first["details"] == {"status": "closed", "reason": "fp"} and first["prev"] == "0" * 64
    assert (second["seq"], second["prev"], second["details"]) == (2, first["hash"], {})
    assert list(a) == [first, second]  # what is returned is what is written
    assert a.head_path.name == "audit.log.head" and a.head() == {"seq": 2, "hash": second["hash"]}
    assert stat.S_IMODE(a.path.stat().st_mode) == 0o600  # who acted on which citizen's record is personal data
    assert set(a.path.parent.iterdir()) == {a.path, a.head_path}  # the head's temporary file was renamed


def test_entries_are_chained_with_digests_of_their_state_and_the_acting_callers_role(tmp_path):
    a = AuditLog(tmp_path / "audit.log")
    before, after = {"status": "open", "assignee": None}, {"status": "closed", "assignee": "lan"}
    entries = [
        Entry("alert.update", "alert:a1", version=3, before=before, after=after, row="f" * 64),
        Entry("alert.note", "alert:a2", details={"text": "seen"}),
    ]
    with acting_as(Actor("lan", "soc_analyst", "Hà Nội", "203.0.113.7")):
        first, second = a.append("lan", entries)
        (other,) = a.append("minh", [Entry("alert.note", "alert:a3")])  # another name: not the acting caller
    assert {k: first[k] for k in ("seq", "actor", "role", "scope", "client", "object", "version", "row")} == {
        "seq": 1, "actor": "lan", "role": "soc_analyst", "scope": "Hà Nội", "client": "203.0.113.7",
        "object": "alert:a1", "version": 3, "row": "f" * 64,
    }  # fmt: skip
    assert (first["before"], first["after"]) == (digest(before), digest(after)) and first["before"] != first["after"]
    assert not {"version", "before", "after", "row"} & set(second) and second["details"] == {"text": "seen"}
    assert (second["prev"], other["prev"]) == (first["hash"], second["hash"])
    assert (other["actor"], other["role"], other["scope"], other["client"]) == ("minh", None, None, None)
    assert list(a) == [first, second, other] and a.verify() == VerifyResult(True, 3)


def test_the_chain_survives_reserialisation_with_sorted_keys(log):
    """The digest is over the canonical form: a tool that rewrites each record with its keys sorted changes nothing."""
    log.path.write_bytes(
        b"".join(orjson.dumps(orjson.loads(x), option=orjson.OPT_SORT_KEYS) + b"\n" for x in lines(log))
    )
    assert log.verify() == VerifyResult(True, 6)


def test_appending_after_a_large_log_follows_its_last_record(tmp_path):
    """The last record is found from the end of the file, however long it or the file is."""
    a = AuditLog(tmp_path / "audit.log")
    a.record("lan", "export", "dataset", rows="x" * 70_000)  # one record longer than the first read from the end
    a.record("lan", "export", "dataset", rows="y" * 300_000)
    for i in range(40):
        AuditLog(a.path).record("minh", "x", str(i), note="z" * 3000)  # a fresh writer each time
    assert a.verify() == VerifyResult(True, 42) and a.head()["seq"] == 42


def test_changed_record_is_named(log):
    ls = lines(log)
    rec = orjson.loads(ls[2])
    rec["actor"] = "someone-else"
    ls[2] = orjson.dumps(rec) + b"\n"
    log.path.write_bytes(b"".join(ls))
    r = log.verify()
    assert r == VerifyResult(False, 2, 3, "content does not match its hash (the record was changed)")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json\n", "not a JSON record"),
        (b"[1, 2]\n", "does not follow the record before it (a record was removed, inserted or reordered)"),
    ],
)
def test_a_line_that_is_not_a_record_is_named(log, line, reason):
    ls = lines(log)
    ls[4] = line
    log.path.write_bytes(b"".join(ls))
    assert log.verify() == VerifyResult(False, 4, 5, reason)


def test_a_wrong_sequence_number_is_named(log):
    ls = lines(log)
    rec = orjson.loads(ls[1])
    rec["seq"] = 7
    rec["hash"] = _digest(rec)  # recomputed, so only the sequence gives it away
    ls[1] = orjson.dumps(rec) + b"\n"
    log.path.write_bytes(b"".join(ls))
    assert log.verify() == VerifyResult(False, 1, 2, "sequence 7 where 2 was expected")


@pytest.mark.parametrize("edit", ["delete", "swap", "insert_copy"])
def test_structural_tampering_is_named(log, edit):
    ls = lines(log)
    if edit == "delete":
        del ls[3]
    elif edit == "swap":
        ls[1], ls[2] = ls[2], ls[1]
    else:
        ls.insert(4, ls[1])
    log.path.write_bytes(b"".join(ls))
    r = log.verify()
    first_bad = {"delete": 4, "swap": 2, "insert_copy": 5}[edit]
    assert r == VerifyResult(
        False,
        first_bad - 1,
        first_bad,
        "does not follow the record before it (a record was removed, inserted or reordered)",
    )


def test_truncation_is_caught_by_the_head(log):
    head = log.head()
    log.path.write_bytes(b"".join(lines(log)[:4]))
    cut = log.verify()
    assert (cut.ok, cut.records, cut.first_bad) == (
        False,
        4,
        5,
    ) and "ends at record 4 but its head says 6" in cut.reason
    # even if the attacker also rewrites the head file, a head kept elsewhere still catches it
    log.head_path.write_bytes(orjson.dumps({"seq": 4, "hash": orjson.loads(lines(log)[3])["hash"]}))
    assert log.verify().ok
    assert log.verify(expected_head=head) == VerifyResult(False, 4, 5, cut.reason)
    # a head behind the log (records appended after it was copied) names the first unexpected record
    older = {"seq": 3, "hash": orjson.loads(lines(log)[2])["hash"]}
    behind = log.verify(expected_head=older)
    assert (behind.ok, behind.records, behind.first_bad) == (False, 4, 4) and "head says 3" in behind.reason


def test_a_changed_detail_is_caught(log):
    """The digest covers every field a record carries, ``details`` included (what changed, to what)."""
    ls = lines(log)
    rec = orjson.loads(ls[3])
    rec["details"]["status"] = "open"
    ls[3] = orjson.dumps(rec) + b"\n"
    log.path.write_bytes(b"".join(ls))
    assert log.verify() == VerifyResult(False, 3, 4, "content does not match its hash (the record was changed)")


def test_a_rewritten_chain_is_caught_only_by_a_head_kept_elsewhere(log):
    """Someone who can write the file rewrites a record and recomputes every hash after it, head file included."""
    kept = log.head()
    records = [orjson.loads(line) for line in lines(log)]
    records[2]["actor"] = "someone-else"
    prev = records[1]["hash"]
    for rec in records[2:]:
        rec["prev"] = prev
        rec["hash"] = _digest(rec)
        prev = rec["hash"]
    log.path.write_bytes(b"".join(orjson.dumps(rec) + b"\n" for rec in records))
    log.head_path.write_bytes(orjson.dumps({"seq": records[-1]["seq"], "hash": prev}))
    assert log.verify().ok  # the file agrees with itself
    r = log.verify(expected_head=kept)  # same length, other hash: the copy kept off the machine disagrees
    assert not r.ok and r.records == 6 and "head" in r.reason


def test_cli_exit_codes(log, monkeypatch, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--log", str(log.path)])
    assert ok.exit_code == 0 and "intact: 6" in ok.output
    ls = lines(log)
    del ls[0]
    log.path.write_bytes(b"".join(ls))
    bad = runner.invoke(cli, ["audit", "verify", "--log", str(log.path)])
    assert bad.exit_code == 1 and "record 1" in bad.output


def _append(path: str, n: int) -> None:
    a = AuditLog(path)
    for i in range(n):
        a.record("proc", "x", str(i))


def test_concurrent_writers_keep_one_chain(tmp_path):
    path = str(tmp_path / "audit.log")
    procs = [multiprocessing.Process(target=_append, args=(path, 40)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    r = AuditLog(path).verify()
    assert r.ok and r.records == 120
