"""File tailing: offsets, restart, rotation (rename and copytruncate), partial lines, multi-line, formats."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sentinel.collect.files import FileOptions, FileSource

LINE = '10.1.4.{i} - - [01/Jul/2026:10:00:00 +0700] "GET /dvc/{i} HTTP/1.1" 200 12 "-" "k6"\n'


def _lines(a: int, b: int) -> str:
    return "".join(LINE.format(i=i) for i in range(a, b))


def _paths(events: list[dict]) -> list[str]:
    return [e["url"]["original"] for e in events]


def _read_once(tmp_path: Path, patterns: list[str], options: FileOptions | None = None) -> list[dict]:
    """Run a source to the end of its files, committing every batch as the runner does."""
    src = FileSource("t", patterns, tmp_path / "state" / "offsets.json", options or FileOptions(poll_interval=0.01))
    src.once = True
    events: list[dict] = []
    for batch in src.batches(threading.Event()):
        events += batch.events
        src.commit(batch.checkpoint)
    src.close()
    return events


class Follower:
    """A source following files in a thread, as the collector runs it."""

    def __init__(self, tmp_path: Path, patterns: list[str], **opts: object) -> None:
        options = FileOptions(poll_interval=0.02, scan_interval=0.05, rotate_wait=0.3, **opts)  # type: ignore[arg-type]
        self.src = FileSource("t", patterns, tmp_path / "state" / "offsets.json", options)
        self.events: list[dict] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        for batch in self.src.batches(self.stop):
            self.events += batch.events
            self.src.commit(batch.checkpoint)

    def wait_for(self, cond: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, f"timed out with {len(self.events)} events"
            time.sleep(0.02)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.src.close()


def test_reads_every_line_with_offsets_and_ids(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 100))
    events = _read_once(tmp_path, [str(log)])
    assert _paths(events) == [f"/dvc/{i}" for i in range(100)]
    assert [e["log"]["offset"] for e in events[:2]] == [0, len(LINE.format(i=0))]
    assert all(e["log"]["file"]["path"] == str(log) for e in events)
    assert len({e["event"]["id"] for e in events}) == 100


def test_restart_resumes_where_it_stopped(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 50))
    first = _read_once(tmp_path, [str(log)])
    with log.open("a") as f:
        f.write(_lines(50, 80))
    second = _read_once(tmp_path, [str(log)])
    assert _paths(first + second) == [f"/dvc/{i}" for i in range(80)]


def test_rereading_without_offsets_gives_the_same_ids(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 20))
    a = _read_once(tmp_path / "a", [str(log)])
    b = _read_once(tmp_path / "b", [str(log)])
    assert [e["event"]["id"] for e in a] == [e["event"]["id"] for e in b]


def test_glob_picks_up_several_files(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(_lines(0, 5))
    (tmp_path / "b.log").write_text(_lines(5, 10))
    (tmp_path / "skip.txt").write_text(_lines(10, 12))
    events = _read_once(tmp_path, [str(tmp_path / "*.log")])
    assert sorted(_paths(events)) == sorted(f"/dvc/{i}" for i in range(10))


def test_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    whole = LINE.format(i=1)
    log.write_text(_lines(0, 1) + whole[:30])
    f = Follower(tmp_path, [str(log)])
    try:
        f.wait_for(lambda: len(f.events) == 1)
        time.sleep(0.3)
        assert len(f.events) == 1  # the half line is not emitted
        with log.open("a") as fh:
            fh.write(whole[30:])
        f.wait_for(lambda: len(f.events) == 2)
        assert f.events[1]["url"]["original"] == "/dvc/1"
        assert f.events[1]["event"]["kind"] == "event"
    finally:
        f.close()


def test_once_takes_a_last_line_without_newline(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 3).rstrip("\n"))
    assert _paths(_read_once(tmp_path, [str(log)])) == ["/dvc/0", "/dvc/1", "/dvc/2"]


def test_rename_and_create_rotation_loses_nothing(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 100))
    f = Follower(tmp_path, [str(log)])
    try:
        f.wait_for(lambda: len(f.events) >= 100)
        with log.open("a") as old:
            os.rename(log, tmp_path / "access.log.1")
            old.write(_lines(100, 120))  # the writer still has the old file open
        log.write_text(_lines(120, 150))
        f.wait_for(lambda: len(f.events) >= 150)
        time.sleep(0.5)
    finally:
        f.close()
    assert sorted(_paths(f.events)) == sorted(f"/dvc/{i}" for i in range(150))


def test_copytruncate_rotation_with_the_copy_in_the_glob(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 100))
    f = Follower(tmp_path, [str(tmp_path / "access.log*")])
    try:
        f.wait_for(lambda: len(f.events) >= 100)
        with log.open("a") as fh:
            fh.write(_lines(100, 110))
        shutil.copyfile(log, tmp_path / "access.log.1")
        time.sleep(0.3)  # the collector scans while the copy exists and the original is not yet truncated
        with log.open("r+") as fh:
            fh.truncate(0)
        with log.open("a") as fh:
            fh.write(_lines(110, 130))
        f.wait_for(lambda: len(f.events) >= 130)
        time.sleep(0.5)
    finally:
        f.close()
    assert sorted(_paths(f.events)) == sorted(f"/dvc/{i}" for i in range(130))


def test_copytruncate_while_down_the_copy_carries_on_from_the_saved_offset(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 100))
    first = _read_once(tmp_path, [str(tmp_path / "access.log*")])
    with log.open("a") as fh:
        fh.write(_lines(100, 110))  # never read before the copy: only the copy has these lines
    shutil.copyfile(log, tmp_path / "access.log.1")
    with log.open("r+") as fh:
        fh.truncate(0)
    with log.open("a") as fh:
        fh.write(_lines(110, 130))
    second = _read_once(tmp_path, [str(tmp_path / "access.log*")])
    assert sorted(_paths(first + second)) == sorted(f"/dvc/{i}" for i in range(130))
    assert len(second) == 30  # neither the copy's first 100 lines nor anything else twice


def test_copytruncate_without_the_copy_starts_again_at_zero(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 30))
    f = Follower(tmp_path, [str(log)])
    try:
        f.wait_for(lambda: len(f.events) >= 30)
        with log.open("r+") as fh:
            fh.truncate(0)
        log.write_text(_lines(30, 35))
        f.wait_for(lambda: len(f.events) >= 35)
    finally:
        f.close()
    assert _paths(f.events) == [f"/dvc/{i}" for i in range(35)]


def test_offsets_survive_for_a_file_rotated_while_down(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 10))
    first = _read_once(tmp_path, [str(tmp_path / "access.log*")])
    with log.open("a") as fh:
        fh.write(_lines(10, 15))
    os.rename(log, tmp_path / "access.log.1")  # rotated while the collector was down
    log.write_text(_lines(15, 20))
    second = _read_once(tmp_path, [str(tmp_path / "access.log*")])
    assert sorted(_paths(first + second)) == sorted(f"/dvc/{i}" for i in range(20))


def test_multiline_stack_traces_in_plain_format(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "2026-07-01 10:00:00 ERROR failed\n\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)\n2026-07-01 10:00:01 INFO ok\n"
    )
    opts = FileOptions(fmt="plain", multiline={"mode": "pattern", "start": r"^\d{4}-"}, poll_interval=0.01)
    events = _read_once(tmp_path, [str(log)], opts)
    assert [e["message"].count("\n") for e in events] == [2, 0]
    assert events[1]["log"]["offset"] == log.read_bytes().index(b"2026-07-01 10:00:01")


def test_multiline_json_records(tmp_path: Path) -> None:
    log = tmp_path / "app.json"
    log.write_text('{"message": "a",\n "user": {"name": "u1"}}\n{"message": "b"}\n')
    opts = FileOptions(fmt="json", multiline={"mode": "json"}, poll_interval=0.01)
    events = _read_once(tmp_path, [str(log)], opts)
    assert [e["event"]["kind"] for e in events] == ["event", "event"]
    assert [e["message"] for e in events] == ["a", "b"]


def test_incomplete_multiline_record_is_resumed_after_restart(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("S first\n cont\n")
    src = FileSource(
        "t", [str(log)], tmp_path / "o.json",
        FileOptions(fmt="plain", multiline={"mode": "pattern", "start": "^S"}, multiline_timeout=60),
    )  # fmt: skip
    stop = threading.Event()
    gen = src.batches(stop)
    # nothing complete yet; the saved offset must stay at the record's first line
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    assert list(gen) == []
    src.close()
    saved = FileSource("t", [str(log)], tmp_path / "o.json").offsets.files
    assert all(s.offset == 0 for s in saved.values())


def test_syslog_file_lines(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(
        "Jul  1 10:00:00 gw kernel: [1.5] DROP-IN: IN=eth0 OUT= SRC=198.51.100.9 DST=10.1.4.2 LEN=60 "
        "PROTO=TCP SPT=40000 DPT=22 SYN\nnot syslog at all\n"
    )
    events = _read_once(tmp_path, [str(log)], FileOptions(fmt="syslog", poll_interval=0.01))
    assert events[0]["event"]["dataset"] == "iptables.log"
    assert events[0]["destination"] == {"ip": "10.1.4.2", "port": 22}
    assert events[1]["event"]["kind"] == "pipeline_error"


def test_malformed_lines_are_kept_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 2) + "this is not an access log line\n" + _lines(2, 3))
    src = FileSource("t", [str(log)], tmp_path / "o.json", FileOptions(fmt="access", poll_interval=0.01))
    src.once = True
    events = [e for b in src.batches(threading.Event()) for e in b.events]
    assert [e["event"]["kind"] for e in events] == ["event", "event", "pipeline_error", "event"]
    assert src.status().parse_errors == 1 and src.status().read == 4


def test_batches_are_bounded_and_checkpoints_match_their_content(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_lines(0, 1000))
    src = FileSource("t", [str(log)], tmp_path / "o.json", FileOptions(batch_events=300, poll_interval=0.01))
    src.once = True
    seen = 0
    for batch in src.batches(threading.Event()):
        assert len(batch.events) <= 300
        seen += len(batch.events)
        (offset,) = [c[1] for c in batch.checkpoint.values()]
        assert offset == len(_lines(0, seen).encode())  # resuming here re-reads nothing and skips nothing
    assert seen == 1000
