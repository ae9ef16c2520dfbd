"""Commune edge collectors posting to partitioned central workers on loopback, with link outages.

    python bench/edge_sim.py [--edges 300] [--lines 30000] [--rate 1.0] [--linger 0] [--workers 2] [--outages 4]

What runs, all real code on 127.0.0.1:

* ``--workers`` central workers: ``sentinel serve`` processes sharing one embedded store (as
  workers share one Elasticsearch), each one partition (``SENTINEL_PARTITION_PEERS``/``_INDEX``):
  they store and run single-event rules on what they receive and forward correlation matches of
  groups another worker owns to it (:mod:`sentinel.ingest.partition`);
* ``--edges`` simulated commune edge collectors in a few processes: each is the collector's
  ``Runner`` with its disk queue (``ingest/queue.py``) and ``HttpSink``, fed by a live source that
  parses lines of a generated portal day (``sentinel.demo.traffic``), stamped with the time they are
  sent, at ``--rate`` lines per second per edge; edges are spread over the workers;
* a TCP relay in front of every worker: the edges and the other workers reach a worker through
  it, and an outage closes every connection through it and refuses new ones for
  ``--outage-seconds`` (a commune link, or the link between workers, going down).

At the end: events every edge parsed against the store (loss, duplicates), the stored events per
second over the run, and the alerts against one process (one pipeline with the same settings, fed
every emitted event in time order): both folded the same way by the store, compared per rule,
group and place. Exit status 1 if an event is lost or stored twice, or the alerts differ.
Everything started is stopped before the script ends; ``--max-seconds`` bounds the run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proc_cpu import tree_cpu  # noqa: E402  (bench/ is this script's folder)

from tests.faults.nodes import count as _count  # noqa: E402  (the same read the fault tests use)

TOKEN = "edge-sim-ingest-token-0123456789"
POLICY_KEY = "edge-sim-policy-key-0123456789abcdef"


# --- the link between edges and a worker ---------------------------------------------------------


class Relay:
    """A TCP relay on loopback in front of one worker; :meth:`cut` is a link outage."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = _free_port()
        self.down_until = 0.0
        self.outages = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None

    async def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self.down_until:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
        self._writers -= {writer, up_writer}

    def cut(self, seconds: float) -> None:
        """Close every connection through the relay and refuse new ones for ``seconds``."""
        assert self._loop is not None
        self.down_until = time.monotonic() + seconds
        self.outages += 1

        def close_all() -> None:
            for w in list(self._writers):
                w.transport.abort()

        self._loop.call_soon_threadsafe(close_all)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            await self._server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


class Relays:
    """The relays' event loop in a thread of this process."""

    def __init__(self, ports: list[int]) -> None:
        self.relays = [Relay(p) for p in ports]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="relays", daemon=True)
        self.thread.start()
        for r in self.relays:
            asyncio.run_coroutine_threadsafe(r.start(self.loop), self.loop).result(10)

    def close(self) -> None:
        for r in self.relays:
            asyncio.run_coroutine_threadsafe(r.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# --- the edges (run in their own processes: ``edge_sim.py _edges SPEC``) ---------------------------


def _restamp(line: str, now: float) -> str:
    """The access line with its time replaced by ``now`` (the demo's day is a template of traffic)."""
    start = line.index("[") + 1
    end = line.index("]", start)
    stamp = datetime.fromtimestamp(now).astimezone().strftime("%d/%b/%Y:%H:%M:%S %z")
    return line[:start] + stamp + line[end:]


def run_edges(spec_path: str) -> None:
    from sentinel.collect.parsers import parse_line
    from sentinel.collect.source import Batch, Source, SourceStatus
    from sentinel.ingest.collector import Runner, RunOptions
    from sentinel.ingest.queue import DiskQueue
    from sentinel.ingest.sinks import HttpSink

    spec = orjson.loads(Path(spec_path).read_bytes())

    class LiveLines(Source):
        """Lines sent as they happen, ``rate`` per second; every parsed event is written to ``emitted``."""

        replayable = False

        def __init__(self, name: str, lines: list[str], rate: float, emitted: Path) -> None:
            self.name = name
            self.lines = lines
            self.rate = rate
            self.emitted = emitted
            self.read = 0

        def batches(self, stop: threading.Event) -> Iterator[Batch]:
            tick = 0.5
            with self.emitted.open("wb") as out:
                credit = 0.0
                while self.read < len(self.lines) and not stop.wait(tick):
                    credit += self.rate * tick
                    n, credit = int(credit), credit - int(credit)
                    now = time.time()
                    events = [
                        parse_line(_restamp(line, now).encode(), source=f"edge:{self.name}", position=self.read + i,
                                   fmt="access")
                        for i, line in enumerate(self.lines[self.read : self.read + n])
                    ]  # fmt: skip
                    if not events:
                        continue
                    self.read += len(events)
                    out.write(b"".join(orjson.dumps(e) + b"\n" for e in events))
                    out.flush()
                    yield Batch(events)

        def status(self) -> SourceStatus:
            return SourceStatus(self.name, read=self.read, lag=float(len(self.lines) - self.read))

    options = RunOptions(ship_batch=500, ship_linger=spec["linger"], retry_initial=0.2, retry_max=2.0,
                         status_interval=3600, queue_sync="normal")  # fmt: skip
    results: dict[str, Any] = {}

    def one(edge: dict[str, Any]) -> None:
        folder = Path(edge["dir"])
        queue = DiskQueue(folder / "queue.db", sync="normal")
        sink = HttpSink(edge["url"], TOKEN, timeout=20)
        source = LiveLines(edge["name"], edge["lines"], spec["rate"], folder / "emitted.jsonl")
        try:
            stats = Runner(edge["name"], [source], sink, queue, options=options).run(once=True)
            results[edge["name"]] = {
                k: getattr(stats, k) for k in ("read", "shipped", "stored", "duplicates", "retries")
            }
        finally:
            sink.close()
            queue.close()

    threads = [threading.Thread(target=one, args=(e,), name=e["name"]) for e in spec["edges"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sys.stdout.write(orjson.dumps(results).decode())


# --- the run ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """CPU time of a worker so far: its server process, the writer process and its workers."""
    return tree_cpu(pid)


def _wait(cond: Any, timeout: float, what: str, procs: list[subprocess.Popen] = ()) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a process exited ({p.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    return {**env, "PYTHONPATH": str(REPO), "SENTINEL_DATA_DIR": str(data_dir), "SENTINEL_INGEST_TOKEN": TOKEN,
            "SENTINEL_POLICY_KEY": POLICY_KEY, **extra}  # fmt: skip


def _alerts(db: Path) -> Counter:
    """Stored alerts as the store folds them: (rule, group, place) -> folded count."""
    from sentinel.models import scope_of

    out: Counter = Counter()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        for rule, group, doc in conn.execute("SELECT rule_id, group_key, doc FROM alerts"):
            labels = orjson.loads(doc).get("labels") or {}
            out[(rule, group, scope_of(labels))] += orjson.loads(doc)["count"]
    return out


def _reference(folder: Path, emitted: list[dict[str, Any]]) -> Path:
    """One process, one pipeline, the same settings, every emitted event in time order."""
    from sentinel.config import load_settings
    from sentinel.ingest.assemble import build_pipeline
    from sentinel.runtime import Runtime

    settings = load_settings(env={"SENTINEL_DATA_DIR": str(folder), "SENTINEL_POLICY_KEY": POLICY_KEY})
    runtime = Runtime(settings)
    store = runtime.open_store()
    pipeline = build_pipeline(runtime, store)
    emitted.sort(key=lambda e: e["@timestamp"])
    for i in range(0, len(emitted), 1000):
        pipeline.process(emitted[i : i + 1000])
    pipeline.close()
    store.close()
    return settings.sqlite_path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=300)
    ap.add_argument("--lines", type=int, default=30_000, help="access lines of the generated day to send in all")
    ap.add_argument("--rate", type=float, default=1.0, help="lines per second per edge")
    ap.add_argument("--linger", type=float, default=0.0, help="the edges' ship_linger (seconds)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--edge-processes", type=int, default=4)
    ap.add_argument("--outages", type=int, default=4, help="link outages, spread over the run, alternating workers")
    ap.add_argument("--outage-seconds", type=float, default=4.0)
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    from sentinel.demo.traffic import generate

    started: list[subprocess.Popen] = []
    relays: Relays | None = None
    with tempfile.TemporaryDirectory(prefix="edge-sim-") as tmp:
        root = Path(tmp)
        try:
            # about 900 lines of the day are the attacks; citizen sessions make up the rest (~8 lines each)
            day = generate(seed=args.seed, sessions=max(10, (args.lines - 900) // 8))
            lines = day.access_lines[: args.lines]
            args.lines = len(lines)
            central = root / "central"
            ports = [_free_port() for _ in range(args.workers)]
            relays = Relays(ports)
            peers = ",".join(f"http://127.0.0.1:{r.port}" for r in relays.relays)
            for i, port in enumerate(ports):  # one after the other: the first creates the store and accounts
                log = (root / f"worker-{i}.log").open("wb")
                partition = {"SENTINEL_PARTITION_PEERS": peers, "SENTINEL_PARTITION_INDEX": str(i)}
                env = _env(central, **(partition if args.workers > 1 else {}))
                proc = subprocess.Popen([sys.executable, "-m", "sentinel.cli.main", "serve", "--port", str(port)],
                                        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)  # fmt: skip
                started.append(proc)

                def up(port: int = port) -> bool:
                    try:
                        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
                    except httpx.HTTPError:
                        return False

                _wait(up, 120, f"worker {i}", [proc])
            workers = list(started)
            # the edges, spread over the workers and over a few processes
            per_edge: list[list[str]] = [[] for _ in range(args.edges)]
            for i, line in enumerate(lines):
                per_edge[i % args.edges].append(line)
            edges = [
                {"name": f"commune-{e:04d}", "dir": str(root / "edges" / f"{e:04d}"), "lines": per_edge[e],
                 "url": f"http://127.0.0.1:{relays.relays[e % args.workers].port}"}
                for e in range(args.edges)
            ]  # fmt: skip
            # warm-up: each worker builds its pipeline (rules, classifiers) before the edges start
            warm = _warm_up(ports, root)
            cpu_before = sum(_cpu_seconds(p.pid) for p in workers)
            edge_procs = []
            t0 = time.monotonic()
            for p in range(args.edge_processes):
                spec = root / f"edges-{p}.json"
                share = edges[p :: args.edge_processes]
                spec.write_bytes(orjson.dumps({"rate": args.rate, "linger": args.linger, "edges": share}))
                err = (root / f"edges-{p}.log").open("wb")
                proc = subprocess.Popen([sys.executable, __file__, "_edges", str(spec)], env=_env(root / "unused"),
                                        stdout=subprocess.PIPE, stderr=err, cwd=REPO)  # fmt: skip
                started.append(proc)
                edge_procs.append(proc)
            figures = _drive(args, relays, edge_procs, central / "sentinel.db", t0)
            edge_stats: dict[str, Any] = {}
            for proc in edge_procs:
                out = proc.stdout.read() if proc.stdout else b""
                if proc.wait(30) != 0:
                    raise RuntimeError(f"an edge process failed: {(root / 'edges-0.log').read_text()[-2000:]}")
                edge_stats.update(orjson.loads(out))
            # the workers' forwarding queues drain, then the workers stop
            queues = sorted((central / "collect").glob("partition-*-to-*/queue.db"))
            _wait(lambda: all(_count(q, "SELECT COUNT(*) FROM batches") == 0 for q in queues), 120,
                  "the forwarded matches to reach their owners", workers)  # fmt: skip
            worker_cpu = sum(_cpu_seconds(p.pid) for p in workers) - cpu_before
            for proc in workers:
                proc.send_signal(signal.SIGTERM)
            for proc in workers:
                proc.wait(60)
            emitted = warm + [
                orjson.loads(line) for e in edges for line in (Path(e["dir"]) / "emitted.jsonl").open("rb")
            ]
            figures.update(_check(central / "sentinel.db", emitted, edge_stats))
            figures["worker_cpu_seconds"] = round(worker_cpu, 1)
            figures["worker_cpu_us_per_event"] = round(worker_cpu / max(1, figures["stored"] - len(warm)) * 1e6)
            figures["forwarded_matches"] = sum(
                orjson.loads(p.read_bytes()).get("shipped", 0)
                for p in (central / "collect" / "status").glob("partition-*.json")
            )
            t, cpu = time.monotonic(), time.process_time()
            ref = _reference(root / "reference", emitted)
            figures["reference_seconds"] = round(time.monotonic() - t, 1)
            # the same events through one in-process pipeline (building it included): the baseline per event
            figures["reference_cpu_us_per_event"] = round((time.process_time() - cpu) / len(emitted) * 1e6)
            figures.update(_compare(central / "sentinel.db", ref))
        finally:
            for proc in started:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
            if relays is not None:
                relays.close()
    figures["load"] = os.getloadavg()
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    ok = figures["lost"] == 0 and figures["stored_twice"] == 0
    ok = ok and figures["alerts_equal"] and figures["rule_match_counts_equal"]
    return 0 if ok else 1


def _warm_up(ports: list[int], root: Path) -> list[dict[str, Any]]:
    """One event to each worker directly, so each builds its pipeline before the edges start."""
    from sentinel.collect.parsers import parse_line

    line = '10.0.0.1 - - [{}] "GET /health HTTP/1.1" 200 2 "-" "edge-sim"'
    events = []
    for i, port in enumerate(ports):
        stamp = datetime.now().astimezone().strftime("%d/%b/%Y:%H:%M:%S %z")
        event = parse_line(line.format(stamp).encode(), source="edge-sim:warm-up", position=i, fmt="access")
        body = orjson.dumps(event) + b"\n"
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
        resp = httpx.post(f"http://127.0.0.1:{port}/api/ingest", content=body, timeout=300, headers=headers)
        resp.raise_for_status()
        events.append(event)
    return events


def _drive(args: argparse.Namespace, relays: Relays, edge_procs: list, db: Path, t0: float) -> dict[str, Any]:
    """Cut links on schedule while the edges run; sample the stored count every second."""
    expected = args.lines / (args.edges * args.rate)  # seconds the edges take to send everything
    cuts = [expected * (k + 1) / (args.outages + 1) for k in range(args.outages)]
    samples: list[tuple[float, int]] = []
    while any(p.poll() is None for p in edge_procs):
        now = time.monotonic() - t0
        if now > args.max_seconds:
            raise TimeoutError(f"the edges did not finish within {args.max_seconds:.0f}s")
        while cuts and now >= cuts[0]:
            cuts.pop(0)
            relays.relays[(args.outages - len(cuts) - 1) % len(relays.relays)].cut(args.outage_seconds)
        samples.append((now, _count(db)))
        time.sleep(1.0)
    samples.append((time.monotonic() - t0, _count(db)))
    first = next((t for t, n in samples if n > len(relays.relays)), samples[0][0])
    elapsed = samples[-1][0] - first
    stored = samples[-1][1]
    rates = [(n2 - n1) / (t2 - t1) for (t1, n1), (t2, n2) in itertools.pairwise(samples) if t2 > t1]
    return {
        "edges": args.edges,
        "workers": args.workers,
        "lines": args.lines,
        "offered_events_per_s": round(args.edges * args.rate, 1),
        "linger": args.linger,
        "outages": sum(r.outages for r in relays.relays),
        "outage_seconds": args.outage_seconds,
        "run_seconds": round(samples[-1][0], 1),
        "sustained_events_per_s": round(stored / elapsed, 1) if elapsed > 0 else None,
        "peak_events_per_s": round(max(rates), 1) if rates else None,
    }


def _check(db: Path, emitted: list[dict[str, Any]], edge_stats: dict[str, Any]) -> dict[str, Any]:
    ids = {e["event"]["id"] for e in emitted}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM events")}
        rows = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return {
        "emitted": len(emitted),
        "emitted_distinct": len(ids),
        "stored": rows,
        "lost": len(ids - stored),
        "unexpected": len(stored - ids),
        "stored_twice": rows - len(stored),
        "resent_refused_as_duplicates": sum(s["duplicates"] for s in edge_stats.values()),
        "edge_retries": sum(s["retries"] for s in edge_stats.values()),
    }


def _compare(central: Path, reference: Path) -> dict[str, Any]:
    """Which alerts (rule, group, place) exist on both sides, and their folded counts.

    A rule match's count is the number of matching events, whatever their order. A correlation's is the
    size of the window that first met the condition, which depends on the order events of the same
    seconds arrived in from hundreds of edges: one process fed by the same edges differs from the
    time-sorted reference the same way (``--workers 1``).
    """
    got, want = _alerts(central), _alerts(reference)
    from sentinel.detect.engine import Engine

    engine = Engine.from_paths([REPO / "rules"])
    correlations = {c.id for c in engine.correlations.correlations}
    corr_got = {k for k in got if k[0] in correlations}
    corr_want = {k for k in want if k[0] in correlations}
    differ = [k for k in sorted(got | want) if got[k] != want[k]]
    return {
        "alerts": len(got),
        "correlation_alerts": len(corr_got),
        "reference_correlation_alerts": len(corr_want),
        "correlation_alerts_only_here": sorted(map(str, corr_got - corr_want))[:5],
        "correlation_alerts_only_in_reference": sorted(map(str, corr_want - corr_got))[:5],
        "alerts_equal": set(got) == set(want),
        "rule_match_counts_equal": not [k for k in differ if k[0] not in correlations],
        "correlation_count_differences": [
            f"{k[0]} {k[1]}: {got[k]} here, {want[k]} in the reference" for k in differ if k[0] in correlations
        ][:10],
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_edges":
        run_edges(sys.argv[2])
    else:
        sys.exit(main())
