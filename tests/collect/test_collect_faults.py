"""Fault tests with real collector processes on loopback: kill -9, target down, rotation, junk syslog.

Each test runs ``python -m sentinel.cli.main collect ...`` as a subprocess and
counts what arrived in a real SQLite store (the local one, or the store of a
central Sentinel served on 127.0.0.1 by this test).
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from central import TOKEN, Central, free_port

from sentinel.store.base import EventQuery

REPO = Path(__file__).resolve().parents[2]
LINE = '10.1.4.{n} - - [01/Jul/2026:10:00:00 +0700] "GET /dvc/{i} HTTP/1.1" 200 12 "-" "k6"\n'


def _line(i: int) -> str:
    return LINE.format(i=i, n=i % 250)


def _collector(
    procs: list[subprocess.Popen[bytes]], args: list[str], data_dir: Path, log: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SENTINEL_DATA_DIR": str(data_dir),
           "SENTINEL_INGEST_TOKEN": TOKEN}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentinel.cli.main", "collect", *args],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=REPO,
    )  # fmt: skip
    procs.append(proc)
    return proc


def _wait(cond: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"collector exited with {proc.returncode} while waiting for {what}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _count(db: Path, sql: str = "SELECT COUNT(*) FROM events") -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not created yet


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(20)


@pytest.fixture
def central(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Central:
    monkeypatch.setenv("SENTINEL_INGEST_TOKEN", TOKEN)
    c = Central(tmp_path / "central", free_port())
    yield c
    if c.thread.is_alive():
        c.stop()


@pytest.fixture
def procs() -> list[subprocess.Popen[bytes]]:
    """Collector processes of a test; any still running at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def test_kill_9_in_the_middle_of_a_file_then_restart_stores_every_line_once(
    tmp_path: Path, central: Central, procs: list
) -> None:
    n = 8000
    log = tmp_path / "access.log"
    log.write_text("".join(_line(i) for i in range(n)))
    central.start()
    data = tmp_path / "data"
    out = tmp_path / "collector.out"
    args = ["file", str(log), "--once", "--name", "web", "--to", central.url]
    first = _collector(procs, args, data, out)
    _wait(lambda: central.store.count_events(EventQuery()) >= 1000, 60, "the first events", first)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    stored_before = central.store.count_events(EventQuery())
    assert 0 < stored_before < n, "the kill must land in the middle of the file"
    second = _collector(procs, args, data, out)
    assert second.wait(120) == 0, out.read_text()[-2000:]
    assert central.store.count_events(EventQuery()) == n
    db = central.store.path
    assert _count(db, "SELECT COUNT(DISTINCT json_extract(doc, '$.log.offset')) FROM events") == n
    assert "dropped 0" in out.read_text()


def test_target_unavailable_events_wait_on_disk_then_all_arrive(tmp_path: Path, central: Central, procs: list) -> None:
    n = 1500
    log = tmp_path / "access.log"
    log.write_text("".join(_line(i) for i in range(n)))
    definition = tmp_path / "edge.yaml"
    definition.write_text(
        f"name: edge\nsources:\n  - type: file\n    name: kiosk\n    paths: ['{log}']\n"
        f"output:\n  type: http\n  url: {central.url}\nretry:\n  initial: 0.1\n  max: 0.5\n"
        "status_interval: 0.2\n"
    )
    out = tmp_path / "collector.out"
    proc = _collector(procs, ["--config", str(definition), "--once"], central.settings.data_dir, out)
    status = central.settings.data_dir / "collect" / "status" / "edge.json"
    import orjson

    def queued_everything() -> bool:
        return status.exists() and orjson.loads(status.read_bytes()).get("queue_depth") == n

    _wait(queued_everything, 60, "all events queued on disk while the target is down", proc)
    time.sleep(1.0)  # down for a while: retries keep failing, nothing is lost
    assert (central.settings.data_dir / "collect" / "edge" / "queue.db").stat().st_size > 0
    central.start()
    # the status API shows the collector with its queue
    seen = httpx.get(f"{central.url}/api/collect/status").json()["collectors"]
    assert seen and seen[0]["name"] == "edge" and seen[0]["dropped"] == 0
    assert proc.wait(60) == 0, out.read_text()[-2000:]
    assert central.store.count_events(EventQuery()) == n
    final = orjson.loads(status.read_bytes())
    assert final["queue_depth"] == 0 and final["stored"] == n and final["retries"] > 0


def test_rotation_while_tailing_loses_nothing(tmp_path: Path, central: Central, procs: list) -> None:
    central.start()
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "access.log"
    live.write_text("")
    out = tmp_path / "collector.out"
    proc = _collector(procs, ["file", str(logs / "access.log*"), "--name", "web", "--to", central.url],
                      tmp_path / "data", out)  # fmt: skip
    i = 0
    for round_ in range(6):
        with live.open("a") as f:
            for _ in range(400):
                f.write(_line(i))
                i += 1
                if i % 100 == 0:
                    f.flush()
                    time.sleep(0.01)
            if round_ % 2 == 0:
                os.rename(live, logs / f"access.log.{round_}")  # rename-and-create, writer still on the old file
                f.write("".join(_line(j) for j in range(i, i + 50)))
                i += 50
        if round_ % 2 == 0:
            live.write_text("")
        else:
            copy = logs / f"access.log.{round_}"
            with live.open("rb") as src, copy.open("wb") as dst:  # copytruncate
                dst.write(src.read())
            with live.open("r+") as f:
                f.truncate(0)
    _wait(lambda: central.store.count_events(EventQuery()) >= i, 60, f"{i} lines", proc)
    time.sleep(1.5)  # nothing more (no duplicates) arrives
    assert _stop(proc) == 0
    assert central.store.count_events(EventQuery()) == i
    paths = {e["url"]["original"] for e in central.store.search_events(EventQuery(limit=100_000)).events}
    assert paths == {f"/dvc/{k}" for k in range(i)}


def test_malformed_syslog_is_counted_and_the_collector_keeps_running(
    tmp_path: Path, central: Central, procs: list
) -> None:
    central.start()
    udp, tcp = free_port(), free_port()
    out = tmp_path / "collector.out"
    proc = _collector(procs, ["syslog", "--listen", f"udp://127.0.0.1:{udp}", "--listen", f"tcp://127.0.0.1:{tcp}",
                       "--to", central.url], tmp_path / "data", out)  # fmt: skip

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", tcp), timeout=0.2).close()
            return True
        except OSError:
            return False

    _wait(listening, 30, "the TCP listener", proc)
    junk = [b"\x00\x01\x02", b"<999>bad pri", b"no pri at all", b"<13>1 2026-07-01T03:00:00Z h a p m [unclosed",
            b"<134>Jul  1 10:00:00 filterlog[1]: 1,2,3", b"\xff" * 3000]  # fmt: skip
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for j in junk:
        u.sendto(j, ("127.0.0.1", udp))
    with socket.create_connection(("127.0.0.1", tcp)) as c:
        c.sendall(b"abc def\n99999999999999 x\n" + b"\n".join(junk[1:3]) + b"\n")
    good = [f"<13>Jul  1 10:00:00 gw app: good {k}".encode() for k in range(100)]
    for g in good:
        u.sendto(g, ("127.0.0.1", udp))
    with socket.create_connection(("127.0.0.1", tcp)) as c:
        c.sendall(b"".join(f"{len(g)} ".encode() + g for g in good))

    def arrived() -> bool:
        return central.store.count_events(EventQuery(filters={"event.kind": ["event"]})) >= 200

    _wait(arrived, 30, "the good messages", proc)
    errors = central.store.count_events(EventQuery(filters={"event.kind": ["pipeline_error"]}))
    assert errors == len(junk) + 4
    assert proc.poll() is None  # still running
    assert _stop(proc) == 0
    summary = out.read_text()
    assert f"parse errors {errors}" in summary and "dropped 0" in summary
