"""Times shown to people: in the one display zone (the ``display_timezone`` setting), always with that zone.

Stored and exchanged times stay UTC ISO 8601 (:func:`sentinel.ecs.format_ts`; JSON from the API and the
CLI's ``--format json``/``jsonl``). Text meant for a person -- CLI tables and summaries, console pages,
notifications -- goes through :func:`show_time`, so the CLI, the console and a notification show the same
instant the same way, and no reader has to guess the zone: ``2026-12-02 15:04:05 +07``. The date is
written year first, which reads the same in Vietnamese and in English.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Literal

from sentinel import ecs

Precision = Literal["second", "minute", "day", "clock", "day-clock"]
FORMATS: dict[str, str] = {
    "second": "%Y-%m-%d %H:%M:%S",  # tables, pages, notifications
    "minute": "%Y-%m-%d %H:%M",
    "day": "%Y-%m-%d",  # a day's bucket in a chart
    "clock": "%H:%M",  # ticks of a chart within one day
    "day-clock": "%m-%d %H:%M",  # ticks of a chart over a few days
}


def zone_abbrev(t: datetime) -> str:
    """``+07``, ``+05:30``, ``-03`` or ``UTC``: the offset of an aware time, as short as it stays exact."""
    offset = t.utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    hours, rest = divmod(abs(minutes), 60)
    return f"{'+' if minutes > 0 else '-'}{hours:02d}" + (f":{rest:02d}" if rest else "")


def show_time(value: str | datetime | None, tz: tzinfo, precision: Precision = "second") -> str:
    """A stored time (ISO text or datetime; naive means UTC) in ``tz``, followed by the zone; ``-`` for none.

    Text that is not a time is returned as it is: a page never fails on one odd stored value.
    """
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        t = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    else:
        try:
            t = ecs.parse_ts(value)
        except ValueError:
            return str(value)
    local = t.astimezone(tz)
    return f"{local.strftime(FORMATS[precision])} {zone_abbrev(local)}"


def zone_label(tz: tzinfo) -> str:
    """``Asia/Ho_Chi_Minh (UTC+07:00)``: the zone's name and its offset now, for a page's caption."""
    offset = datetime.now(UTC).astimezone(tz).strftime("%z")
    return f"{getattr(tz, 'key', None) or tz} (UTC{offset[:3]}:{offset[3:]})"
