"""The response commands through the real CLI entry point, on a real data folder."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.content import ContentError
from sentinel.errors import Invalid, VersionConflict
from sentinel.store.sqlite import SQLiteStore

from .conftest import REPO, make_alert
from .servers import HttpReceiver


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENTINEL_CONTENT_DIR", str(REPO))
    monkeypatch.delenv("SENTINEL_RESPOND_CONFIG", raising=False)
    store = SQLiteStore(tmp_path / "data" / "sentinel.db")
    yield store
    store.close()


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def test_validate_good_and_bad(env, tmp_path):
    ok = run("playbooks", "validate")
    assert ok.exit_code == 0 and "7 playbooks valid" in ok.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yml").write_text("type: playbook\nid: nope\n")
    res = run("playbooks", "validate", str(bad))
    assert isinstance(res.exception, ContentError) and str(res.exception).startswith(f"{bad / 'x.yml'}:")
    source = (REPO / "playbooks" / "web_attack.yml").read_text(encoding="utf-8")
    (bad / "x.yml").write_text(source[: source.index("x_sentinel_translations:")], encoding="utf-8")
    untranslated = run("playbooks", "validate", str(bad))
    assert untranslated.exit_code == 1 and "1 playbooks valid" not in untranslated.output
    assert f"{bad / 'x.yml'}: no Vietnamese translation: add x_sentinel_translations: {{vi:" in untranslated.output


def test_run_and_decide_from_the_shell(env):
    alert = env.record_alert(make_alert(severity="critical"))
    res = run("playbooks", "run", "playbook--web-attack", alert.id, "--actor", "lan")
    assert res.exit_code == 0, res.output
    assert "awaiting_approval" in res.output and "(dry run)" in res.output
    run_id, version = re.search(r"decide (\w+) --version (\d+)", res.output).groups()
    stale = run("playbooks", "decide", run_id, "--version", "1", "--approve")
    assert isinstance(stale.exception, VersionConflict) and "changed by someone else" in str(stale.exception)
    res = run("playbooks", "decide", run_id, "--version", version, "--approve", "--actor", "lead")
    assert "command: nft add element inet filter sentinel_blocked { 203.0.113.7 timeout 86400s }" in res.output


def test_escalate_once_with_config(env, tmp_path, monkeypatch):
    with HttpReceiver() as hook:
        cfg = tmp_path / "respond.yml"
        cfg.write_text(f"channels:\n  soc: {{type: webhook, url: '{hook.url}/soc'}}\nroutes:\n  - channels: [soc]\n")
        monkeypatch.setenv("SENTINEL_RESPOND_CONFIG", str(cfg))
        env.record_alert(make_alert())
        assert "1 channels, 1 routes" in run("respond", "check-config").output
        res = run("escalate", "--once")
        assert res.exit_code == 0 and "1 notifications (0 failed)" in res.output
        assert run("escalate", "--once").output.startswith("0 notifications")
    assert len(hook.requests) == 1


def test_suppress_and_report(env):
    res = run(
        "respond",
        "suppress",
        "--rule",
        "web-sqli",
        "--match",
        "source.ip=203.0.113.0/24",
        "--hours",
        "2",
        "--reason",
        "vendor pentest",
    )
    assert res.exit_code == 0 and res.output.startswith("suppression ")
    assert "source.ip=203.0.113.0/24" in run("respond", "suppressions").output
    bad = run("respond", "suppress", "--hours", "2", "--reason", "everything")
    assert isinstance(bad.exception, Invalid) and "cannot mute everything" in str(bad.exception)
    env.record_alert(make_alert())
    assert '"alerts": 1' in run("respond", "report", "--json").output
