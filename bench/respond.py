"""Response-stage benchmark: suppression matching, escalation ticks, console queue rendering, playbook runs.

Each figure comes with a baseline measured in the same run on the same data:
- suppression filtering of detector output vs passing alerts through unfiltered;
- one escalation tick over N open alerts vs the store query that lists them (the floor);
- the console queue page (HTML, masked, 500 alerts) vs the JSON alert list of the same alerts;
- a dry-run playbook (enrichment, history queries, condition, notify render) per alert.

    python bench/respond.py --alerts 5000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from sentinel import ecs
from sentinel.api.app import create_app
from sentinel.api.auth import LocalOperator
from sentinel.config import Settings
from sentinel.models import Alert, RuleRef, alert_id
from sentinel.respond.service import ResponseService
from sentinel.respond.settings import RespondConfig
from sentinel.respond.suppress import parse_suppression
from sentinel.store.base import AlertQuery
from sentinel.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[1]
RULES = [("web-sqli", "attack.t1190"), ("auth-bf", "attack.t1110"), ("scan", "attack.t1046"), ("dns", "attack.t1572")]
PROVINCES = ["Thành phố Hà Nội", "Thành phố Huế", "Tỉnh Lào Cai", "Thành phố Hồ Chí Minh", "Tỉnh Cà Mau"]


def alerts(n: int, now: datetime) -> list[Alert]:
    out = []
    for i in range(n):
        rule, tag = RULES[i % len(RULES)]
        ip = f"198.51.{(i // 250) % 256}.{i % 250}"
        ts = ecs.format_ts(now - timedelta(seconds=i * 7))
        ev = {
            "@timestamp": ts,
            "event": {"id": f"e{i}", "dataset": "nginx.access"},
            "source": {"ip": ip},
            "url": {"original": f"/tra-cuu?id={i}"},
            "labels": {"province": PROVINCES[i % 5]},
        }
        out.append(
            Alert(
                id=alert_id(rule, ip, f"e{i}"),
                timestamp=ts,
                rule=RuleRef(id=rule, title=f"Rule {rule}", level="high", tags=[tag]),
                group_key=ip,
                entity={"source.ip": ip},
                first_seen=ts,
                last_seen=ts,
                event_ids=[f"e{i}"],
                events=[ev],
                severity="high",
                risk_score=75,
                labels={"province": PROVINCES[i % 5]},
            )
        )
    return out


def best(fn: Callable[[], object], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=5000)
    ap.add_argument("--suppressions", type=int, default=50)
    args = ap.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), content_dir=REPO)
        store = SQLiteStore(settings.sqlite_path)
        batch = alerts(args.alerts, now)
        for a in batch:
            store.record_alert(a)
        stage = ResponseService.build(settings, store, RespondConfig())
        print(f"{args.alerts} alerts, {args.suppressions} active suppressions; best of 3 rounds; 2 shared cores")

        # 1. suppression filtering (50 CIDR exceptions, none of which match: the worst case, every one is tried)
        expires = now + timedelta(hours=1)
        for i in range(args.suppressions):
            stage.suppressions.create(
                parse_suppression(
                    {
                        "rule_id": RULES[i % 4][0],
                        "reason": "bench",
                        "match": {"source.ip": [f"203.0.{i}.0/24"]},
                        "expires": expires,
                    }
                ),
                "bench",
            )
        base = best(lambda: [a for a in batch if a is not None])
        filt = best(lambda: stage.suppressions.filter(batch))
        assert len(stage.suppressions.filter(batch)) == len(batch)
        print(
            f"suppression filter: {args.alerts / filt:,.0f} alerts/s ({filt / args.alerts * 1e6:.1f} µs/alert); "
            f"pass-through baseline {base / args.alerts * 1e6:.2f} µs/alert"
        )

        # 2. escalation tick over the open alerts (no channel configured: every alert logs 'no route' once)
        floor = best(lambda: store.list_alerts(AlertQuery(status=["open"], limit=10_000)))
        first = time.perf_counter()
        stage.escalator.tick(now)
        first = time.perf_counter() - first
        steady = best(lambda: stage.escalator.tick(now + timedelta(seconds=1)))
        print(
            f"escalation tick: first {first:.2f}s (records {args.alerts} notifications), steady {steady:.2f}s; "
            f"baseline store listing {floor:.2f}s"
        )

        # 3. console queue vs JSON list of the same 500 alerts
        with TestClient(create_app(settings, store, authenticator=LocalOperator())) as http:
            http.get("/console/alerts?days=2")  # warm: policy, templates
            html = best(lambda: http.get("/console/alerts?days=2"), 5)
            js = best(lambda: http.get("/api/alerts?limit=500&status=open"), 5)
            page = http.get("/console/alerts?days=2").text
            detail = best(lambda: http.get(f"/console/alerts/{batch[0].id}"), 5)
            dash = best(lambda: http.get("/console/dashboard?days=1"), 3)
        print(
            f"console queue page (500 rows, {len(page) // 1024} KiB): {html * 1000:.0f} ms; "
            f"JSON /api/alerts (500): {js * 1000:.0f} ms; alert page {detail * 1000:.0f} ms; "
            f"dashboard (1 day) {dash * 1000:.0f} ms"
        )

        # 4. dry-run playbook runs
        runs = []
        for a in batch[:40:4]:
            t = time.perf_counter()
            stage.runner.start("playbook--web-attack", a.id, "bench")
            runs.append(time.perf_counter() - t)
        print(f"dry-run playbook (web attack, to its approval step): median {statistics.median(runs) * 1000:.0f} ms")
        stage.close()
        store.close()


if __name__ == "__main__":
    main()
