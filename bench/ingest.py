"""Ingest benchmark: parse + normalise + store N access-log lines, per candidate embedded store.

Candidates, measured in the same run on the same file:
- ``sqlite``: Sentinel's SQLiteStore (WAL, batched transactions, unique event.id, FTS5 text index);
- ``duckdb``: the same data model in DuckDB (primary key on event.id, ``INSERT OR IGNORE`` from an
  Arrow batch: DuckDB's fastest bulk path), no text index (DuckDB's FTS index cannot be updated
  incrementally, so text search scans).
Each candidate also re-ingests the first 10% (all duplicates) and answers the queries triage asks
(events of one source address, a time window, a text search), timed.

    python bench/ingest.py --lines 1000000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from sentinel import ecs
from sentinel.collect.parsers import parse_line
from sentinel.demo.traffic import generate
from sentinel.ingest.stream import iter_lines
from sentinel.store.base import EventQuery
from sentinel.store.sqlite import COLUMNS, SQLiteStore, stored_fields

BATCH = 5000
# 09:00-10:00 local time on the generated day (2026-11-20, UTC+7): the busiest hour
WINDOW_START_MS = 1_795_140_000_000


def make_log(path: Path, lines: int) -> int:
    """Write about ``lines`` access-log lines of generated portal traffic (repeating days with new seeds)."""
    written = 0
    seed = 1
    with path.open("w", encoding="utf-8") as f:
        while written < lines:
            day = generate(seed=seed, sessions=20000)
            chunk = day.access_lines[: lines - written]
            f.write("\n".join(chunk) + "\n")
            written += len(chunk)
            seed += 1
    return written


def batches(path: Path, limit: int | None = None) -> Iterator[list[dict]]:
    source = str(path.resolve())
    batch: list[dict] = []
    with path.open("rb") as f:
        for n, (offset, line) in enumerate(iter_lines(f)):
            if limit is not None and n >= limit:
                break
            batch.append(parse_line(line, source=source, position=offset))
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


class DuckDBCandidate:
    """The embedded store's data model on DuckDB, with its fastest bulk-insert path."""

    backend = "duckdb"

    def __init__(self, path: Path) -> None:
        import duckdb

        self.con = duckdb.connect(str(path))
        cols = ", ".join(f"{c} VARCHAR" for c in COLUMNS.values())
        self.con.execute(f"CREATE TABLE events (id VARCHAR PRIMARY KEY, ts BIGINT, {cols}, body VARCHAR, doc VARCHAR)")

    def append(self, events: list[dict]) -> int:
        import pyarrow as pa

        before = self.con.execute("SELECT count(*) FROM events").fetchone()[0]
        data = {
            "id": [e["event"]["id"] for e in events],
            "ts": [int(ecs.parse_ts(e["@timestamp"]).timestamp() * 1000) for e in events],
        }
        stored = [stored_fields(e) for e in events]
        for i, col in enumerate(COLUMNS.values()):
            data[col] = [_str(cells[i]) for cells, _ in stored]
        data["body"] = [text for _, text in stored]
        data["doc"] = [orjson.dumps(e).decode() for e in events]
        batch = pa.table(data)  # noqa: F841 - read by DuckDB's replacement scan
        self.con.execute("INSERT OR IGNORE INTO events SELECT * FROM batch")
        return self.con.execute("SELECT count(*) FROM events").fetchone()[0] - before

    def by_source(self, ip: str) -> int:
        return self.con.execute("SELECT count(*) FROM events WHERE source_ip = ?", [ip]).fetchone()[0]

    def window(self, start_ms: int, end_ms: int) -> int:
        return self.con.execute("SELECT count(*) FROM events WHERE ts >= ? AND ts < ?", [start_ms, end_ms]).fetchone()[
            0
        ]

    def text(self, word: str) -> int:
        return self.con.execute("SELECT count(*) FROM events WHERE body ILIKE ?", [f"%{word}%"]).fetchone()[0]

    def close(self) -> None:
        self.con.close()


def _str(v: object) -> str | None:
    return None if v is None else str(v)


class SQLiteCandidate:
    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.store = SQLiteStore(path)

    def append(self, events: list[dict]) -> int:
        return self.store.append_events(events).stored_count

    def by_source(self, ip: str) -> int:
        return self.store.count_events(EventQuery(filters={"source.ip": [ip]}))

    def window(self, start_ms: int, end_ms: int) -> int:
        since, until = (ecs.parse_ts(start_ms), ecs.parse_ts(end_ms))
        return self.store.count_events(EventQuery(since=since, until=until))

    def text(self, word: str) -> int:
        return self.store.count_events(EventQuery(text=word))

    def close(self) -> None:
        self.store.close()


def timed(fn: Callable[[], object], repeat: int = 5) -> tuple[object, float]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return result, best


def run(candidate_cls: type, log: Path, work: Path, n: int, parse_only: float) -> dict:
    cand = candidate_cls(work / f"bench.{candidate_cls.backend}")
    stored = 0
    t0 = time.perf_counter()
    for batch in batches(log):
        stored += cand.append(batch)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    dup_new = sum(cand.append(b) for b in batches(log, limit=n // 10))
    dup_time = time.perf_counter() - t1
    queries = {
        "by_source": timed(lambda: cand.by_source("45.1.2.3"))[1],
        "window_1h": timed(lambda: cand.window(WINDOW_START_MS, WINDOW_START_MS + 3_600_000))[1],
        "text_sqlmap": timed(lambda: cand.text("sqlmap"))[1],
    }
    cand.close()
    size = sum(p.stat().st_size for p in work.glob(f"bench.{candidate_cls.backend}*"))
    return {
        "backend": candidate_cls.backend,
        "stored": stored,
        "seconds": total,
        "events_per_s": n / total,
        "store_only_per_s": n / max(total - parse_only, 1e-9),
        "reingest_new": dup_new,
        "reingest_per_s": (n // 10) / dup_time,
        "queries_ms": {k: round(v * 1000, 2) for k, v in queries.items()},
        "size_mb": size / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sentinel-bench-"))
    try:
        log = work / "access.log"
        t = time.perf_counter()
        n = make_log(log, args.lines)
        print(f"generated {n:,} lines ({log.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s")
        t = time.perf_counter()
        parsed = sum(len(b) for b in batches(log))
        parse_only = time.perf_counter() - t
        print(f"parse + normalise only: {parsed / parse_only:,.0f} lines/s ({parse_only:.1f}s)")
        results = [run(c, log, work, n, parse_only) for c in (SQLiteCandidate, DuckDBCandidate)]
        print(
            f"\n{'store':<8} {'events/s':>10} {'store-only/s':>13} {'reingest/s':>11} {'dups stored':>11} "
            f"{'size MB':>8}  query ms (by source / 1h window / text)"
        )
        for r in results:
            q = r["queries_ms"]
            print(
                f"{r['backend']:<8} {r['events_per_s']:>10,.0f} {r['store_only_per_s']:>13,.0f} "
                f"{r['reingest_per_s']:>11,.0f} {r['reingest_new']:>11} {r['size_mb']:>8.0f}  "
                f"{q['by_source']} / {q['window_1h']} / {q['text_sqlmap']}"
            )
            assert r["stored"] == n, f"{r['backend']} stored {r['stored']} of {n}"
        base = results[1]
        print(f"\nsqlite vs duckdb: ingest x{results[0]['events_per_s'] / base['events_per_s']:.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
