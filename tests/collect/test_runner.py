"""The runner: file -> queue -> store, target down then up, queue-full policy, rejected events, drops."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from central import TOKEN, Central, free_port

from sentinel.collect.files import FileOptions, FileSource
from sentinel.collect.source import Batch, Source, SourceStatus
from sentinel.collect.syslog import Listen, SyslogOptions, SyslogSource
from sentinel.ingest.collector import Runner, RunOptions
from sentinel.ingest.pipeline import IngestCounts, Pipeline
from sentinel.ingest.queue import DiskQueue
from sentinel.ingest.sinks import HttpSink, SinkRejected, StoreSink
from sentinel.store.base import EventQuery
from sentinel.store.sqlite import SQLiteStore

LINE = '10.1.4.{i} - - [01/Jul/2026:10:00:00 +0700] "GET /dvc/{i} HTTP/1.1" 200 12 "-" "k6"\n'
FAST = dict(retry_initial=0.05, retry_max=0.2, status_interval=0.1)


def _file(tmp_path: Path, n: int) -> Path:
    f = tmp_path / "access.log"
    f.write_text("".join(LINE.format(i=i) for i in range(n)))
    return f


def _source(tmp_path: Path, path: Path, batch: int = 2000) -> FileSource:
    src = FileSource("web", [str(path)], tmp_path / "state" / "offsets.json", FileOptions(batch_events=batch))
    src.once = True
    return src


@contextlib.contextmanager
def running(runner: Runner, *, once: bool) -> Iterator[tuple[threading.Thread, list[Any]]]:
    """The runner in a thread that is stopped and joined whatever the test's asserts do."""
    stop = threading.Event()
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(runner.run(once=once, stop=stop)), name="runner-under-test")
    t.start()
    try:
        yield t, result
    finally:
        stop.set()
        t.join(20)
        assert not t.is_alive(), "the runner did not stop"


def _wait(cond: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_file_into_the_store(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    queue = DiskQueue(tmp_path / "q.db")
    status = tmp_path / "status" / "web.json"
    runner = Runner("web", [_source(tmp_path, _file(tmp_path, 3000))], StoreSink(Pipeline(store)), queue,
                    options=RunOptions(**FAST), status_path=status)  # fmt: skip
    stats = runner.run(once=True)
    assert (stats.read, stats.stored, stats.duplicates, stats.dropped, stats.queue_depth) == (3000, 3000, 0, 0, 0)
    assert store.count_events(EventQuery()) == 3000
    doc = orjson.loads(status.read_bytes())
    assert doc["stored"] == 3000 and doc["sources"][0]["done"] and doc["sources"][0]["lag"] == 0
    # a second run over the same file (offsets lost) stores nothing twice
    (tmp_path / "state" / "offsets.json").unlink()
    again = Runner("web", [_source(tmp_path, tmp_path / "access.log")], StoreSink(Pipeline(store)), queue,
                   options=RunOptions(**FAST)).run(once=True)  # fmt: skip
    assert (again.stored, again.duplicates) == (0, 3000)


def test_target_down_then_up_everything_arrives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_INGEST_TOKEN", TOKEN)
    port = free_port()
    queue = DiskQueue(tmp_path / "q.db")
    runner = Runner("edge", [_source(tmp_path, _file(tmp_path, 2500), batch=500)],
                    HttpSink(f"http://127.0.0.1:{port}", TOKEN), queue, options=RunOptions(**FAST))  # fmt: skip
    with running(runner, once=True) as (t, result):
        _wait(lambda: queue.depth == 2500 and runner.stats.retries >= 3)
        assert runner.status().sink_ok is False and "ConnectError" in (runner.stats.last_error or "")
        central = Central(tmp_path / "central", port).start()
        try:
            t.join(20)
            assert not t.is_alive()
            assert central.store.count_events(EventQuery()) == 2500
            assert result[0].stored == 2500 and result[0].queue_depth == 0 and result[0].sink_ok
        finally:
            central.stop()


def test_full_queue_holds_sources_back_and_raises_an_alert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_INGEST_TOKEN", TOKEN)
    port = free_port()
    queue = DiskQueue(tmp_path / "q.db", max_events=1000)
    src = _source(tmp_path, _file(tmp_path, 3000), batch=400)
    runner = Runner("edge", [src], HttpSink(f"http://127.0.0.1:{port}", TOKEN), queue,
                    options=RunOptions(full_wait=0.2, **FAST))  # fmt: skip
    with running(runner, once=True) as (t, _):
        _wait(lambda: runner._full_alerted)
        time.sleep(0.3)
        assert queue.depth <= 1000 + 1  # bounded (plus the alert event itself)
        assert src.status().lag > 0  # the rest waits in the file: backpressure, not loss
        central = Central(tmp_path / "central", port).start()
        try:
            t.join(20)
            assert not t.is_alive()
            alerts = central.store.search_events(EventQuery(filters={"event.action": ["collector-queue-full"]})).events
            assert len(alerts) == 1 and alerts[0]["event"]["kind"] == "alert"
            assert central.store.count_events(EventQuery(filters={"event.dataset": ["nginx.access"]})) == 3000
        finally:
            central.stop()


class PickySink:
    """A target that refuses one malformed event (as Elasticsearch does on a mapping conflict)."""

    name = "picky"

    def __init__(self, store: SQLiteStore) -> None:
        self.pipeline = Pipeline(store)

    def send(self, events: list[dict]) -> IngestCounts:
        if any(e.get("poison") for e in events):
            raise SinkRejected("mapper_parsing_exception: field [poison]")
        return self.pipeline.process(events)

    def finish(self) -> IngestCounts:
        return IngestCounts()

    def close(self) -> None:
        pass


def test_refused_events_are_isolated_and_dead_lettered(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    queue = DiskQueue(tmp_path / "q.db")
    events = [{"event": {"id": f"id{i}"}, "@timestamp": "2026-07-01T00:00:00Z"} for i in range(100)]
    events[37]["poison"] = True
    queue.put(events)
    runner = Runner("x", [], PickySink(store), queue, options=RunOptions(**FAST))
    stats = runner.run(once=True)
    assert stats.dead_lettered == 1 and queue.dead_count() == 1 and queue.depth == 0
    assert store.count_events(EventQuery()) == 99
    assert store.get_event("id37") is None


def test_udp_input_that_cannot_be_kept_is_counted_and_alerted(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    queue = DiskQueue(tmp_path / "q.db", max_events=1000)
    src = SyslogSource("fw", [Listen("udp", "127.0.0.1", 0)], SyslogOptions(max_pending=500, batch_events=250))
    sink = StoreSink(Pipeline(store))
    up = threading.Event()
    real_send = sink.send

    def send(events: list[dict]) -> IngestCounts:
        if not up.is_set():
            from sentinel.ingest.sinks import SinkUnavailable

            raise SinkUnavailable("store offline")
        return real_send(events)

    sink.send = send  # type: ignore[method-assign]
    runner = Runner("fw", [src], sink, queue, options=RunOptions(full_wait=0.1, **FAST))
    with running(runner, once=False), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        assert src.ready.wait(5)
        port = src.bound[0].port
        for i in range(3000):
            s.sendto(f"<13>Jul  1 10:00:00 fw app: m{i}".encode(), ("127.0.0.1", port))
            if i % 200 == 0:
                time.sleep(0.01)
        _wait(lambda: src.status().dropped > 0)
        time.sleep(0.3)  # let the reporter notice
        up.set()
        _wait(lambda: queue.depth == 0 and store.count_events(EventQuery(filters={"event.dataset": ["syslog"]})) > 0)
    stats = runner.status()
    kept = store.count_events(EventQuery(filters={"event.dataset": ["syslog"]}))
    assert kept + stats.dropped == 3000  # every datagram is either stored or counted
    drops = store.search_events(EventQuery(filters={"event.action": ["collector-events-dropped"]})).events
    assert drops and "could not keep" in drops[0]["message"]


class Trickle(Source):
    """A live source reading one event every ``gap`` seconds (a quiet commune firewall)."""

    name = "trickle"

    def __init__(self, n: int, gap: float) -> None:
        self.n, self.gap, self.read = n, gap, 0

    def batches(self, stop: threading.Event) -> Iterator[Batch]:
        while self.read < self.n and not stop.wait(self.gap):
            self.read += 1
            yield Batch([{"event": {"id": f"t{self.read}"}, "@timestamp": "2026-07-01T00:00:00Z"}])

    def status(self) -> SourceStatus:
        return SourceStatus(self.name, read=self.read)


@pytest.mark.parametrize("linger", [0.0, 0.4])
def test_ship_linger_sends_fewer_fuller_batches_and_loses_nothing(tmp_path: Path, linger: float) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    sink = StoreSink(Pipeline(store))
    sizes: list[int] = []
    real_send = sink.send
    sink.send = lambda events: (sizes.append(len(events)), real_send(events))[1]  # type: ignore[method-assign]
    runner = Runner("edge", [Trickle(40, 0.03)], sink, DiskQueue(tmp_path / "q.db"),
                    options=RunOptions(ship_linger=linger, **FAST))  # fmt: skip
    stats = runner.run(once=True)
    assert stats.stored == store.count_events(EventQuery()) == sum(sizes) == 40
    if linger:  # about 1.2 s of input: a request per 0.4 s, plus the rest once the source ends
        assert len(sizes) <= 6 and max(sizes) >= 8, sizes
    else:  # every event as it is queued
        assert len(sizes) >= 15, sizes
