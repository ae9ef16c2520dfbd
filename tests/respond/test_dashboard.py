from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sentinel.respond import dashboard

from .conftest import make_alert

NOW = datetime(2026, 7, 1, 10, 30, tzinfo=UTC)
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_daily_buckets_follow_local_midnight():
    starts, step = dashboard.buckets(NOW, 7, VN)
    assert step == timedelta(days=1) and len(starts) == 7
    assert all(s.astimezone(VN).hour == 0 for s in starts)
    assert starts[-1] <= NOW < starts[-1] + step


def test_stacked_bars_sum_to_counts_and_other_collects_the_tail():
    alerts = []
    for i in range(8):  # eight rules: five named series plus "other"
        for j in range(i + 1):
            alerts.append(
                make_alert(rule_id=f"r{i}", title=f"Rule {i}", ip=f"198.51.100.{j}", when=NOW - timedelta(hours=j))
            )
    chart = dashboard.over_time(alerts, NOW, 1, UTC)
    assert [name for _, name in chart.legend] == ["Rule 7", "Rule 6", "Rule 5", "Rule 4", "Rule 3", "other"]
    total = sum(int(b.title.rsplit("(", 1)[1].rstrip(")")) for b in chart.bars)
    assert total == len(alerts)
    tallest = max(chart.bars, key=lambda b: b.y + b.h)
    assert tallest.y + tallest.h <= chart.height - 20 + 0.1
    assert min(b.y for b in chart.bars) >= 9.9  # the highest stack reaches the top margin, no further


def test_horizontal_bars_scale_to_the_largest():
    bars = dashboard.horizontal(Counter({"Hà Nội": 10, "Huế": 5, "-": 1}), width=300)
    assert [(b.label, b.w) for b in bars] == [("Hà Nội", 300.0), ("Huế", 150.0), ("-", 30.0)]
