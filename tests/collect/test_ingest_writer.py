"""The API's writer process: batches and forwarded matches go through one process of its own.

The server only decompresses and sends raw JSON lines; a process spawned from the settings (with its
own transform workers) decodes, protects, stores, detects and answers the counts. These tests run the
real app and real processes: the counts through the process, a killed writer (503, then a new one),
a stop that writes what is queued and leaves no process, and correlations through the same process.
"""

from __future__ import annotations

import gzip
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.collect.parsers import parse_line
from sentinel.config import Settings
from sentinel.errors import Unavailable
from sentinel.ingest import WriterProcess
from sentinel.store import AlertQuery, EventQuery, SQLiteStore

TOKEN = "writer-process-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}
# the pack's "burst of 404 responses to one source" correlation and the base rule it counts
NOT_FOUND_RULE = "85f37042-ec1c-4587-916b-e26cef3aeca8"
NOT_FOUND_BURST = "43a54c0c-a91b-4c7a-95ab-32ba456b8a5d"


def _settings(tmp_path: Path, workers: int = 2) -> Settings:
    return Settings(data_dir=tmp_path, api={"host": "0.0.0.0"}, ingest_token=TOKEN, workers=workers)


def _events(prefix: str, n: int) -> list[dict]:
    return [
        {"@timestamp": "2026-07-01T03:00:00Z", "event": {"id": f"{prefix}{i}", "kind": "event"}, "message": f"m {i}"}
        for i in range(n)
    ]


def _lines(docs: list[dict], extra: bytes = b"") -> bytes:
    return b"\n".join(orjson.dumps(d) for d in docs) + b"\n" + extra


def _post(client: TestClient, docs: list[dict]):  # type: ignore[no-untyped-def]
    return client.post("/api/ingest", content=gzip.compress(_lines(docs)), headers=HEADERS)


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first); None once the process is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return None if fields[0] == "Z" else fields


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(int(stat.parent.name))
        if fields is not None and fields[1] == str(pid):
            found.add(int(stat.parent.name))
    return found


def _until(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_batches_are_decoded_protected_and_stored_by_a_lower_priority_process(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")  # the app's own store: the writer process opens the same file
    cccd = "001099012345"
    docs = _events("a", 30)
    docs[0]["message"] = f"hồ sơ của công dân CCCD {cccd}"
    body = gzip.compress(_lines(docs, b"not json\n"))
    try:
        with TestClient(create_app(_settings(tmp_path), store=store)) as client:
            first = client.post("/api/ingest", content=body, headers=HEADERS)
            assert first.status_code == 200, first.text
            assert first.json() == {"received": 31, "stored": 31, "duplicates": 0, "parse_errors": 1,
                                    "rejected_lines": 1, "alerts": 0}  # fmt: skip
            again = client.post("/api/ingest", content=body, headers=HEADERS).json()
            # the bad line's pipeline_error event has an id from its place and bytes: a retry stores nothing twice
            assert (again["stored"], again["duplicates"], again["rejected_lines"]) == (0, 31, 1)
            few = _events("b", 2)  # a batch this small is protected by the writer process itself
            few[1]["message"] = f"CCCD {cccd} tra cứu"
            assert _post(client, few).json()["stored"] == 2
            writer = client.app.state.ingest_writer
            pid = writer.pid
            assert pid is not None and pid != os.getpid() and pid in _children(os.getpid())
            workers = _children(pid)
            assert len(workers) == 1  # its own transform worker, forked from it
            server_nice, writer_nice = int(_stat(os.getpid())[16]), int(_stat(pid)[16])  # type: ignore[index]
            assert writer_nice > server_nice
        # the server stopped: the process and its worker ended with it
        _until(lambda: _stat(pid) is None and not any(_stat(w) for w in workers), "the writer to end", 10)
        errors = store.search_events(EventQuery(filters={"event.kind": ["pipeline_error"]})).events
        assert [e["event"]["original"] for e in errors] == ["not json"]
        assert store.count_events(EventQuery()) == 33
        assert "pz-vn_cccd-" in store.get_event("a0")["message"] and "pz-vn_cccd-" in store.get_event("b1")["message"]
        assert cccd not in orjson.dumps(store.search_events(EventQuery(limit=100)).events).decode()
    finally:
        store.close()


def test_a_killed_writer_fails_its_batches_with_503_and_the_next_batch_starts_another(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        with TestClient(create_app(_settings(tmp_path), store=store)) as client:
            assert _post(client, _events("a", 5)).is_success
            writer = client.app.state.ingest_writer
            pid = writer.pid
            workers = _children(pid)
            os.kill(pid, signal.SIGSTOP)  # the batch below is sent and waits for its answer
            batch = gzip.compress(_lines(_events("b", 20)))
            answers: list = []
            sender = threading.Thread(
                target=lambda: answers.append(client.post("/api/ingest", content=batch, headers=HEADERS))
            )
            sender.start()
            _until(lambda: writer.in_flight == 1, "the batch to be sent")
            os.kill(pid, signal.SIGKILL)
            sender.join(30)
            (lost,) = answers
            assert lost.status_code == 503
            assert "ingest writer process ended (exit code -9) before answering" in lost.json()["detail"]
            _until(lambda: not any(_stat(w) for w in workers), "the killed writer's workers to end", 10)
            # the collector retries: a new process stores the batch
            retry = client.post("/api/ingest", content=batch, headers=HEADERS)
            assert retry.status_code == 200 and retry.json()["stored"] == 20
            assert writer.pid not in (None, pid)
        assert store.count_events(EventQuery()) == 25
    finally:
        store.close()


def test_a_dead_writers_pipe_is_not_closed_under_a_batch_being_sent_to_it(tmp_path: Path) -> None:
    """The pipe to a writer that died is closed only once no batch is being written to it (closed in
    the middle of a write, the write would crash with a TypeError instead of failing as a broken pipe)."""
    store = SQLiteStore(tmp_path / "s.db")
    try:
        with TestClient(create_app(_settings(tmp_path, workers=1), store=store)) as client:
            assert _post(client, _events("a", 5)).is_success
            writer = client.app.state.ingest_writer
            current = writer._current
            with writer._send_lock:  # as send holds it while it writes a batch to the pipe
                os.kill(current.process.pid, signal.SIGKILL)
                _until(lambda: current.ended, "the writer's answer thread to see it end")
                time.sleep(0.3)
                assert not current.conn.closed
            _until(lambda: current.conn.closed, "the pipe to be closed")
            assert _post(client, _events("b", 5)).json()["stored"] == 5  # a new writer process
        assert store.count_events(EventQuery()) == 10
    finally:
        store.close()


def test_a_batch_alone_is_answered_while_its_writer_makes_parts_the_worker_has_not_taken(tmp_path: Path) -> None:
    """Nothing else arrives: the writer makes the queued parts itself, then answers (it never waits for a request)."""
    path = tmp_path / "s.db"
    writer = WriterProcess(_settings(tmp_path), store_path=path, workers=2, depth=3)
    try:
        # six parts of 500: two in the worker, four queued for whoever is free first
        for name, size in (("solo-", 3000), ("next-", 1200)):
            slot = writer.reserve()
            answer = writer.send(slot, "ingest", "edge", lambda name=name, size=size: _lines(_events(name, size)))
            assert answer.result(120)[:2] == (size, size)
    finally:
        writer.close()


def test_a_batch_whose_worker_is_killed_is_still_stored_whole(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    """The writer's worker killed mid-batch: the writer makes its parts itself and answers; a new worker follows."""
    path = tmp_path / "s.db"
    writer = WriterProcess(_settings(tmp_path), store_path=path, workers=2, depth=3)
    try:
        writer.start()
        assert writer.pid is not None
        _until(lambda: len(_children(writer.pid)) == 1, "the writer's worker to start")  # type: ignore[arg-type]
        (worker,) = _children(writer.pid)  # type: ignore[arg-type]
        answer = writer.send(writer.reserve(), "ingest", "edge", lambda: _lines(_events("big-", 10_000)))
        time.sleep(0.5)  # the worker is halfway through its parts
        os.kill(worker, signal.SIGKILL)
        assert answer.result(180)[:2] == (10_000, 10_000)
        again = writer.send(writer.reserve(), "ingest", "edge", lambda: _lines(_events("after-", 1200)))
        assert again.result(120)[:2] == (1200, 1200)
        assert _children(writer.pid) - {worker}  # type: ignore[arg-type]  # a new worker
    finally:
        writer.close()
    assert "an ingest worker process ended (exit code -9)" in capfd.readouterr().err
    store = SQLiteStore(path)
    try:
        assert store.count_events(EventQuery()) == 11_200
    finally:
        store.close()


def test_stopping_writes_what_is_queued_and_ends_the_process(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    writer = WriterProcess(_settings(tmp_path), store_path=path, workers=1, depth=3)
    slots = [writer.reserve() for _ in range(4)]
    assert [s.done() for s in slots] == [True, True, True, False]  # three in flight; the fourth waits
    answers = [
        writer.send(slot, "ingest", "edge", lambda n=n: _lines(_events(f"q{n}-", 10 + n)))
        for n, slot in enumerate(slots[:3])
    ]
    assert answers[0].result(120)[:2] == (10, 10)
    assert slots[3].result(5) is None  # an answer gave its place to the one waiting
    writer.release(slots[3])  # not used: given back
    pid = writer.pid
    assert pid is not None
    writer.close()  # at once: the batches already sent are written and answered first
    assert [a.result(0)[:2] for a in answers] == [(10, 10), (11, 11), (12, 12)]
    assert _stat(pid) is None
    with pytest.raises(Unavailable, match="closed"):
        writer.reserve().result(0)
    store = SQLiteStore(path)
    try:
        assert store.count_events(EventQuery()) == 33
    finally:
        store.close()


def test_forwarded_matches_are_correlated_by_the_writer_process(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    now = datetime.now(UTC)
    line = '203.0.113.9 - - [{t}] "GET /wp-admin/x{i}.php HTTP/1.1" 404 12 "-" "scanner"'
    events = [
        parse_line(line.format(i=i, t=(now + timedelta(seconds=i)).strftime("%d/%b/%Y:%H:%M:%S %z")).encode(),
                   source="edge", position=i, fmt="access")
        for i in range(40)
    ]  # fmt: skip
    matches = [{"rule": NOT_FOUND_RULE, "correlation": NOT_FOUND_BURST, "event": e} for e in events]
    try:
        with TestClient(create_app(_settings(tmp_path, workers=1), store=store)) as client:
            bad = client.post("/api/correlate", content=gzip.compress(b'{"rule": "x"}\n'), headers=HEADERS)
            assert bad.status_code == 400 and "line 1 is not a match" in bad.json()["detail"]
            r = client.post("/api/correlate", content=gzip.compress(_lines(matches)), headers=HEADERS)
            assert r.status_code == 200, r.text
            assert (r.json()["received"], r.json()["alerts"]) == (40, 1)
            pid = client.app.state.ingest_writer.pid
            # a batch after it goes to the same process (detection state has one owner)
            assert _post(client, _events("c", 3)).is_success
            assert client.app.state.ingest_writer.pid == pid
        (alert,) = [a for a in store.list_alerts(AlertQuery()) if a.rule.id == NOT_FOUND_BURST]
        assert alert.group_key == "source.ip=203.0.113.9" and alert.count == 40
    finally:
        store.close()
