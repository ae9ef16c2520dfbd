"""File tailing benchmark: lines/s from an access log into the store, with rsyslog as the reference.

Measured in the same run on the same generated portal access log:
- ``rsyslog``: Debian's rsyslogd, ``imfile`` tailing the file into a JSON-lines file (``omfile``), the
  reference the issue sets (install with ``apt-get install rsyslog``; skipped with a note if absent);
- ``collector only``: Sentinel's file source (read, split, parse to ECS) -> disk queue (SQLite WAL,
  fsync per batch) -> a sink that acknowledges without storing: the collector's own cost;
- ``into SQLite``: the same, shipping into the embedded store (unique ids, FTS index) without transforms;
- ``configured pipeline``: the store through ``build_pipeline`` (personal-data protection and, unless
  ``--no-detect``, the Sigma rules), on the first ``--full-lines`` lines because it is much slower.

    python bench/tail.py --lines 200000 --full-lines 5000
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentinel.collect.files import FileOptions, FileSource
from sentinel.config import Settings
from sentinel.demo.traffic import generate
from sentinel.ingest.collector import Runner, RunOptions
from sentinel.ingest.pipeline import IngestCounts, Pipeline
from sentinel.ingest.queue import DiskQueue
from sentinel.ingest.sinks import StoreSink
from sentinel.runtime import Runtime, settle_heap
from sentinel.store.base import EventQuery
from sentinel.store.sqlite import SQLiteStore


def make_log(path: Path, lines: int) -> None:
    written, seed = 0, 1
    with path.open("w", encoding="utf-8") as f:
        while written < lines:
            chunk = generate(seed=seed, sessions=20000).access_lines[: lines - written]
            f.write("\n".join(chunk) + "\n")
            written += len(chunk)
            seed += 1


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_rsyslog(log: Path, lines: int, work: Path) -> dict[str, Any] | None:
    rsyslogd = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None)
    if rsyslogd is None:
        return None
    out = work / "out.json"
    conf = work / "rsyslog.conf"
    conf.write_text(
        textwrap.dedent(f"""
        global(workDirectory="{work}")
        module(load="imfile")
        template(name="j" type="list" option.jsonf="on") {{
          property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
          property(outname="host" name="hostname" format="jsonf")
          property(outname="tag" name="syslogtag" format="jsonf")
          property(outname="message" name="msg" format="jsonf")
        }}
        ruleset(name="tail") {{ action(type="omfile" file="{out}" template="j") }}
        input(type="imfile" File="{log}" Tag="access" ruleset="tail" freshStartTail="off")
    """)
    )
    start = time.perf_counter()
    proc = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(work / "rsyslog.pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    done = 0
    cpu = 0.0
    try:
        deadline = time.monotonic() + 600
        while done < lines and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
            if out.exists():
                with out.open("rb") as f:
                    done = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        elapsed = time.perf_counter() - start
        cpu = _cpu_of(proc.pid) if proc.poll() is None else 0.0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    if done < lines:
        raise SystemExit(
            f"rsyslog wrote {done} of {lines} lines: {proc.stderr.read().decode()[:500] if proc.stderr else ''}"
        )
    return {"lines": done, "seconds": elapsed, "cpu": cpu}


class AckSink:
    """Acknowledges every batch without storing it: measures the collector alone."""

    name = "ack"

    def send(self, events: list[dict[str, Any]]) -> IngestCounts:
        return IngestCounts(read=len(events), stored=len(events))

    def finish(self) -> IngestCounts:
        return IngestCounts()

    def close(self) -> None:
        pass


def run_collector(log: Path, work: Path, sink: Any, lines: int) -> dict[str, Any]:
    source = FileSource("bench", [str(log)], work / "offsets.json", FileOptions(fmt="access", batch_events=5000))
    source.once = True
    queue = DiskQueue(work / "queue.db")
    settle_heap()  # as `sentinel collect` does once its pipeline is loaded
    cpu0, t0 = time.process_time(), time.perf_counter()
    stats = Runner("bench", [source], sink, queue, options=RunOptions(status_interval=3600)).run(once=True)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    source.close()
    queue.close()
    if stats.read != lines or stats.stored + stats.duplicates != lines:
        raise SystemExit(f"collector read {stats.read} and stored {stats.stored} of {lines} lines")
    return {"lines": lines, "seconds": elapsed, "cpu": cpu}


def head(src: Path, dst: Path, n: int) -> None:
    with src.open("rb") as f, dst.open("wb") as out:
        for i, line in enumerate(f):
            if i >= n:
                break
            out.write(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--full-lines", type=int, default=5000, help="lines for the configured-pipeline row")
    ap.add_argument("--no-detect", action="store_true", help="configured pipeline without the Sigma rules")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sentinel-tail-"))
    try:
        log = root / "access.log"
        make_log(log, args.lines)
        size = log.stat().st_size
        print(f"file: {args.lines} lines, {size / 1e6:.1f} MB", flush=True)
        rows: list[tuple[str, dict[str, Any] | None]] = []

        work = root / "rsyslog"
        work.mkdir()
        rows.append(("rsyslog 8 imfile -> JSON file (reference)", bench_rsyslog(log, args.lines, work)))
        print("rsyslog done", flush=True)

        work = root / "ack"
        work.mkdir()
        rows.append(("Sentinel file source -> disk queue (no store)", run_collector(log, work, AckSink(), args.lines)))
        print("collector done", flush=True)

        work = root / "sqlite"
        work.mkdir()
        store = SQLiteStore(work / "s.db")
        rows.append(("Sentinel file source -> disk queue -> SQLite store",
                     run_collector(log, work, StoreSink(Pipeline(store)), args.lines)))  # fmt: skip
        assert store.count_events(EventQuery()) == args.lines
        store.close()
        print("sqlite done", flush=True)

        work = root / "full"
        work.mkdir()
        small = root / "head.log"
        head(log, small, args.full_lines)
        settings = Settings(data_dir=work)
        sink = StoreSink.configured(Runtime(settings), detect=not args.no_detect, enrich=False)
        label = "configured pipeline (protection" + (")" if args.no_detect else " + detection)")
        rows.append((f"Sentinel -> disk queue -> {label}, {args.full_lines} lines",
                     run_collector(small, work, sink, args.full_lines)))  # fmt: skip
        sink.close()

        ref = rows[0][1]
        print("\n| Path | lines/s | CPU µs/line | vs rsyslog |")
        print("|---|---|---|---|")
        for name, r in rows:
            if r is None:
                print(f"| {name} | not run (rsyslogd not installed) | | |")
                continue
            rate = r["lines"] / r["seconds"]
            cpu = r["cpu"] / r["lines"] * 1e6 if r["cpu"] else float("nan")
            vs = f"{rate / (ref['lines'] / ref['seconds']):.2f}x" if ref else "n/a"
            print(f"| {name} | {rate:,.0f} | {cpu:.1f} | {vs} |")
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
