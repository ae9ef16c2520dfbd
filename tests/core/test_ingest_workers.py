"""``sentinel ingest --workers N``: worker processes protect and match, one process stores and raises, same result."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from sentinel.collect import LineReader
from sentinel.config import Settings
from sentinel.demo.traffic import generate
from sentinel.errors import Unavailable
from sentinel.ingest import MakeReady, TransformWorkers, edge_stages
from sentinel.runtime import Runtime
from sentinel.store import AlertQuery, SQLiteStore

SCRIPT = Path(sys.executable).with_name("sentinel")


def _sentinel(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    return subprocess.run(
        [str(SCRIPT), "--config", str(config), *args], capture_output=True, text=True, env=env, timeout=600
    )


def _alerts(data: Path) -> list[tuple]:
    """What each stored alert says: rule, entity, count, events, (window), in a comparable order."""
    store = SQLiteStore(data / "sentinel.db")
    try:
        alerts = store.list_alerts(AlertQuery(limit=100_000))
    finally:
        store.close()
    return sorted(
        (a.rule.id, a.group_key, a.count, tuple(a.event_ids), a.first_seen, a.last_seen, a.severity) for a in alerts
    )


def _ingest_both_ways(tmp_path: Path, *args: str) -> dict[str, tuple[str, list[dict], list[tuple]]]:
    """``sentinel ingest ARGS`` in one process and with two workers: (summary, stored events, alerts) of each."""
    results = {}
    for workers in ("1", "2"):
        config = tmp_path / f"sentinel-{workers}.yaml"
        # small batches so the stream reaches the workers; one key, so pseudonyms compare
        config.write_text(
            f"data_dir: {tmp_path / ('data-' + workers)}\nbatch_size: 200\npolicy_key: {'k' * 40}\n", encoding="utf-8"
        )
        ingest = _sentinel(config, "ingest", "--workers", workers, *args)
        assert ingest.returncode == 0, ingest.stderr
        found = _sentinel(config, "search", "--format", "jsonl", "--limit", "5000")
        docs = [orjson.loads(line) for line in found.stdout.splitlines()]
        for doc in docs:
            del doc["event"]["ingested"]
            doc["event"].pop("created", None)  # when a syslog line was read
            if doc["event"]["kind"] == "pipeline_error":
                del doc["@timestamp"]  # a line that failed to parse is stamped when it was read
        results[workers] = (
            ingest.stdout.strip().splitlines()[-1].split("  in ")[0],
            sorted(docs, key=lambda d: d["event"]["id"]),
            _alerts(tmp_path / ("data-" + workers)),
        )
    return results


def test_worker_processes_store_and_detect_what_one_process_does(tmp_path):
    day = generate(seed=3, sessions=60, provinces=2)
    log = tmp_path / "access.log"
    # a citizen's phone and name in a search, so protection in the workers has something to change
    search = day.access_lines[0].replace("GET /", "GET /tim-kiem?tu-khoa=ho+so+cua+ba+Giap+Thu+Ngan+0983417265&x=/", 1)
    lines = [search, *day.access_lines[:1500]]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = _ingest_both_ways(tmp_path, str(log))
    assert results["1"][0].startswith(f"read {len(lines):,}  stored {len(lines):,}")
    # the workers matched the rules, this process raised and correlated them: the same alerts, event for event
    alerts = results["1"][2]
    assert sum("=" in a[1] for a in alerts) >= 5 and sum("=" not in a[1] for a in alerts) >= 5  # correlations, rules
    assert results["2"] == results["1"]
    text = orjson.dumps(results["2"][1]).decode()
    assert "0983417265" not in text and "pz-vn_phone-" in text


def test_syslog_lines_in_a_stream_the_workers_read_go_through_the_streams_reader(tmp_path):
    """Workers parse what needs no earlier line; a syslog line (the year, a repeated message) is read here, in order."""
    day = generate(seed=4, sessions=30, provinces=1)
    access = day.access_lines[:700]
    auth = [
        "Dec 31 23:59:50 srv-a sshd[10]: Failed password for root from 203.0.113.7 port 1 ssh2",
        "Dec 31 23:59:59 srv-a sshd[10]: last message repeated 3 times",
        "Jan  1 00:00:05 srv-a sshd[10]: Failed password for admin from 203.0.113.7 port 2 ssh2",
    ]
    mixed = tmp_path / "mixed.log"  # access lines, then syslog lines across a new year, then access lines again
    mixed.write_text("\n".join([*access[:450], *auth, "not a log line at all", *access[450:]]) + "\n", encoding="utf-8")
    other = tmp_path / "other.log"  # a second stream, merged by time
    other.write_text("\n".join(day.access_lines[700:1000]) + "\n", encoding="utf-8")
    results = _ingest_both_ways(tmp_path, "--year", "2025", str(mixed), str(other))
    total = len(access) + 300 + 2 + 3 + 1  # "last message repeated 3 times" stands for three events
    assert results["1"][0].startswith(f"read {total:,}  stored {total:,}")
    assert results["2"] == results["1"]
    stamps = sorted(d["@timestamp"] for d in results["2"][1] if d["event"]["dataset"] == "system.auth")
    # 2025 from --year, then the new year in Vietnam (UTC+7): the stream's own sequence decides
    assert stamps == ["2025-12-31T16:59:50.000Z"] + ["2025-12-31T16:59:59.000Z"] * 3 + ["2025-12-31T17:00:05.000Z"]


def _spawned(work: MakeReady, settings: Settings, digest: str | None, events: list[dict]) -> list:
    """``events`` made ready by a worker spawned from the settings (a thread running forbids forking)."""
    release = threading.Event()
    busy = threading.Thread(target=release.wait)
    busy.start()
    workers = TransformWorkers(settings, 2, work, None, digest=digest)
    try:
        workers.start(wait=True)  # set up: parts go to it
    finally:
        release.set()
        busy.join()
    try:
        part = workers.submit(events)
        return part.get() or []
    finally:
        workers.close()


def test_a_spawned_worker_loads_the_same_rules_and_refuses_to_match_with_another_pack(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", policy_key="k" * 40)
    runtime = Runtime(settings)
    engine = runtime.engine()
    work = MakeReady(edge_stages(runtime, None), engine.match, SQLiteStore.prepare)
    lines = generate(seed=5, sessions=40, provinces=1).access_lines[:400]
    reader = LineReader("access")
    events = [e for n, line in enumerate(lines) for e in reader.parse(line.encode(), source="t", position=n)]
    here = work(copy.deepcopy(events))
    assert sum(1 for r in here if r.hits) >= 5
    assert _spawned(work, settings, engine.digest, copy.deepcopy(events)) == here
    with pytest.raises(Unavailable, match="rule pack changed"):
        _spawned(work, settings, "another pack", events)


# Run in a fresh interpreter: workers fork (sharing these stages) only where the caller runs no other
# thread, and a test process may run some; spawned workers would build the configured stages instead.
_SHARED = """
import fcntl, json, os, sys, time
from sentinel.config import Settings
from sentinel.ingest import MakeReady, TransformWorkers

CALLER = os.getpid()

def stamp(event):  # takes a while and says which process ran it
    time.sleep(0.001)
    event["pid"] = os.getpid()
    return event

def fail_on_two(event):  # takes a while too, so the worker is busy when the caller asks for a later part
    time.sleep(0.001)
    if event["n"] % 2500 == 2:
        raise ValueError(f"event {event['n']} is bad ({'caller' if os.getpid() == CALLER else 'worker'})")
    return event

def poison(event):  # event 700 kills any worker that makes it (a crash on some input)
    time.sleep(0.001)
    if event["n"] == 700 and os.getpid() != CALLER:
        os.kill(os.getpid(), 9)
    event["pid"] = os.getpid()
    return event

def events(size):
    return [{"event": {"id": f"e{n}"}, "n": n} for n in range(size)]

settings = Settings(data_dir=sys.argv[2])
if sys.argv[1] == "share":
    workers = TransformWorkers(settings, 2, MakeReady([stamp], None, None), None)
    try:
        workers.start(wait=True)
        done = workers.transform(events(3000))  # six parts of 500
        pipes = [fcntl.fcntl(c.fileno(), fcntl.F_GETPIPE_SZ) for w in workers._workers for c in (w.tasks, w.answers)]
    finally:
        workers.close()
    print(json.dumps({"me": os.getpid(), "done": [[e["n"], e["pid"]] for e in done], "pipes": pipes}))
elif sys.argv[1] == "kill":
    import signal, threading
    workers = TransformWorkers(settings, 2, MakeReady([stamp], None, None), None)
    try:
        workers.start(wait=True)
        (worker,) = [w.process for w in workers._workers]
        if sys.argv[3] == "busy":  # halfway through its first part
            threading.Timer(0.2, os.kill, (worker.pid, signal.SIGKILL)).start()
        else:  # waiting for its first part
            os.kill(worker.pid, signal.SIGKILL)
        first = workers.transform(events(3000))
        second = workers.transform(events(3000))  # a new worker takes parts again
    finally:
        workers.close()
    print(json.dumps({"me": os.getpid(), "killed": worker.pid, "first": [[e["n"], e["pid"]] for e in first],
                      "second": [[e["n"], e["pid"]] for e in second]}))
elif sys.argv[1] == "closing":  # a worker dies while this process is sending it a part
    import signal
    workers = TransformWorkers(settings, 2, MakeReady([stamp], None, None), None)
    try:
        workers.start(wait=True)
        (worker,) = workers._workers
        with worker.send_lock:  # as _feed holds it while it writes a part to the pipe
            os.kill(worker.process.pid, signal.SIGKILL)
            worker.process.join()
            time.sleep(0.5)  # its answer thread has seen the end by now
            during = {"ended": worker.ended, "closed": worker.tasks.closed}
        time.sleep(0.5)
        after = {"closed": worker.tasks.closed}
        done = workers.transform(events(1000))
    finally:
        workers.close()
    print(json.dumps({"during": during, "after": after, "done": [e["n"] for e in done]}))
elif sys.argv[1] == "poison":
    workers = TransformWorkers(settings, 2, MakeReady([poison], None, None), None)
    try:
        workers.start(wait=True)
        done = workers.transform(events(3000))  # the worker takes parts 0 and 1: it dies in part 1
    finally:
        workers.close()
    print(json.dumps({"me": os.getpid(), "done": [[e["n"], e["pid"]] for e in done]}))
else:
    workers = TransformWorkers(settings, 2, MakeReady([fail_on_two], None, None), None)
    found = []
    try:
        workers.start(wait=True)
        for size, bad in ((8, [0]), (3000, [5, 0])):  # the last of six parts is still queued: the caller makes it
            parts = workers.submit_parts(events(size))
            for i in bad:
                try:
                    parts[i].get()
                    found.append("no error")
                except ValueError as exc:
                    found.append(str(exc))
            found.append([len(part.get() or ()) for i, part in enumerate(parts) if i not in bad])
    finally:
        workers.close()
    print(json.dumps(found))
"""


def _shared(tmp_path: Path, mode: str, *args: str) -> tuple[object, str]:
    run = subprocess.run(
        [sys.executable, "-c", _SHARED, mode, str(tmp_path / "data"), *args],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return orjson.loads(run.stdout), run.stderr


def test_the_ingesting_process_makes_the_parts_it_would_otherwise_wait_for(tmp_path):
    """Two processes share a batch: results in order, some parts made by the caller, some by its worker."""
    out, _ = _shared(tmp_path, "share")
    assert [n for n, _ in out["done"]] == list(range(3000))
    by = {pid for _, pid in out["done"]}
    assert out["me"] in by and len(by) == 2
    assert sum(pid == out["me"] for _, pid in out["done"]) % 500 == 0  # whole parts
    assert min(out["pipes"]) >= 1 << 20  # a whole part fits in a pipe


def test_a_part_that_fails_where_it_is_made_fails_its_batch(tmp_path):
    """The same error whether the worker or the caller made the failing part; the other parts are unaffected."""
    # eight events: two parts of four, both in the worker; 3,000: six of 500, two in the worker, four queued
    assert _shared(tmp_path, "fail")[0] == [
        "event 2 is bad (worker)",
        [4],
        "event 2502 is bad (caller)",
        "event 2 is bad (worker)",
        [500] * 4,
    ]


@pytest.mark.parametrize("when", ["busy", "idle"])
def test_a_killed_worker_loses_nothing_and_is_replaced(tmp_path, when):
    """Killed mid-part or while waiting for one: the parts it held are made again (no hang, nothing lost),
    and a new worker takes the next. (A worker killed while waiting once held a lock the others needed.)"""
    out, err = _shared(tmp_path, "kill", when)
    for batch in ("first", "second"):
        assert [n for n, _ in out[batch]] == list(range(3000))
    assert out["killed"] not in {pid for _, pid in out["first"] + out["second"]}
    assert {pid for _, pid in out["second"]} - {out["me"]}  # a worker again, not the one killed
    assert "an ingest worker process ended (exit code -9)" in err


def test_a_dead_workers_pipe_is_not_closed_under_a_part_being_sent_to_it(tmp_path):
    """The pipe to a worker that died is closed only once no part is being written to it: closed in the
    middle of a write, the write crashed with a TypeError instead of failing as a broken pipe (a CI run)."""
    out, err = _shared(tmp_path, "closing")
    assert out["during"] == {"ended": True, "closed": False}
    assert out["after"] == {"closed": True}
    assert out["done"] == list(range(1000))
    assert "an ingest worker process ended (exit code -9)" in err


def test_a_part_that_kills_its_worker_is_made_by_the_caller_and_never_sent_again(tmp_path):
    """A part held by a worker that died goes to the ingesting process only: the input that killed one
    worker does not kill its replacements one after another."""
    out, err = _shared(tmp_path, "poison")
    assert [n for n, _ in out["done"]] == list(range(3000))
    assert {pid for n, pid in out["done"] if 500 <= n < 1000} == {out["me"]}
    assert err.count("an ingest worker process ended (exit code -9)") == 1
