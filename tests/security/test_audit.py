"""The hash-chained audit trail detects any change, deletion, insertion, reordering or truncation."""

from __future__ import annotations

import multiprocessing

import orjson
import pytest
from click.testing import CliRunner

from sentinel.audit import AuditLog
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


def test_changed_record_is_named(log):
    ls = lines(log)
    rec = orjson.loads(ls[2])
    rec["actor"] = "someone-else"
    ls[2] = orjson.dumps(rec) + b"\n"
    log.path.write_bytes(b"".join(ls))
    r = log.verify()
    assert not r.ok and r.first_bad == 3 and "changed" in r.reason


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
    assert not r.ok
    assert r.first_bad == {"delete": 4, "swap": 2, "insert_copy": 5}[edit]


def test_truncation_is_caught_by_the_head(log):
    head = log.head()
    log.path.write_bytes(b"".join(lines(log)[:4]))
    r = log.verify()
    assert not r.ok and "cut off" in r.reason
    # even if the attacker also rewrites the head file, a head kept elsewhere still catches it
    log.head_path.write_bytes(orjson.dumps({"seq": 4, "hash": orjson.loads(lines(log)[3])["hash"]}))
    assert log.verify().ok
    assert not log.verify(expected_head=head).ok


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
