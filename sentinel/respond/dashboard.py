"""Aggregations behind the console dashboard, and their geometry as plain SVG shapes.

Charts are drawn on the server as SVG (no JavaScript chart library): this
module turns alerts into series and series into rectangles with coordinates,
and the template only writes them out (every label escaped by Jinja).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from sentinel import ecs
from sentinel.models import Alert
from sentinel.respond.alert_fields import alert_field, alert_place
from sentinel.timefmt import show_time

TOP_RULES = 5
PALETTE = 6  # CSS classes s0..s5; s5 is "other"


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    cls: str
    title: str


@dataclass
class StackedChart:
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    max_value: int = 0


@dataclass
class HBar:
    label: str
    value: int
    w: float
    y: float


def buckets(now: datetime, days: int, tz: tzinfo = UTC) -> tuple[list[datetime], timedelta]:
    """Hourly buckets for up to two days, daily (local midnight to midnight) beyond; oldest first."""
    step = timedelta(hours=1) if days <= 2 else timedelta(days=1)
    end = now.astimezone(tz).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if step == timedelta(days=1):
        end = end.replace(hour=0) + timedelta(days=1)
    n = int(timedelta(days=days) / step)
    return [end - step * (n - i) for i in range(n)], step


def rule_of(alert: Alert) -> str:
    return alert.rule.title


def province_of(alert: Alert) -> str:
    return alert_place(alert)[0] or "-"


def over_time(
    alerts: list[Alert],
    now: datetime,
    days: int,
    tz: tzinfo = UTC,
    series: Callable[[Alert], str] = rule_of,
    width: int = 760,
    height: int = 220,
    other: str = "other",
) -> StackedChart:
    """Alerts per time bucket stacked by ``series`` (the top values by count, the rest as ``other``, the legend's
    word for them in the reader's language)."""
    starts, step = buckets(now, days, tz)
    keys = {a.id: series(a) for a in alerts}
    by_rule = Counter(keys.values())
    top = [r for r, _ in by_rule.most_common(TOP_RULES)]
    series_of = {r: i for i, r in enumerate(top)}
    grid: dict[int, Counter] = defaultdict(Counter)
    origin = starts[0]
    for a in alerts:
        t = ecs.parse_ts(a.last_seen)
        idx = int((t - origin) / step)
        if 0 <= idx < len(starts):
            grid[idx][series_of.get(keys[a.id], PALETTE - 1)] += 1
    chart = StackedChart(width, height)
    chart.legend = [(f"s{i}", r) for i, r in enumerate(top)]
    if len(by_rule) > len(top):
        chart.legend.append((f"s{PALETTE - 1}", other))
    chart.max_value = max((sum(c.values()) for c in grid.values()), default=0)
    scale = (height - 30) / chart.max_value if chart.max_value else 0
    slot = (width - 40) / len(starts)
    for idx, start in enumerate(starts):
        x = 40 + idx * slot
        y = height - 20
        for series in sorted(grid[idx]):
            n = grid[idx][series]
            h = n * scale
            y -= h
            label = chart.legend[series][1] if series < len(top) else other
            chart.bars.append(
                Bar(
                    round(x + 1, 1),
                    round(y, 1),
                    round(max(slot - 2, 1), 1),
                    round(h, 1),
                    f"s{series}",
                    f"{_label(start, step, tz)}: {label} ({n})",
                )
            )
    every = max(1, len(starts) // 8)
    chart.ticks = [(round(40 + i * slot, 1), _label(s, step, tz)) for i, s in enumerate(starts) if i % every == 0]
    return chart


def _label(t: datetime, step: timedelta, tz: tzinfo) -> str:
    return show_time(t, tz, "clock" if step < timedelta(days=1) else "day")


def horizontal(counts: Counter, width: int = 360, row: int = 22, limit: int = 10) -> list[HBar]:
    top = counts.most_common(limit)
    peak = top[0][1] if top else 0
    return [HBar(str(k), v, round((width * v / peak) if peak else 0, 1), i * row) for i, (k, v) in enumerate(top)]


def by_province(alerts: list[Alert]) -> Counter:
    return Counter(province_of(a) for a in alerts)


def top_sources(alerts: list[Alert]) -> Counter:
    """Source addresses by the number of matches in their alerts."""
    out: Counter = Counter()
    for a in alerts:
        ip = alert_field(a, "source.ip")
        if ip:
            out[str(ip)] += a.count
    return out


def status_counts(alerts: list[Alert]) -> dict[str, int]:
    c = Counter(a.status for a in alerts)
    return {s: c.get(s, 0) for s in ("open", "acknowledged", "in_progress", "closed")}
