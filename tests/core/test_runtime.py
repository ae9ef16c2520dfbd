"""Configuration decides every stage, on every entry point.

A content folder and an address plan given by configuration must reach the rules, the
recognizers behind the ingest protector, the policy and enrichment alike, whether events come
through ``sentinel ingest`` (a real subprocess with ``--config``), the HTTP ingest endpoint of the
app the server builds, or a collector. Each check has a control run on the default content that
shows the difference: without the configured folder the canary term stays raw and the canary
rule stays silent.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import yaml
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.collect.parsers import parse_line
from sentinel.config import Settings, load_settings
from sentinel.ingest.assemble import build_pipeline
from sentinel.runtime import Runtime
from sentinel.store.base import AlertQuery, EventQuery
from sentinel.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]
TERM = "bệnh xyzzy"  # a health condition only the configured content folder lists
CANARY = "canary-7f3a"  # only the configured rule looks for it
ATTACKER = "198.51.100.7"  # only the configured address plan places it (in Đà Nẵng, code 48)
TOKEN = "runtime-test-ingest-token-0123"
RULE = f"""
title: Configured canary request
id: 0d1f6a8e-3b7c-4d55-9a43-6f2c1e7b9a10
status: test
description: Exists only in the configured content folder.
logsource:
  category: webserver
detection:
  selection:
    cs-uri-query|contains: {CANARY}
  condition: selection
level: high
"""
PLAN = {"networks": [{"cidr": "198.51.100.0/24", "province_code": 48, "unit": "Configured test unit"}]}
ACCESS = f'{ATTACKER} - - [01/Jul/2026:10:00:00 +0700] "GET /tra-cuu?q={CANARY} HTTP/1.1" 200 12 "-" "curl/8.5"'
APP = orjson.dumps(
    {"ts": "2026-07-01T03:00:01Z", "level": "info", "msg": f"Ghi chú hồ sơ: công dân mắc {TERM}"}
).decode()


def _content(tmp_path: Path) -> Path:
    content = tmp_path / "content"
    for name in ("rules", "classifiers", "collectors", "playbooks"):
        shutil.copytree(REPO / name, content / name)
    terms = content / "classifiers" / "terms.yaml"
    text = terms.read_text(encoding="utf-8")
    assert "  health: [ung thư," in text
    terms.write_text(text.replace("  health: [ung thư,", f"  health: [{TERM}, ung thư,"), encoding="utf-8")
    (content / "rules" / "web" / "configured_canary.yml").write_text(RULE, encoding="utf-8")
    return content


def _config(tmp_path: Path) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(PLAN), encoding="utf-8")
    config = tmp_path / "sentinel.yaml"
    config.write_text(
        yaml.safe_dump(
            {"data_dir": str(tmp_path / "data"), "content_dir": str(_content(tmp_path)), "address_plan": str(plan)}
        ),
        encoding="utf-8",
    )
    return config


def _check_store(db: Path, *, configured: bool) -> None:
    """Alerts, labels and raw bytes of a store written by one run."""
    store = SQLiteStore(db)
    try:
        events = store.search_events(EventQuery(limit=10)).events
        alerts = store.list_alerts(AlertQuery(limit=50))
    finally:
        store.close()
    attacker = next(e for e in events if e.get("source", {}).get("ip") == ATTACKER)
    titles = {a.rule.title for a in alerts}
    if configured:
        assert (
            attacker["labels"]["province_code"] == "48" and attacker["labels"]["source_unit"] == "Configured test unit"
        )
        assert "Configured canary request" in titles
    else:
        assert "province_code" not in attacker.get("labels", {})
        assert "Configured canary request" not in titles
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert (TERM.encode() in raw) is not configured  # the configured recognizer removed it before storage


def test_the_control_run_keeps_the_canary_raw(tmp_path: Path) -> None:
    """Without the configured folder nothing knows the canaries: the other tests' checks can fail."""
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    store = SQLiteStore(runtime.settings.sqlite_path)
    pipeline = build_pipeline(runtime, store)
    pipeline.process([parse_line(line.encode(), source="t", position=i) for i, line in enumerate([ACCESS, APP])])
    pipeline.finish()
    store.close()
    _check_store(runtime.settings.sqlite_path, configured=False)


def test_sentinel_ingest_with_config_uses_its_content_and_plan(tmp_path: Path) -> None:
    config = _config(tmp_path)
    logs = tmp_path / "portal.log"
    logs.write_text(f"{ACCESS}\n{APP}\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", "--config", str(config), "ingest", str(logs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # not the checkout: nothing may fall back to the checkout's content
    )
    assert done.returncode == 0, done.stderr
    _check_store(tmp_path / "data" / "sentinel.db", configured=True)


def test_http_ingest_builds_the_pipeline_from_the_apps_configuration(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path), env={"SENTINEL_INGEST_TOKEN": TOKEN})
    events = [parse_line(line.encode(), source="edge", position=i) for i, line in enumerate([ACCESS, APP])]
    body = gzip.compress(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    app = create_app(settings)
    with TestClient(app) as client:
        r = client.post(
            "/api/ingest",
            content=body,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == 2
    app.state.store.close()
    _check_store(settings.sqlite_path, configured=True)


def test_no_module_below_the_entry_points_loads_settings(tmp_path: Path) -> None:
    """``load_settings`` is called by the CLI and by callers of ``create_app``, nowhere else in the package."""
    callers = sorted(
        str(p.relative_to(REPO))
        for p in (REPO / "sentinel").rglob("*.py")
        if "load_settings(" in p.read_text(encoding="utf-8")
    )
    assert callers == ["sentinel/cli/common.py", "sentinel/config.py"]


def test_generalising_an_address_reads_the_configured_gazetteer(tmp_path: Path) -> None:
    """The generalise operator finds the province in the configured content's gazetteer, not the checkout's."""
    from sentinel.policy.model import OperatorSpec
    from sentinel.policy.operators import OperatorSet

    content = tmp_path / "classifiers"
    shutil.copytree(REPO / "classifiers", content)
    gazetteer = content / "gazetteer.yaml"
    text = gazetteer.read_text(encoding="utf-8")
    assert "  communes: [Phường Ba Đình," in text
    gazetteer.write_text(text.replace("  communes: [Phường Ba Đình,", "  communes: [Xã Xyzzy, Phường Ba Đình,", 1))
    address = "Xã Xyzzy"
    spec = {"LOCATION": OperatorSpec(op="generalize")}
    assert OperatorSet(spec, None, classifiers_dir=REPO / "classifiers").apply("LOCATION", address) == "<LOCATION>"
    assert OperatorSet(spec, None, classifiers_dir=content).apply("LOCATION", address) == "Hà Nội"


def test_no_library_function_falls_back_to_a_content_folder() -> None:
    """Every function that reads content takes its folder from the caller (who has it from settings)."""
    import ast

    offenders = []
    for path in (REPO / "sentinel").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                defaults = dict(
                    zip([a.arg for a in args.args][len(args.args) - len(args.defaults) :], args.defaults, strict=True)
                ) | {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None}
                for name in defaults:
                    if name in ("classifiers_dir", "content_dir", "rules_dir", "playbooks_dir"):
                        offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.name}({name}=...)")
    assert not offenders, "\n".join(offenders)
