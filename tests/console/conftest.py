"""Console pages over a real SQLite store and the real app, as the local operator or as given roles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from sentinel import ecs
from sentinel.api.app import create_app
from sentinel.api.auth import LocalOperator
from sentinel.store.sqlite import SQLiteStore
from tests.respond.conftest import make_alert, settings, store

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def web_event(i: int, ip: str, status: int, user: str | None = None, minutes_ago: int = 0, **extra: object) -> dict:
    ts = ecs.format_ts(NOW - timedelta(minutes=minutes_ago, seconds=i))
    line = f'{ip} - {user or "-"} "GET /portal/{i} HTTP/1.1" {status}'
    doc: dict = {
        "@timestamp": ts,
        "event": {"id": f"ev-{ip}-{i}-{status}", "dataset": "nginx.access", "kind": "event", "original": line},
        "source": {"ip": ip},
        "url": {"original": f"/portal/{i}"},
        "http": {"request": {"method": "GET"}, "response": {"status_code": status}},
        "labels": {"province": "Hà Nội", "commune": "Phường Ba Đình"},
    }
    if user:
        doc["user"] = {"name": user}
    doc.update(extra)
    return doc


@pytest.fixture
def events(store: SQLiteStore) -> list[dict]:
    """25 events from 203.0.113.7 (10 of them 500s), 10 from 198.51.100.4, spread over the last two hours."""
    docs = [web_event(i, "203.0.113.7", 500 if i < 10 else 200, "admin" if i % 2 else None, i * 4) for i in range(25)]
    docs += [web_event(i, "198.51.100.4", 404, minutes_ago=i * 3) for i in range(10)]
    store.append_events(docs)
    return docs


@pytest.fixture
def client(settings, store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store, authenticator=LocalOperator())) as http:
        yield http


__all__ = ["make_alert", "settings", "store"]
