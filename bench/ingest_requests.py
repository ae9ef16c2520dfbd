"""What one ``POST /api/ingest`` costs the central worker: a fixed part per request and a part per event.

    python bench/ingest_requests.py [--sizes 1,5,50,500] [--events 3000]

The real app (``create_app``, embedded store, the configured pipeline: address plan, protection, rule
pack) takes batches of parsed portal access lines (``sentinel.demo.traffic``) of each size in turn,
through Starlette's test client in this process (CPU time of the app's threads and the client), or with
``--server`` from a ``sentinel serve`` process on loopback (the CPU time of it and its writer process
and workers, from ``/proc``). CPU per
request and per event is printed for each size; the cost per event is the slope between the
two largest sizes, the fixed cost per request what the smallest size costs beyond its events. Edge
collectors that send one event per request pay the fixed part on every event: that is what
``ship_linger`` is for, and what sizing the worker tier needs (``docs/elasticsearch.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proc_cpu import tree_cpu  # noqa: E402  (bench/ is this script's folder)

TOKEN = "bench-ingest-token-0123456789abcdef"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,5,50,500", help="events per request, one run each")
    ap.add_argument("--events", type=int, default=3000, help="events sent at each size")
    ap.add_argument(
        "--server", action="store_true", help="a `sentinel serve` process on loopback (its CPU and its children's)"
    )
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]

    from sentinel.collect.parsers import parse_line
    from sentinel.demo.traffic import generate

    needed = args.events * len(sizes) + 100
    lines = []
    seed = 7
    while len(lines) < needed:  # distinct days until there are enough distinct lines
        lines += generate(seed=seed, sessions=max(10, needed // 8)).access_lines
        seed += 1
    events = [parse_line(line.encode(), source="bench", position=i, fmt="access") for i, line in enumerate(lines)]

    def body(batch: list[dict]) -> bytes:
        return gzip.compress(b"\n".join(orjson.dumps(e) for e in batch) + b"\n", compresslevel=6)

    with tempfile.TemporaryDirectory(prefix="ingest-requests-") as tmp:
        env = {"SENTINEL_DATA_DIR": tmp, "SENTINEL_INGEST_TOKEN": TOKEN, "SENTINEL_POLICY_KEY": "b" * 40}
        with _target(args.server, env) as (post, cpu_seconds):
            post(body(events[:100]))  # the first batch builds the pipeline (rules, classifiers)
            rows = []
            start = 100
            for size in sizes:
                part = events[start : start + args.events]
                start += args.events
                bodies = [body(part[i : i + size]) for i in range(0, len(part), size)]  # gzip is the edge's work
                cpu, wall = cpu_seconds(), time.perf_counter()
                for b in bodies:
                    post(b)
                cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
                rows.append((size, len(bodies), cpu / len(bodies), cpu / len(part), len(part) / wall))
    print(f"{'events/request':>15} {'requests':>9} {'CPU ms/request':>15} {'CPU us/event':>13} {'events/s':>9}")
    for size, n, per_req, per_event, rate in rows:
        print(f"{size:>15} {n:>9} {per_req * 1e3:>15.2f} {per_event * 1e6:>13.0f} {rate:>9.0f}")
    # CPU per request = fixed + size * per_event: the per-event part from the two largest sizes (where the
    # fixed part weighs least), the fixed part from the smallest
    rows.sort()
    (x1, _, y1, _, _), (x2, _, y2, _, _) = rows[-2], rows[-1]
    slope = (y2 - y1) / (x2 - x1)
    fixed = rows[0][2] - rows[0][0] * slope
    print(f"fixed cost per request: {fixed * 1e3:.2f} ms CPU; cost per event: {slope * 1e6:.0f} us CPU")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}


@contextlib.contextmanager
def _target(server: bool, env: dict[str, str]) -> Iterator[tuple[Callable[[bytes], None], Callable[[], float]]]:
    """How to post a body, and the CPU seconds of whoever serves it so far."""
    if not server:
        from fastapi.testclient import TestClient

        from sentinel.api.app import create_app
        from sentinel.config import load_settings

        with TestClient(create_app(load_settings(env=env))) as client:
            yield (
                (lambda b: client.post("/api/ingest", content=b, headers=HEADERS).raise_for_status()),
                lambda: tree_cpu(os.getpid()),
            )
        return
    import httpx

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sentinel.cli.main", "serve", "--port", str(port)],
                            env={**os.environ, **env, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=REPO)  # fmt: skip
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.get("/health").raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.2)
            yield (
                (lambda b: client.post("/api/ingest", content=b, headers=HEADERS).raise_for_status()),
                lambda: tree_cpu(proc.pid),
            )
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
