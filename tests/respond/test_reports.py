from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sentinel.respond.reports import shift_of, shift_report
from sentinel.respond.settings import RespondConfig

from .conftest import make_alert

CFG = RespondConfig()  # day 07-19, night 19-07, Asia/Ho_Chi_Minh (UTC+7)


def test_shift_of_handles_night_crossing_midnight():
    # 20:00 UTC on 1 July = 03:00 local on 2 July: the night shift that started on 1 July
    assert shift_of(CFG, datetime(2026, 7, 1, 20, 0, tzinfo=UTC)) == (datetime(2026, 7, 1).date(), "night")
    assert shift_of(CFG, datetime(2026, 7, 1, 1, 0, tzinfo=UTC)) == (datetime(2026, 7, 1).date(), "day")
    assert shift_of(CFG, datetime(2026, 7, 1, 12, 30, tzinfo=UTC)) == (datetime(2026, 7, 1).date(), "night")


def test_tta_ttc_per_shift(store):
    now = datetime.now(UTC)
    a = store.record_alert(make_alert(ip="198.51.100.1", severity="critical"))
    b = store.record_alert(make_alert(ip="198.51.100.2", severity="critical"))
    store.record_alert(make_alert(ip="198.51.100.3", severity="critical", when=now - timedelta(hours=1)))
    store.update_alert(a.id, {"status": "acknowledged"}, a.version, "lan")
    a = store.get_alert(a.id)
    store.update_alert(a.id, {"status": "closed", "disposition": "true_positive"}, a.version, "lan")
    store.update_alert(b.id, {"status": "closed", "disposition": "benign"}, b.version, "lan")
    rows = shift_report(store, CFG, since=now - timedelta(days=1), now=now + timedelta(minutes=1))
    assert sum(r["alerts"] for r in rows) == 3
    assert sum(r["acknowledged"] for r in rows) == 2 and sum(r["closed"] for r in rows) == 2
    assert sum(r["late_ack"] for r in rows) == 1  # the hour-old critical alert nobody acknowledged
    merged = {}
    for r in rows:
        for k, v in r["dispositions"].items():
            merged[k] = merged.get(k, 0) + v
    assert merged == {"true_positive": 1, "benign": 1}
    current = next(r for r in rows if r["closed"])
    assert 0 <= current["tta_median_s"] < 60 and current["ttc_median_s"] >= current["tta_median_s"] - 1
