"""Load test on loopback: sustained ingest through ``POST /api/ingest`` while analysts query the API.

Starts ``sentinel serve`` in a subprocess on 127.0.0.1 with a fresh embedded store, sends
N events (generated portal traffic, gzip JSON lines in batches, as edge collectors do) from
``--senders`` threads, and meanwhile queries ``/api/events`` and ``/api/alerts`` in a loop.
Bounded in count (``--events``) and time (``--seconds``). Reports sustained events/s, API
latency p50/p99 while ingesting and with ingest idle (the baseline in the same run; before the
ingest, and after it on the full store), and checks count in = count stored.

    python bench/load.py --events 200000
"""

from __future__ import annotations

import argparse
import gzip
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

from sentinel.collect.parsers import parse_line
from sentinel.demo.traffic import generate

TOKEN = "bench-ingest-token"
INGEST_HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Content-Encoding": "gzip",
    "Content-Type": "application/x-ndjson",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_batches(total: int, size: int) -> list[bytes]:
    lines: list[str] = []
    seed = 1
    while len(lines) < total:
        lines += generate(seed=seed, sessions=20000).access_lines
        seed += 1
    events = [parse_line(line.encode(), source="bench", position=i) for i, line in enumerate(lines[:total])]
    return [gzip.compress(b"\n".join(orjson.dumps(e) for e in events[i : i + size]), 1) for i in range(0, total, size)]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


PATHS = [
    "/api/events?limit=50",
    "/api/events?q=sqlmap&limit=20",
    "/api/alerts?limit=50",
    "/api/events?q=http.response.status_code:404&limit=20",
]


def query_loop(
    base: str, stop: threading.Event, out: list[float], deadline: float, by_path: dict[str, list[float]] | None = None
) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        i = 0
        while not stop.is_set() and time.monotonic() < deadline:
            path = PATHS[i % len(PATHS)]
            t = time.perf_counter()
            r = c.get(path)
            out.append((time.perf_counter() - t) * 1000)
            if by_path is not None:
                by_path.setdefault(path, []).append(out[-1])
            r.raise_for_status()
            i += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=300, help="stop sending after this long whatever is left")
    ap.add_argument(
        "--workers",
        type=int,
        help="the server's SENTINEL_WORKERS: processes making batches ready, its writer included (default: per core)",
    )
    args = ap.parse_args()

    batches = make_batches(args.events, args.batch)
    work = Path(tempfile.mkdtemp(prefix="sentinel-load-"))
    port = free_port()
    env = {**os.environ, "SENTINEL_DATA_DIR": str(work), "SENTINEL_INGEST_TOKEN": TOKEN}
    env.pop("SENTINEL_ES_URL", None)
    if args.workers is not None:
        env["SENTINEL_WORKERS"] = str(args.workers)
    server = subprocess.Popen(
        # --demo: the readers are the local SOC lead (loopback); the senders use the ingest token
        [sys.executable, "-m", "sentinel.cli.main", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start: " + server.stderr.read().decode()[-2000:])

        # the server builds its ingest pipeline (rules, classifiers, worker processes) on the first batch:
        # sent before anything is measured, so the figures are the steady state
        started = time.perf_counter()
        first = httpx.post(base + "/api/ingest", content=batches[0], headers=INGEST_HEADERS, timeout=300)
        first.raise_for_status()
        print(f"first batch (the server builds its ingest pipeline): {time.perf_counter() - started:.1f} s")
        warm = first.json()
        sent, stored, dups = warm["received"], warm["stored"], warm["duplicates"]

        idle: list[float] = []
        query_loop(base, threading.Event(), idle, time.monotonic() + 5)

        todo: queue.Queue[bytes] = queue.Queue()
        for b in batches[1:]:
            todo.put(b)
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds

        def sender() -> None:
            nonlocal sent, stored, dups
            headers = INGEST_HEADERS
            with httpx.Client(base_url=base, timeout=120) as c:
                while time.monotonic() < deadline:
                    try:
                        body = todo.get_nowait()
                    except queue.Empty:
                        return
                    r = c.post("/api/ingest", content=body, headers=headers)
                    r.raise_for_status()
                    out = r.json()
                    with lock:
                        sent += out["received"]
                        stored += out["stored"]
                        dups += out["duplicates"]

        busy: list[float] = []
        busy_paths: dict[str, list[float]] = {}
        stop = threading.Event()
        q = threading.Thread(target=query_loop, args=(base, stop, busy, deadline + 60, busy_paths))
        senders = [threading.Thread(target=sender) for _ in range(args.senders)]
        t0 = time.perf_counter()
        q.start()
        for s in senders:
            s.start()
        for s in senders:
            s.join()
        elapsed = time.perf_counter() - t0
        stop.set()
        q.join()
        total = httpx.get(base + "/api/events", params={"limit": 1, "total": True}, timeout=60).json()["total"]
        # the same reads on the full store with ingest idle again: what the store's size alone costs them
        after: list[float] = []
        after_paths: dict[str, list[float]] = {}
        query_loop(base, threading.Event(), after, time.monotonic() + 5, after_paths)

        print(
            f"ingest: {sent - warm['received']:,} events after the first batch in {elapsed:.1f}s = "
            f"{(sent - warm['received']) / elapsed:,.0f} events/s "
            f"({args.senders} senders, batches of {args.batch}, gzip JSON lines)"
        )
        print(
            f"stored {stored:,}, duplicates {dups:,}; store now holds {total:,}: "
            f"{'count in = count stored' if total == sent == stored else 'MISMATCH'}"
        )
        for name, lat in (("API idle", idle), ("API while ingesting", busy), ("API idle after", after)):
            print(
                f"{name:<20} {len(lat):>6} requests  p50 {percentile(lat, 50):7.1f} ms  "
                f"p99 {percentile(lat, 99):7.1f} ms  mean {statistics.fmean(lat) if lat else 0:7.1f} ms"
            )
        print("per read, while ingesting | idle after (p50 / p99 ms):")
        for path in PATHS:
            during, later = busy_paths.get(path, []), after_paths.get(path, [])
            print(
                f"  {path:<55} {percentile(during, 50):7.1f} / {percentile(during, 99):7.1f}"
                f"  | {percentile(later, 50):7.1f} / {percentile(later, 99):7.1f}"
            )
        if todo.qsize():
            print(f"time limit reached: {todo.qsize()} batches not sent")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
