"""Benchmark of the rule pack tooling and of ``sentinel detect`` over raw access logs.

Measures, in one run on the same generated log:

* parse only (the baseline: what reading the log costs without any rule),
* parse + the shipped pack in the streaming engine (what ``sentinel detect`` does per line),
* the ``sentinel detect`` command end to end (process start, rule loading, JSON output),

and the pack tooling: loading the pack, running every rule's test cases, the
full lint, and converting the pack to ES|QL.

    python bench/rules_pack.py [--lines 200000]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"

NORMAL = [
    "/dich-vu-cong/ho-so/tra-cuu?maHoSo=000.00.01.H29-260701-{n:04d}",
    "/dang-nhap",
    "/thanh-toan?giaoDich={n}",
    "/api/v1/ho-so/{n}",
    "/tai-lieu/tai-ve?id={n}",
    "/static/js/app.{n}.js",
    "/dich-vu-cong/thu-tuc/1.001612",
]
ATTACKS = [
    "/dich-vu-cong/ho-so/tra-cuu?maHoSo=1%27%20UNION%20SELECT%20NULL--",
    "/tai-lieu/tai-ve?tep=../../../../etc/passwd",
    "/tim-kiem?tuKhoa=%3Cscript%3Ealert(1)%3C/script%3E",
    "/.env",
]
AGENTS = ["Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile", "VNeID/2.1.5 (iPhone; iOS 17.5)", "sqlmap/1.8"]


def generate(path: Path, lines: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w") as f:
        for i in range(lines):
            attack = rng.random() < 0.01
            target = rng.choice(ATTACKS) if attack else rng.choice(NORMAL).format(n=rng.randrange(100000))
            agent = AGENTS[2] if attack and rng.random() < 0.3 else rng.choice(AGENTS[:2])
            ip = f"{rng.choice([14, 113, 171, 203])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            sec = i // 500
            status = 404 if target == "/.env" else 200
            f.write(
                f"{ip} - - [01/Jul/2026:{9 + sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} +0700] "
                f'"GET {target} HTTP/1.1" {status} {rng.randrange(200, 90000)} "-" "{agent}"\n'
            )


def parse_all(path: Path) -> list[dict]:
    from sentinel.collect.parsers import parse_line
    from sentinel.ingest.stream import iter_lines

    with path.open("rb") as f:
        return [parse_line(line, source=str(path), position=off) for off, line in iter_lines(f)]


def timed(label: str, fn, count: int | None = None):
    """Run ``fn``; print wall time and this process's CPU time (the steadier figure on a shared machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    secs, cpu_secs = time.perf_counter() - start, time.process_time() - cpu
    rate = f"  {count / cpu_secs:>10,.0f} lines/CPU-s" if count else ""
    print(f"{label:52} {secs:7.2f} s wall {cpu_secs:7.2f} s CPU{rate}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200_000)
    args = ap.parse_args()
    n = args.lines
    print(f"machine: {os.cpu_count()} cores, shared with other work (figures are noisy); {n:,} access-log lines\n")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        generate(log, n)

        from sentinel.detect.engine import Engine

        engine = Engine.from_paths([RULES])
        events = timed("baseline: parse only", lambda: parse_all(log), n)

        def detect() -> int:
            eng = Engine.from_paths([RULES])
            alerts = 0
            for i in range(0, len(events), 2000):
                alerts += len(eng.process(events[i : i + 2000]))
            return alerts + len(eng.flush())

        cpu0 = time.process_time()
        alerts = timed("engine only: shipped pack over the parsed events", detect, n)
        engine_cpu = time.process_time() - cpu0
        print(f"{'':52} {alerts:,} alerts from {len(engine.rules)} compiled rules")
        cmd = [sys.executable, "-m", "sentinel.cli.main", "detect", "--rules", str(RULES), str(log)]
        t0, child0 = time.perf_counter(), os.times()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
        cli_secs, child1 = time.perf_counter() - t0, os.times()
        cli_cpu = (child1.children_user + child1.children_system) - (child0.children_user + child0.children_system)
        label = "sentinel detect (CLI, end to end, JSON out)"
        print(f"{label:52} {cli_secs:7.2f} s wall {cli_cpu:7.2f} s CPU  {n / cli_cpu:>10,.0f} lines/CPU-s")
        print(f"{'':52} {proc.stderr.strip().splitlines()[-1]}")
        print(f"{'':52} detection costs {engine_cpu / n * 1e6:.1f} CPU-us/line on top of parsing\n")

    from sentinel.detect.convert import convert_rules
    from sentinel.detect.pack import lint, load_pack, run_tests

    pack = timed("load pack (pySigma parse + tests sections)", lambda: load_pack([RULES]))
    results = timed("run every rule's test cases", lambda: run_tests(pack))
    print(f"{'':52} {len(results)} cases, {sum(r.passed for r in results)} passed")
    issues = timed("full lint (ours + pySigma validators + tests)", lambda: lint(pack))
    print(f"{'':52} {len(issues)} issues")
    conv = timed("convert pack to ES|QL", lambda: convert_rules([r.rule for r in pack.rules], "esql"))
    print(f"{'':52} {sum(1 for c in conv if not c.error)} of {len(conv)} rules converted")


if __name__ == "__main__":
    main()
