"""Time-to-acknowledge and time-to-close per shift, from the timestamps every status change leaves on alerts.

An alert belongs to the shift (in the SOC's time zone) during which it was
raised; a night shift that crosses midnight is dated by its start.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sentinel import ecs
from sentinel.models import Alert
from sentinel.respond.settings import RespondConfig, Shift
from sentinel.store import AlertQuery, Store

PAGE = 1000


@dataclass
class ShiftStats:
    day: date
    shift: str
    alerts: int = 0
    acknowledged: int = 0
    closed: int = 0
    late_ack: int = 0
    tta: list[float] = field(default_factory=list)
    ttc: list[float] = field(default_factory=list)
    dispositions: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "shift": self.shift,
            "alerts": self.alerts,
            "acknowledged": self.acknowledged,
            "closed": self.closed,
            "late_ack": self.late_ack,
            "tta_median_s": _median(self.tta),
            "tta_p90_s": _p90(self.tta),
            "ttc_median_s": _median(self.ttc),
            "ttc_p90_s": _p90(self.ttc),
            "dispositions": self.dispositions,
        }


def _median(v: list[float]) -> float | None:
    return round(statistics.median(v), 1) if v else None


def _p90(v: list[float]) -> float | None:
    if not v:
        return None
    s = sorted(v)
    return round(s[min(len(s) - 1, int(0.9 * len(s)))], 1)


def shift_of(config: RespondConfig, when: datetime) -> tuple[date, str]:
    local = when.astimezone(config.tz)
    t = local.time()
    for shift in config.shifts:
        if _within(shift, t):
            starts_yesterday = shift.start > shift.end and t < shift.end
            return (local.date() - timedelta(days=1) if starts_yesterday else local.date()), shift.name
    return local.date(), "unassigned"


def _within(shift: Shift, t: object) -> bool:
    if shift.start <= shift.end:
        return shift.start <= t < shift.end
    return t >= shift.start or t < shift.end


def shift_report(
    store: Store,
    config: RespondConfig,
    since: datetime,
    until: datetime | None = None,
    now: datetime | None = None,
    labels: dict[str, str] | None = None,
) -> list[dict]:
    """One row per (day, shift) with counts, TTA/TTC median and p90 in seconds, late acknowledgements.

    ``labels`` confines it to alerts of one place (the caller's scope).
    """
    alerts: list[Alert] = []
    offset = 0
    while True:
        page = store.list_alerts(AlertQuery(since=since, until=until, labels=labels or {}, limit=PAGE, offset=offset))
        alerts.extend(page)
        if len(page) < PAGE:
            break
        offset += PAGE
    return shift_rows(alerts, config, now or datetime.now(since.tzinfo))


def shift_rows(alerts: list[Alert], config: RespondConfig, now: datetime) -> list[dict]:
    """The per-shift rows for alerts already in hand (the dashboard passes the caller's scoped list)."""
    rows: dict[tuple[date, str], ShiftStats] = {}
    for alert in alerts:
        _add(rows, config, alert, now)
    return [rows[k].as_dict() for k in sorted(rows)]


def _add(rows: dict, config: RespondConfig, alert: Alert, now: datetime) -> None:
    created = ecs.parse_ts(alert.timestamp)
    key = shift_of(config, created)
    st = rows.setdefault(key, ShiftStats(day=key[0], shift=key[1]))
    st.alerts += 1
    deadline = config.escalation.ack_deadline.get(alert.severity)
    if alert.acknowledged_at:
        st.acknowledged += 1
        tta = (ecs.parse_ts(alert.acknowledged_at) - created).total_seconds()
        st.tta.append(tta)
        if deadline and tta > deadline.total_seconds():
            st.late_ack += 1
    elif deadline and now - created > deadline:
        st.late_ack += 1
    if alert.status == "closed" and alert.closed_at:
        st.closed += 1
        st.ttc.append((ecs.parse_ts(alert.closed_at) - created).total_seconds())
        if alert.disposition:
            st.dispositions[alert.disposition] = st.dispositions.get(alert.disposition, 0) + 1
