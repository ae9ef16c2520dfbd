"""Every state-changing action is chained in the audit trail, and a row rewritten with sqlite3 is caught.

The actions go through the real API (alerts, bulk, suppressions, cases, playbook runs, DPO
reviews) over real SQLite files; ``sentinel audit verify`` runs as a subprocess, so its exit
code is the one cron or monitoring sees.
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.audit import AuditLog
from sentinel.classify.review import open_classification_store
from sentinel.classify.scan import scan_dataset
from sentinel.classify.taxonomy import load_taxonomy
from sentinel.config import load_settings
from sentinel.identity import Principal
from sentinel.store.sqlite import SQLiteStore
from tests.content import CLASSIFIERS
from tests.respond.conftest import make_alert


class Lead:
    def authenticate(self, request):
        return Principal(name="lan", role="admin", province="Hà Nội")


def verify(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENTINEL_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", "audit", "verify", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def acted(tmp_path_factory) -> dict:
    """A data folder in which one person did one of every audited action through the API."""
    root = tmp_path_factory.mktemp("audited")
    data = root / "data"
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(data)})
    table = root / "dossiers.csv"
    with table.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["ho_ten", "so_cccd"], ["Nguyễn Văn An", "001099012345"]])
    cstore = open_classification_store(settings.classify_db_path, load_taxonomy(classifiers_dir=CLASSIFIERS))
    dataset = scan_dataset(str(table), classifiers_dir=CLASSIFIERS)[0]
    cstore.save_scan(dataset)
    cstore.close()
    store = SQLiteStore(settings.sqlite_path)
    alerts = [store.record_alert(make_alert(severity="critical", ip=f"203.0.113.{i}")) for i in range(3)]
    ids: dict[str, str] = {"dataset": dataset.dataset}
    with TestClient(create_app(settings, store, authenticator=Lead())) as api:
        a = alerts[0]
        assert api.post(
            f"/api/alerts/{a.id}/actions", json={"action": "acknowledge"}, headers={"If-Match": '"1"'}
        ).is_success
        close = {"action": "close", "disposition": "true_positive", "reason": "confirmed SQL injection"}
        assert api.post(f"/api/alerts/{a.id}/actions", json=close, headers={"If-Match": '"2"'}).is_success
        bulk = {"alerts": {alerts[1].id: 1, alerts[2].id: 1}, "action": {"action": "note", "text": "looking"}}
        assert api.post("/api/alerts/bulk", json=bulk).json()["ok"] == 2
        expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        s = api.post("/api/suppressions", json={"rule_id": "web-sqli", "reason": "pentest", "expires": expires})
        ids["suppression"] = s.json()["id"]
        c = api.post("/api/cases", json={"title": "Dò quét", "alert_ids": [alerts[1].id]})
        ids["case"] = c.json()["id"]
        r = api.post("/api/runs", json={"playbook_id": "playbook--web-attack", "alert_id": alerts[1].id})
        ids["run"] = r.json()["id"]
        decided = api.post(
            f"/api/runs/{ids['run']}/decision",
            json={"approve": False, "comment": "no"},
            headers={"If-Match": r.headers["ETag"]},
        )
        assert decided.is_success
        review = {"decision": "override", "category": "sensitive", "reason": "ethnicity is recorded here"}
        rv = api.post(
            f"/api/classifications/{dataset.dataset}/fields/so_cccd/review", json=review, headers={"If-Match": '"0"'}
        )
        assert rv.is_success, rv.text
    store.close()
    ids["alert"] = alerts[0].id
    return {"data": data, "ids": ids}


def test_each_action_is_one_chained_record_with_who_what_and_digests(acted):
    records = list(AuditLog(acted["data"] / "audit.log"))
    actions = [r["action"] for r in records]
    for expected in (
        "alert.acknowledge",
        "alert.close",
        "alert.note",
        "suppression.create",
        "case.create",
        "run.start",
        "run.reject",
        "review.override",
    ):
        assert expected in actions, (expected, actions)
    assert actions.count("alert.note") == 2  # bulk: one record per alert
    close = next(r for r in records if r["action"] == "alert.close")
    assert close["actor"] == "lan" and close["role"] == "admin" and close["scope"] == "Hà Nội"
    assert close["client"] == "testclient" and close["object"] == f"alert:{acted['ids']['alert']}"
    assert close["details"]["disposition"] == "true_positive"
    assert len(close["before"]) == len(close["after"]) == len(close["row"]) == 64
    # the alert's history row carries the digest the chain recorded
    db = sqlite3.connect(acted["data"] / "sentinel.db")
    digests = [
        d for (d,) in db.execute("SELECT digest FROM alert_history WHERE alert_id = ?", (acted["ids"]["alert"],))
    ]
    db.close()
    assert close["row"] in digests
    assert AuditLog(acted["data"] / "audit.log").verify().ok


def test_verify_passes_on_untouched_data_through_a_real_process(acted):
    out = verify(acted["data"])
    assert out.returncode == 0, out.stderr
    assert "intact" in out.stdout


TAMPERING = {
    # who closed the alert, as the API answers it
    "alert": ("sentinel.db", "UPDATE alerts SET doc = json_set(doc, '$.status_by', 'mallory') WHERE id = :alert"),
    "alert history": (
        "sentinel.db",
        "UPDATE alert_history SET actor = 'mallory' WHERE alert_id = :alert AND action = 'close'",
    ),
    "alert history deleted": ("sentinel.db", "DELETE FROM alert_history WHERE alert_id = :alert AND action = 'close'"),
    "suppression": (
        "respond.db",
        "UPDATE suppressions SET doc = json_set(doc, '$.reason', 'ok') WHERE id = :suppression",
    ),
    "suppression history": ("respond.db", "UPDATE audit SET actor = 'mallory' WHERE record_id = :suppression"),
    "run": ("respond.db", "UPDATE runs SET doc = json_set(doc, '$.started_by', 'mallory') WHERE id = :run"),
    "case": ("cases.db", "UPDATE cases SET doc = json_set(doc, '$.title', 'nothing') WHERE id = :case"),
    "review": ("classify.db", "UPDATE reviews SET actor = 'mallory' WHERE field = 'so_cccd'"),
    "review history": ("classify.db", "UPDATE audit SET actor = 'mallory' WHERE field = 'so_cccd'"),
}


@pytest.mark.parametrize("what", list(TAMPERING))
def test_a_row_rewritten_with_sqlite3_fails_verify_naming_it(acted, tmp_path, what):
    copy = tmp_path / "data"
    shutil.copytree(acted["data"], copy)
    db_file, sql = TAMPERING[what]
    db = sqlite3.connect(copy / db_file)
    changed = db.execute(sql, acted["ids"]).rowcount
    db.commit()
    db.close()
    assert changed >= 1
    out = verify(copy)
    assert out.returncode == 1, out.stdout + out.stderr
    kind = what.split()[0]
    named = acted["ids"]["alert" if kind == "alert" else kind] if kind != "review" else "so_cccd"
    assert "FAILED" in out.stderr and named in out.stderr, out.stderr
    # the chain alone is still intact: only the domain row was touched
    assert verify(copy, "--chain-only").returncode == 0


def test_broken_chain_exits_1_through_a_real_process(acted, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(acted["data"], copy)
    log = copy / "audit.log"
    lines = log.read_bytes().splitlines(keepends=True)
    rec = orjson.loads(lines[1])
    rec["actor"] = "mallory"
    lines[1] = orjson.dumps(rec) + b"\n"
    log.write_bytes(b"".join(lines))
    out = verify(copy)
    assert out.returncode == 1 and "BROKEN at record 2" in out.stderr


def test_policy_reveal_is_chained_with_its_actor_and_no_side_file(tmp_path):
    from sentinel.policy.model import OperatorSpec
    from sentinel.policy.operators import OperatorSet
    from sentinel.runtime import Runtime

    data = tmp_path / "data"
    keys = Runtime(load_settings(env={"SENTINEL_DATA_DIR": str(data)})).keys
    token = OperatorSet({"VN_BANK_ACCOUNT": OperatorSpec(op="encrypt")}, keys, classifiers_dir=CLASSIFIERS).apply(
        "VN_BANK_ACCOUNT", "0123456789"
    )
    env = {**os.environ, "SENTINEL_DATA_DIR": str(data)}
    cmd = [sys.executable, "-m", "sentinel.cli.main", "policy", "reveal", token, "--reason", "court order 12/2026"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "0123456789", out.stderr
    assert not (data / "policy-reveal.log").exists()
    (rec,) = [r for r in AuditLog(data / "audit.log") if r["action"] == "policy.reveal"]
    assert rec["actor"].startswith("cli:") and rec["client"] == "local" and rec["object"] == f"token:{token}"
    assert rec["details"]["reason"] == "court order 12/2026"


def test_audit_show_filters_by_actor_object_and_action(acted):
    from click.testing import CliRunner

    from sentinel.cli.main import cli

    def show(*args: str) -> list[dict]:
        env = {"SENTINEL_DATA_DIR": str(acted["data"])}
        out = CliRunner().invoke(cli, ["audit", "show", "--last", "100", *args], env=env)
        assert out.exit_code == 0, out.output
        return [orjson.loads(line) for line in out.output.splitlines()]

    alert = f"alert:{acted['ids']['alert']}"
    assert [r["action"] for r in show("--object", alert)] == ["alert.acknowledge", "alert.close"]
    runs = {r["action"] for r in show("--action", "run")}
    assert {"run.start", "run.reject"} <= runs and all(a.startswith("run.") for a in runs)
    assert all(r["object"].startswith("suppression:") for r in show("--object", "suppression"))
    assert show("--actor", "lan") and show("--actor", "nobody") == []
