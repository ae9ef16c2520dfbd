from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentinel import ecs
from sentinel.audit import AuditLog
from sentinel.config import Settings
from sentinel.models import Alert, RuleRef, alert_id
from sentinel.respond.service import ResponseService
from sentinel.respond.settings import RespondConfig
from sentinel.runtime import Runtime
from sentinel.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]


def make_alert(
    rule_id: str = "web-sqli",
    title: str = "SQL injection in a portal request",
    tags: tuple[str, ...] = ("attack.initial-access", "attack.t1190"),
    ip: str = "203.0.113.7",
    severity: str = "high",
    province: str = "Hà Nội",
    commune: str = "Phường Ba Đình",
    when: datetime | None = None,
    entity_field: str = "source.ip",
    user: str | None = None,
) -> Alert:
    ts = ecs.format_ts(when or datetime.now(UTC))
    event = {
        "@timestamp": ts,
        "event": {"id": f"ev-{rule_id}-{ip}-{ts}", "dataset": "nginx.access"},
        "source": {"ip": ip},
        "url": {"original": "/dich-vu-cong/tra-cuu?id=1' UNION SELECT password FROM users--"},
        "labels": {"province": province, "commune": commune},
    }
    if user:
        event["user"] = {"name": user}
    key = ip if entity_field == "source.ip" else (user or "")
    return Alert(
        id=alert_id(rule_id, key, event["event"]["id"]),
        timestamp=ts,
        rule=RuleRef(id=rule_id, title=title, level=severity, tags=list(tags)),
        group_key=key,
        entity={entity_field: key},
        first_seen=ts,
        last_seen=ts,
        event_ids=[event["event"]["id"]],
        events=[event],
        severity=severity,
        risk_score=75,
        labels={"province": province, "commune": commune},
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", content_dir=REPO)


@pytest.fixture
def store(settings: Settings) -> Iterator[SQLiteStore]:
    s = SQLiteStore(settings.sqlite_path)
    yield s
    s.close()


@pytest.fixture
def audit(settings: Settings) -> AuditLog:
    """The data folder's audit chain, which alert actions append to."""
    return AuditLog(settings.audit_path)


@pytest.fixture
def response(settings: Settings, store: SQLiteStore) -> Iterator[ResponseService]:
    r = ResponseService.build(settings, store, RespondConfig(), address_plan=Runtime(settings).address_plan)
    yield r
    r.close()
