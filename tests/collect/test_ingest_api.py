"""POST /api/ingest (gzip JSON lines, bearer token) and GET /api/collect/status on the real app."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.api.auth import LocalOperator
from sentinel.config import Settings
from sentinel.store.base import AlertQuery, EventQuery
from sentinel.store.sqlite import SQLiteStore

TOKEN = "t0ken-for-tests"


@pytest.fixture
def central(tmp_path: Path) -> Iterator[tuple[TestClient, SQLiteStore, Settings]]:
    # not on loopback: real authentication (no demo operator), as in a deployment
    settings = Settings(data_dir=tmp_path, api={"host": "0.0.0.0"}, ingest_token=TOKEN)
    store = SQLiteStore(tmp_path / "s.db")
    # the pipeline the writer process builds on the first batch: address plan, protection, the rule pack;
    # leaving the client stops that process
    with TestClient(create_app(settings, store=store)) as client:
        yield client, store, settings
    store.close()


def _body(events: list[dict], extra: bytes = b"") -> bytes:
    return gzip.compress(b"\n".join(orjson.dumps(e) for e in events) + b"\n" + extra)


def _post(client: TestClient, body: bytes, token: str | None = TOKEN, encoding: str = "gzip"):  # type: ignore[no-untyped-def]
    headers = {"Content-Encoding": encoding, "Content-Type": "application/x-ndjson"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.post("/api/ingest", content=body, headers=headers)


EVENTS = [{"@timestamp": "2026-07-01T03:00:00Z", "event": {"id": f"e{i}", "kind": "event"}} for i in range(50)]


def test_batch_is_stored_and_a_retry_is_all_duplicates(central) -> None:  # type: ignore[no-untyped-def]
    client, store, _ = central
    r = _post(client, _body(EVENTS))
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 50, "stored": 50, "duplicates": 0, "parse_errors": 0, "rejected_lines": 0,
                        "alerts": 0}  # fmt: skip
    again = _post(client, _body(EVENTS)).json()
    assert (again["stored"], again["duplicates"]) == (0, 50)
    assert store.count_events(EventQuery()) == 50


def test_personal_data_is_stored_pseudonymised_and_an_attack_raises_an_alert(central) -> None:  # type: ignore[no-untyped-def]
    client, store, _ = central
    cccd = "001099012345"
    attack = {
        "@timestamp": "2026-07-01T03:00:00Z",
        "event": {"id": "web-1", "kind": "event", "dataset": "nginx.access", "category": ["web"]},
        "source": {"ip": "203.0.113.50"},
        "url": {"path": "/dvc/tra-cuu", "query": f"cccd={cccd}&id=1 UNION SELECT so_cccd FROM cong_dan"},
        "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
        "message": f"tra cứu hồ sơ của công dân CCCD {cccd}",
    }
    r = _post(client, _body([attack]))
    assert r.status_code == 200, r.text
    assert (r.json()["stored"], r.json()["alerts"]) == (1, 1)
    doc = store.get_event("web-1")
    assert cccd not in orjson.dumps(doc).decode()
    assert "pz-vn_cccd-" in doc["url"]["query"] and "pz-vn_cccd-" in doc["message"]
    (alert,) = store.list_alerts(AlertQuery())
    assert alert.rule.title.startswith("SQL injection with UNION SELECT") and alert.event_ids == ["web-1"]
    assert cccd not in orjson.dumps(alert.to_doc()).decode()


def test_bad_lines_are_kept_as_pipeline_errors(central) -> None:  # type: ignore[no-untyped-def]
    client, store, _ = central
    r = _post(client, _body(EVENTS[:2], b'not json\n[1,2]\n{"no": "id"}\n'))
    assert r.status_code == 200
    out = r.json()
    assert out["rejected_lines"] == 3 and out["parse_errors"] == 3 and out["stored"] == 5
    errors = store.search_events(EventQuery(filters={"event.kind": ["pipeline_error"]})).events
    reasons = sorted(e["error"]["message"] for e in errors)
    assert any("not JSON" in r for r in reasons) and any("no event.id" in r for r in reasons)
    assert any(e["event"]["original"] == "not json" for e in errors)


def test_token_is_required(central, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    client, store, _ = central
    assert _post(client, _body(EVENTS), token=None).status_code == 401
    assert _post(client, _body(EVENTS), token="wrong").status_code == 401
    client.app.state.runtime.settings.ingest_token = None  # no shared token configured: it is not accepted either
    assert _post(client, _body(EVENTS)).status_code == 401
    assert store.count_events(EventQuery()) == 0


def test_encodings(central) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = central
    plain = b"\n".join(orjson.dumps(e) for e in EVENTS[:3])
    assert _post(client, plain, encoding="identity").json()["stored"] == 3
    assert _post(client, b"\x1f\x8bnot really gzip").status_code == 400
    assert _post(client, gzip.compress(plain)[:-8] + b"").status_code == 400
    assert _post(client, plain, encoding="br").status_code == 415


def test_collector_status(central) -> None:  # type: ignore[no-untyped-def]
    client, _, settings = central
    folder = settings.data_dir / "collect" / "status"
    folder.mkdir(parents=True)
    (folder / "edge.json").write_bytes(orjson.dumps({"name": "edge", "pid": os.getpid(), "queue_depth": 7,
                                                     "dropped": 0}))  # fmt: skip
    (folder / "old.json").write_bytes(orjson.dumps({"name": "old", "pid": 999_999_999}))
    (folder / "bad.json").write_text("{")
    assert client.get("/api/collect/status").status_code == 401
    # the collector's own token may ship events but not read the SOC's status page
    assert client.get("/api/collect/status", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403
    client.app.state.authenticator = LocalOperator()  # a SOC lead (the loopback demo operator)
    r = client.get("/api/collect/status")
    assert r.status_code == 200
    by_name = {c["name"]: c for c in r.json()["collectors"]}
    assert by_name["edge"]["running"] is True and by_name["edge"]["queue_depth"] == 7
    assert by_name["old"]["running"] is False
    assert "unreadable" in by_name["bad"]["error"]


def test_concurrent_batches_are_protected_in_worker_processes_and_stored_by_one_writer(tmp_path: Path) -> None:
    """With workers (as `sentinel serve` runs), batches from several collectors at once are each answered."""
    from concurrent.futures import ThreadPoolExecutor

    settings = Settings(data_dir=tmp_path, api={"host": "0.0.0.0"}, ingest_token=TOKEN, workers=2)
    store = SQLiteStore(tmp_path / "s.db")
    cccd = "001099012345"
    batches = [
        [
            {
                "@timestamp": "2026-07-01T03:00:00Z",
                "event": {"id": f"b{b}-{i}", "kind": "event"},
                "message": f"hồ sơ {i} của công dân CCCD {cccd}",
            }
            for i in range(40)
        ]
        for b in range(4)
    ]
    try:
        with TestClient(create_app(settings, store=store)) as client, ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda batch: _post(client, _body(batch)), [*batches, batches[0]]))
    finally:
        store.close()
    assert [r.status_code for r in answers] == [200] * 5
    assert sorted(r.json()["stored"] for r in answers) == [0, 40, 40, 40, 40]  # the repeated batch: duplicates
    assert sum(r.json()["duplicates"] for r in answers) == 40
    store = SQLiteStore(tmp_path / "s.db")
    try:
        docs = store.search_events(EventQuery(limit=500)).events
    finally:
        store.close()
    assert len(docs) == 160 and all("pz-vn_cccd-" in d["message"] for d in docs)
    assert cccd not in orjson.dumps(docs).decode()
