"""Client-side cost of the Elasticsearch bulk path, and of its duplicate check, on 127.0.0.1.

No Elasticsearch can run here, so a responder in a separate process answers
``_bulk`` (every item 201), ``_search`` (no hits) and ``_refresh`` the way the
cluster does. What is measured is Sentinel's side: serialising, chunking by
count and bytes, mapping every response item back, and the ``ids`` lookup that
guards against duplicates after a rollover. Compared in the same run with the
client's plain ``helpers.bulk`` on the same events (the baseline: what any
integration pays). Cluster-side indexing cost is not in these numbers.

    python bench/es_bulk.py [--events 50000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import orjson
from elasticsearch import Elasticsearch, OrjsonSerializer, helpers

from sentinel import ecs
from sentinel.store.es_bulk import BulkLimits, BulkWriter
from sentinel.store.es_templates import data_stream_name

HEADERS = [("X-Elastic-Product", "Elasticsearch"), ("Content-Type", "application/json")]


class Responder(BaseHTTPRequestHandler):
    """Answers as a healthy cluster would; counts requests and bytes received."""

    protocol_version = "HTTP/1.1"
    stats: ClassVar[dict[str, int]] = {"requests": 0, "bytes": 0, "bulk": 0, "search": 0}

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        for k, v in HEADERS:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _any(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.stats["requests"] += 1
        self.stats["bytes"] += len(data)
        path = self.path.split("?", 1)[0]
        if path.endswith("/_bulk"):
            self.stats["bulk"] += 1
            items = []
            for line in data.split(b"\n")[::2]:
                if line:
                    meta = orjson.loads(line)["create"]
                    items.append({"create": {"_index": meta["_index"], "_id": meta["_id"], "status": 201}})
            self._reply(orjson.dumps({"took": 1, "errors": False, "items": items}))
        elif path.endswith("/_search"):
            self.stats["search"] += 1
            self._reply(b'{"took":1,"timed_out":false,"hits":{"hits":[]}}')
        elif path == "/_stats_bench":
            self._reply(orjson.dumps(self.stats))
        else:
            self._reply(b'{"acknowledged":true}')

    do_GET = do_POST = do_PUT = do_HEAD = _any


def serve(port_out: multiprocessing.Queue) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Responder)
    port_out.put(httpd.server_address[1])
    httpd.serve_forever()


def make_events(n: int) -> list[dict]:
    events = []
    for i in range(n):
        line = (
            f'203.0.113.{i % 250} - - [01/Jul/2026:08:{i // 60 % 60:02d}:{i % 60:02d} +0700] "GET /dvc/thu-tuc/'
            f'1.00{i % 9000} HTTP/1.1" 200 {1000 + i % 5000} "https://dichvucong.gov.vn/" "Mozilla/5.0 (Linux; '
            'Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"'
        )
        events.append(
            {
                "@timestamp": ecs.format_ts(ecs.parse_ts(1782892800000 + i * 10)),
                "event": {
                    "id": ecs.event_id("bench", i, line),
                    "dataset": "nginx.access",
                    "kind": "event",
                    "original": line,
                },
                "source": {"ip": f"203.0.113.{i % 250}"},
                "http": {"request": {"method": "GET"}, "response": {"status_code": 200, "bytes": 1000 + i % 5000}},
                "url": {"original": f"/dvc/thu-tuc/1.00{i % 9000}", "path": f"/dvc/thu-tuc/1.00{i % 9000}"},
                "user_agent": {"original": "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile Safari/537.36"},
                "labels": {"province": "Hà Nội"},
            }
        )
    return events


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(name: str, fn, n: int, client: Elasticsearch) -> dict:
    before = client.perform_request("GET", "/_stats_bench").body
    t0, c0 = time.perf_counter(), cpu()
    fn()
    wall, used = time.perf_counter() - t0, cpu() - c0
    after = client.perform_request("GET", "/_stats_bench").body
    delta = {k: after[k] - before[k] for k in after}
    print(
        f"{name:<34} {n / wall:>9,.0f} ev/s  {used / n * 1e6:>6.1f} µs CPU/ev  "
        f"requests {delta['requests'] - 1:>4}  (bulk {delta['bulk']}, search {delta['search']})  "
        f"MB sent {delta['bytes'] / 1e6:>6.1f}"
    )
    return {"rate": n / wall, "cpu": used / n, "bytes": delta["bytes"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=5_000, help="events per append (the pipeline's batch size)")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each variant, alternating; the best is kept")
    args = ap.parse_args()
    q: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(q,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{q.get(timeout=10)}"
    plain = Elasticsearch(url, request_timeout=60)
    fast = Elasticsearch(url, request_timeout=60, serializer=OrjsonSerializer())  # as ElasticsearchStore connects
    events = make_events(args.events)
    stream = data_stream_name("nginx.access", "Hà Nội")
    batches = [events[i : i + args.batch] for i in range(0, len(events), args.batch)]
    limits = BulkLimits()
    print(f"{args.events} events of ~{len(orjson.dumps(events[0]))} bytes, {len(batches)} appends of {args.batch}")

    def baseline(client: Elasticsearch) -> None:
        for batch in batches:
            actions = ({"_op_type": "create", "_index": stream, "_id": e["event"]["id"], "_source": e} for e in batch)
            helpers.bulk(client, actions, chunk_size=limits.chunk_docs, max_chunk_bytes=limits.chunk_bytes)

    def sentinel(client: Elasticsearch) -> None:
        writer = BulkWriter(client, limits)
        for batch in batches:
            out = writer.write({e["event"]["id"]: (stream, e) for e in batch})
            assert len(out.created) == len(batch), "every event must be acknowledged"

    variants = {
        "helpers.bulk, stdlib json (baseline)": lambda: baseline(plain),
        "helpers.bulk, orjson": lambda: baseline(fast),
        "BulkWriter, orjson (the store)": lambda: sentinel(fast),
    }
    best: dict[str, dict] = {}
    for r in range(args.rounds):
        print(f"round {r + 1}")
        for name, fn in variants.items():
            res = run(name, fn, args.events, plain)
            if name not in best or res["rate"] > best[name]["rate"]:
                best[name] = res
    base, ours = best["helpers.bulk, stdlib json (baseline)"], best["BulkWriter, orjson (the store)"]
    same = best["helpers.bulk, orjson"]
    print("best of each:")
    for name, res in best.items():
        print(f"  {name:<38} {res['rate']:>9,.0f} ev/s  {res['cpu'] * 1e6:>6.1f} µs CPU/ev")
    print(
        f"store vs baseline: throughput {ours['rate'] / base['rate']:.2f}x, "
        f"CPU/event {ours['cpu'] / base['cpu']:.2f}x; "
        f"duplicate check vs same serializer: CPU/event {ours['cpu'] / same['cpu']:.2f}x, "
        f"bytes sent {ours['bytes'] / same['bytes']:.3f}x"
    )
    server.terminate()


if __name__ == "__main__":
    main()
