"""Console page load times on a large embedded store: N events over a week and M alerts.

Each page is fetched through the real app in-process (authorisation, scope and
masking included) and timed end to end, best and median of R rounds. Baselines
in the same run: the JSON event count and search behind the search page
(``/api/events?total=true``) and the JSON alert list behind the queue.

    python bench/console.py --events 1000000 --alerts 5000            # builds the store (a few minutes)
    python bench/console.py --keep /tmp/console-bench ...              # reuses a store built before

The store is built once per folder and reused when the folder already holds one
of the same size, so a rerun measures pages only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

from sentinel import ecs
from sentinel.api.app import create_app
from sentinel.api.auth import LocalOperator
from sentinel.config import Settings
from sentinel.models import Alert, RuleRef, alert_id
from sentinel.store.base import AlertQuery, EventQuery
from sentinel.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[1]
HOT_IP = "203.0.113.7"
PROVINCES = ["Thành phố Hà Nội", "Thành phố Huế", "Tỉnh Lào Cai", "Thành phố Hồ Chí Minh", "Tỉnh Cà Mau"]
RULES = [
    ("web-sqli", "SQL injection in a portal request", "attack.t1190"),
    ("auth-spray", "Password spraying against the portal", "attack.t1110.003"),
    ("net-scan", "Port scan", "attack.t1046"),
    ("dns-tunnel", "DNS tunnelling", "attack.t1572"),
]


def events(n: int, now: datetime, batch: int = 5000):
    """n access-log events over the last 7 days; one address in 50 is HOT_IP, a status 500 in 20."""
    span = 7 * 86400
    for start in range(0, n, batch):
        out = []
        for i in range(start, min(n, start + batch)):
            ip = HOT_IP if i % 50 == 0 else f"10.{(i // 65536) % 256}.{(i // 256) % 256}.{i % 256}"
            status = 500 if i % 20 == 0 else 200
            user = f"can_bo_{i % 400:03d}" if i % 3 == 0 else None
            ts = ecs.format_ts(now - timedelta(seconds=(i * 7919) % span))
            line = f'{ip} - {user or "-"} "GET /dich-vu-cong/tra-cuu?id={i} HTTP/1.1" {status} 512 "-" "Mozilla/5.0"'
            doc = {
                "@timestamp": ts,
                "event": {"id": f"b{i}", "dataset": "nginx.access", "kind": "event", "original": line},
                "source": {"ip": ip},
                "url": {"original": f"/dich-vu-cong/tra-cuu?id={i}"},
                "http": {"request": {"method": "GET"}, "response": {"status_code": status}},
                "labels": {"province": PROVINCES[i % 5]},
            }
            if user:
                doc["user"] = {"name": user}
            out.append(doc)
        yield out


def alerts(m: int, now: datetime) -> list[Alert]:
    out = []
    for i in range(m):
        rule, title, tag = RULES[i % len(RULES)]
        ip = HOT_IP if i % 100 == 0 else f"198.51.{(i // 250) % 256}.{i % 250}"
        ts = ecs.format_ts(now - timedelta(seconds=i * 60))
        place = {"province": PROVINCES[i % 5]}
        ev = {"@timestamp": ts, "event": {"id": f"a{i}"}, "source": {"ip": ip}, "labels": place}
        out.append(
            Alert(
                id=alert_id(rule, ip, f"a{i}"),
                timestamp=ts,
                rule=RuleRef(id=rule, title=title, level="high", tags=[tag]),
                group_key=ip,
                entity={"source.ip": ip},
                first_seen=ts,
                last_seen=ts,
                event_ids=[f"a{i}"],
                events=[ev],
                severity=["medium", "high", "critical", "low"][i % 4],
                labels={"province": PROVINCES[i % 5]},
            )
        )
    return out


def build(folder: Path, n_events: int, n_alerts: int) -> SQLiteStore:
    settings = Settings(data_dir=folder, content_dir=REPO)
    store = SQLiteStore(settings.sqlite_path)
    have = store.count_events(EventQuery())
    if have != n_events:
        if have:
            raise SystemExit(f"{folder} holds {have:,} events, not {n_events:,}: give another --keep folder")
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        for chunk in events(n_events, now):
            store.append_events(chunk)
        for a in alerts(n_alerts, now):
            store.record_alert(a)
        print(f"built the store: {n_events:,} events, {n_alerts:,} alerts in {time.perf_counter() - t0:.0f} s")
    return store


def timed(http: TestClient, url: str, rounds: int) -> tuple[float, float, int]:
    """(best ms, median ms, bytes) of GET url; a non-200 answer stops the run."""
    times = []
    size = 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        r = http.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{url}: {r.status_code} {r.text[:300]}")
        size = len(r.content)
    return min(times), statistics.median(times), size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--alerts", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="build or reuse the store in this folder (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        folder = args.keep or Path(tmp)
        store = build(folder, args.events, args.alerts)
        settings = Settings(data_dir=folder, content_dir=REPO)
        app = create_app(settings, store, authenticator=LocalOperator())
        q = f"source.ip:{HOT_IP} AND http.response.status_code:500"
        qq = quote(q)
        first = store.list_alerts(AlertQuery(limit=1))[0]
        pages = [
            ("queue, default (100 rows)", "/console/alerts", "/api/alerts?limit=100"),
            ("queue sorted by severity (newest 2,000)", "/console/alerts?sort=severity", None),
            ("queue grouped by rule", "/console/alerts?group=rule", None),
            ("alert page", f"/console/alerts/{first.id}", f"/api/alerts/{first.id}"),
            ("search, last 24 h, no query", "/console/search?span=24h", "/api/events?total=true&since={day}"),
            (f"search `{q}`, 7 days", f"/console/search?span=7d&q={qq}", "/api/events?total=true&q={q}&since={week}"),
            ("search, free text `Mozilla`, last 1 h", "/console/search?span=1h&q=Mozilla", None),
            (f"entity page ip/{HOT_IP} (7 days)", f"/console/entities/ip/{HOT_IP}", None),
            ("entity page user/can_bo_007 (7 days)", "/console/entities/user/can_bo_007", None),
            ("cases list with suggestions (24 h of alerts)", "/console/cases", "/api/cases/suggestions"),
        ]
        now = datetime.now(UTC)
        fill = {
            "q": qq,
            "day": quote(ecs.format_ts(now - timedelta(days=1))),
            "week": quote(ecs.format_ts(now - timedelta(days=7))),
        }
        load = os.getloadavg()
        print(f"{args.events:,} events, {args.alerts:,} alerts; best / median of {args.rounds}; load {load[0]:.1f}")
        print("| page | best ms | median ms | KiB | JSON behind it, best ms |")
        print("|---|---|---|---|---|")
        with TestClient(app) as http:
            timed(http, "/console/alerts", 1)  # builds the response stage once, as a served app has
            for name, url, baseline in pages:
                best, median, size = timed(http, url, args.rounds)
                base = f"{timed(http, baseline.format(**fill), args.rounds)[0]:,.0f}" if baseline else ""
                print(f"| {name} | {best:,.0f} | {median:,.0f} | {size / 1024:,.0f} | {base} |")
        store.close()


if __name__ == "__main__":
    main()
