"""Notification routing and escalation of alerts nobody acknowledged in time.

Each tick looks at the open (unacknowledged) alerts. A new alert is sent to the
channels whose route matches its severity and province (level 0). When it is
still open after its severity's acknowledgement deadline it moves up the
escalation chain (level 1 after one deadline, level 2 after two, ...), and
while unacknowledged it is re-sent at its current level every
``renotify_every``. Every attempt, delivered or not, is logged in
``respond.db``; that log is the escalation state, so restarts resume cleanly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sentinel import ecs
from sentinel.detect import rule_text
from sentinel.models import Alert
from sentinel.respond.alert_fields import alert_place
from sentinel.respond.db import ResponseDB
from sentinel.respond.notify import DeliveryError, send
from sentinel.respond.settings import RespondConfig
from sentinel.respond.wording import WORDS
from sentinel.store import AlertQuery, Store
from sentinel.timefmt import show_time

log = logging.getLogger(__name__)
MAX_OPEN = 10_000  # alerts considered per tick; a queue larger than this is a flood, handled oldest-first
_CONTROL = dict.fromkeys(range(32), " ") | {10: "\n"}


@dataclass
class Sent:
    alert_id: str
    level: int
    channel: str
    ok: bool
    detail: str


def route_channels(config: RespondConfig, alert: Alert) -> list[str]:
    province, _ = alert_place(alert)
    out: list[str] = []
    for route in config.routes:
        if route.severities and alert.severity not in route.severities:
            continue
        if route.provinces and province not in route.provinces:
            continue
        out.extend(c for c in route.channels if c not in out)
    return out


def message(config: RespondConfig, alert: Alert, level: int, title: str) -> tuple[str, str]:
    """Subject and plain-text body in ``config.language`` (``title``: the rule's, in that language).

    Log-derived text is stripped of control characters.
    """
    w = WORDS[config.language]
    province, commune = alert_place(alert)
    entity = ", ".join(f"{k}={v}" for k, v in alert.entity.items()) or alert.group_key or "-"
    head = f"{w['escalation']} {level} " if level else ""
    severity = w[alert.severity]
    subject = f"[Sentinel] {head}{severity.upper()}: {title} ({entity})"
    first, last = show_time(alert.first_seen, config.tz), show_time(alert.last_seen, config.tz)
    lines = [
        f"{w['rule']}: {title} [{alert.rule.id}]",
        f"{w['severity']}: {severity} ({w['risk']} {alert.risk_score}); {w['matches']}: {alert.count}",
        f"{w['entity']}: {entity}",
        f"{w['place']}: {province or '-'} / {commune or '-'}",
        f"{w['first']}: {first}; {w['last']}: {last}",
        f"{w['status']}: {w['st_' + alert.status]}; {w['assignee']}: {alert.assignee or '-'}",
        f"{w['open']}: {config.console_url.rstrip('/')}/alerts/{alert.id}",
    ]
    if level:
        lines.insert(0, w["late"].format(level=level))
    return subject.translate(_CONTROL).replace("\n", " ")[:300], "\n".join(lines).translate(_CONTROL)


class Escalator:
    def __init__(self, db: ResponseDB, store: Store, config: RespondConfig, rules_dir: Path) -> None:
        self.db = db
        self.store = store
        self.config = config
        self.rules_dir = rules_dir  # rule titles in the notifications' language come from the rule files

    def _state(self, ids: list[str]) -> dict[str, tuple[int, int, int]]:
        """alert id -> (highest level notified, last attempt, first notification), times in ms."""
        state: dict[str, tuple[int, int, int]] = {}
        conn = self.db.conn()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT alert_id, MAX(level), MAX(at), MIN(at) FROM notifications WHERE alert_id IN ({marks})"
                " GROUP BY alert_id",
                chunk,
            )
            state.update({r[0]: (r[1], r[2], r[3]) for r in rows})
        return state

    def tick(self, now: datetime | None = None) -> list[Sent]:
        """Send what is due now; returns every attempt made.

        The acknowledgement clock starts when the SOC could first know: the alert's
        time, or Sentinel's first notification of it if that came later (an alert
        from a replayed old log is announced, not escalated at once to the top).
        """
        now = now or datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        alerts = self.store.list_alerts(AlertQuery(status=["open"], limit=MAX_OPEN))
        state = self._state([a.id for a in alerts])
        esc = self.config.escalation
        renotify_ms = int(esc.renotify_every.total_seconds() * 1000)
        sent: list[Sent] = []
        for alert in alerts:
            prev = state.get(alert.id)
            if prev is None:
                sent += self._send(alert, 0, route_channels(self.config, alert), now_ms)
                continue
            level, last_ms, first_ms = prev
            deadline = esc.ack_deadline.get(alert.severity)
            if not deadline:
                continue
            start_ms = max(int(ecs.parse_ts(alert.timestamp).timestamp() * 1000), first_ms)
            target = min(len(esc.chain), int((now_ms - start_ms) / (deadline.total_seconds() * 1000)))
            if target > level:
                sent += self._send(alert, target, esc.chain[target - 1].channels, now_ms)
            elif now_ms - last_ms >= renotify_ms:
                channels = esc.chain[level - 1].channels if level else route_channels(self.config, alert)
                if channels:
                    sent += self._send(alert, level, channels, now_ms)
        return sent

    def _send(self, alert: Alert, level: int, channels: list[str], now_ms: int) -> list[Sent]:
        attempts: list[Sent] = []
        if not channels:
            attempts.append(Sent(alert.id, level, "-", True, "no route matches; nothing sent"))
        subject, text = message(
            self.config, alert, level, rule_text(self.rules_dir, alert.rule, self.config.language, "title")
        )
        for name in channels:
            try:
                detail = send(self.config.channels[name], subject, text, {"alert": _summary(alert), "level": level})
                attempts.append(Sent(alert.id, level, name, True, detail))
            except DeliveryError as exc:
                log.warning("notification of alert %s via %s failed: %s", alert.id, name, exc)
                attempts.append(Sent(alert.id, level, name, False, str(exc)))
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO notifications(alert_id, level, channel, at, ok, detail) VALUES (?,?,?,?,?,?)",
                [(s.alert_id, s.level, s.channel, now_ms, int(s.ok), s.detail[:1000]) for s in attempts],
            )
        return attempts

    def history(self, alert_id: str) -> list[dict]:
        rows = self.db.conn().execute(
            "SELECT level, channel, at, ok, detail FROM notifications WHERE alert_id = ? ORDER BY seq", (alert_id,)
        )
        return [
            {
                "level": r[0],
                "channel": r[1],
                "at": ecs.format_ts(datetime.fromtimestamp(r[2] / 1000, UTC)),
                "ok": bool(r[3]),
                "detail": r[4],
            }
            for r in rows
        ]


def _summary(alert: Alert) -> dict:
    province, commune = alert_place(alert)
    return {
        "id": alert.id,
        "rule_id": alert.rule.id,
        "rule": alert.rule.title,
        "severity": alert.severity,
        "count": alert.count,
        "entity": alert.entity,
        "province": province,
        "commune": commune,
        "first_seen": alert.first_seen,
    }
