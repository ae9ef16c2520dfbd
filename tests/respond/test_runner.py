from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sentinel.respond.runs import PlaybookRunner, RunError
from sentinel.respond.settings import RespondConfig
from sentinel.store.base import VersionConflict

from .conftest import make_alert
from .servers import HttpReceiver


def test_dry_run_pauses_for_approval_then_renders_block(response, store):
    alert = store.record_alert(make_alert(severity="critical"))
    run = response.runner.start("playbook--web-attack", alert.id, "lan")
    assert run.dry_run and run.status == "awaiting_approval" and run.pending_step == "action--block"
    steps = {s.step_id: s for s in run.steps}
    assert steps["action--enrich-address"].outputs["scope"] == "global"
    assert steps["action--enrich-address"].outputs["province"] == "Hà Nội"
    assert steps["action--history"].status == "done"
    assert steps["if--external-and-active"].outputs == {"result": True}
    assert steps["action--block"].inputs == {"ip": "203.0.113.7", "duration": "24h"}

    run = response.runner.decide(run.id, run.version, "minh", approve=True, comment="confirmed attack")
    block = next(s for s in run.steps if s.step_id == "action--block" and s.status != "awaiting_approval")
    assert block.status == "dry_run" and block.approver == "minh" and block.comment == "confirmed attack"
    assert block.outputs["executed"] is False and block.outputs["why"] == "dry run"
    assert block.outputs["argv"] == [
        "nft",
        "add",
        "element",
        "inet",
        "filter",
        "sentinel_blocked",
        "{",
        "203.0.113.7",
        "timeout",
        "86400s",
        "}",
    ]
    notify = next(s for s in run.steps if s.step_id == "action--notify-soc")
    assert notify.status == "dry_run"  # sent in Vietnamese
    assert notify.inputs["subject"] == "Tấn công web SQL injection in a portal request từ 203.0.113.7"
    # then the manual check waits for confirmation
    assert run.status == "awaiting_approval" and run.pending_step == "action--check-app"
    run = response.runner.decide(run.id, run.version, "minh", approve=True, comment="no shell found")
    assert run.status == "completed" and run.finished_at
    actions = [t["action"] for t in response.db.audit_trail("run", run.id)]
    assert actions[::-1][:2] == ["start", "advance"] and "approve" in actions


def test_reject_ends_the_run_and_stale_decisions_conflict(response, store):
    alert = store.record_alert(make_alert(severity="critical"))
    run = response.runner.start("playbook--web-attack", alert.id, "lan")
    for stale in (run.version - 1, run.version + 1):
        with pytest.raises(VersionConflict):
            response.runner.decide(run.id, stale, "minh", approve=True)
    run = response.runner.decide(run.id, run.version, "minh", approve=False, comment="it is our own scanner")
    assert run.status == "rejected" and run.steps[-1].status == "rejected" and run.steps[-1].approver == "minh"
    with pytest.raises(RunError, match="not waiting"):
        response.runner.decide(run.id, run.version, "minh", approve=True)


def test_private_address_goes_to_notify_branch(response, store):
    alert = store.record_alert(make_alert(ip="10.20.30.40", severity="low"))
    run = response.runner.start("playbook--web-attack", alert.id, "lan")
    branch = next(s for s in run.steps if s.type == "if-condition")
    assert branch.outputs == {"result": False}
    assert "action--block" not in {s.step_id for s in run.steps}


def test_never_block_protects_own_networks(settings, store):
    config = RespondConfig.model_validate({"firewall": {"never_block": ["203.0.113.0/24"]}})
    from sentinel.respond.service import ResponseService

    resp = ResponseService.build(settings, store, config)
    alert = store.record_alert(make_alert(severity="critical"))
    run = resp.runner.start("playbook--web-attack", alert.id, "lan")
    run = resp.runner.decide(run.id, run.version, "minh", approve=True)
    block = [s for s in run.steps if s.step_id == "action--block"][-1]
    assert block.status == "failed" and "never_block" in block.error
    assert run.pending_step == "action--check-app"  # on_failure continued the workflow
    resp.close()


def test_live_run_executes_firewall_command_and_webhooks(settings, store, tmp_path, monkeypatch):
    """Live mode: the rendered argv is really run (a stand-in nft on PATH records it) and hooks are called."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "nft-args"
    nft = bindir / "nft"
    nft.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    nft.chmod(nft.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    with HttpReceiver() as hook:
        config = RespondConfig.model_validate(
            {
                "firewall": {"execute": True},
                "channels": {"soc": {"type": "webhook", "url": hook.url + "/soc"}},
            }
        )
        from sentinel.respond.service import ResponseService

        resp = ResponseService.build(settings, store, config)
        alert = store.record_alert(make_alert(severity="critical"))
        run = resp.runner.start("playbook--web-attack", alert.id, "lan", dry_run=False)
        with pytest.raises(RunError, match="four-eyes"):
            resp.runner.decide(run.id, run.version, "lan", approve=True)
        run = resp.runner.decide(run.id, run.version, "minh", approve=True)
        block = [s for s in run.steps if s.step_id == "action--block"][-1]
        assert block.status == "done" and block.outputs["executed"] is True, block
        assert Path(record).read_text().split("\n")[:8] == [
            "add",
            "element",
            "inet",
            "filter",
            "sentinel_blocked",
            "{",
            "203.0.113.7",
            "timeout",
        ]
        assert [r["path"] for r in hook.requests] == ["/soc"]
        assert hook.requests[0]["json"]["alert_id"] == alert.id
        resp.close()


def test_live_run_without_execute_flag_does_not_run_commands(response, store):
    alert = store.record_alert(make_alert(severity="critical"))
    run = response.runner.start("playbook--web-attack", alert.id, "lan", dry_run=False)
    run = response.runner.decide(run.id, run.version, "minh", approve=True)
    block = [s for s in run.steps if s.step_id == "action--block"][-1]
    assert block.outputs["executed"] is False and "firewall.execute" in block.outputs["why"]
    notify = next(s for s in run.steps if s.step_id == "action--notify-soc")
    assert notify.status == "failed" and "no channel named 'soc'" in notify.error


def test_missing_variable_fails_the_step_not_the_process(response, store):
    alert = store.record_alert(make_alert(tags=("attack.t1562.004",), entity_field="source.ip"))
    run = response.runner.start("playbook--firewall-change", alert.id, "lan")
    who = next(s for s in run.steps if s.step_id == "action--who")
    assert who.status == "failed" and "__user_name__ has no value" in who.error
    assert run.status == "awaiting_approval"


def test_unknown_playbook_or_alert(response, store):
    with pytest.raises(RunError):
        response.runner.start("playbook--nope", "x", "lan")
    from sentinel.store.base import NotFound

    with pytest.raises(NotFound):
        response.runner.start("playbook--web-attack", "missing", "lan")


def test_runs_are_listed_per_alert(response, store):
    alert = store.record_alert(make_alert())
    response.runner.start("playbook--web-attack", alert.id, "lan")
    response.runner.start("playbook--credential-attack", alert.id, "lan")
    assert len(response.runner.list(alert_id=alert.id)) == 2
    assert isinstance(response.runner, PlaybookRunner)


def test_commune_scan_uses_the_address_plan(response, store):
    """10.1.4.0/24 is the Ba Đình one-stop centre in collectors/address-plan.yaml."""
    alert = store.record_alert(
        make_alert(rule_id="net-scan", tags=("attack.discovery", "attack.t1046"), ip="10.1.4.17", province="?")
    )
    run = response.runner.start("playbook--commune-scan", alert.id, "lan")
    enrich = next(s for s in run.steps if s.step_id == "action--enrich-address")
    assert enrich.outputs["scope"] == "private"
    assert enrich.outputs["province"] == "Thành phố Hà Nội" and "Ba Đình" in enrich.outputs["commune"]
    notify = next(s for s in run.steps if s.step_id == "action--notify-commune")
    assert notify.status == "dry_run" and "Ba Đình" in notify.inputs["commune"]
    assert notify.outputs["request"]["province"] == "Thành phố Hà Nội"


def test_leads_are_asked_to_approve_side_effects(settings, store):
    with HttpReceiver() as hook:
        config = RespondConfig.model_validate(
            {"channels": {"leads": {"type": "webhook", "url": hook.url + "/leads"}}, "approval_channels": ["leads"]}
        )
        from sentinel.respond.service import ResponseService

        resp = ResponseService.build(settings, store, config)
        alert = store.record_alert(make_alert(severity="critical"))
        run = resp.runner.start("playbook--web-attack", alert.id, "lan")
        assert [r["path"] for r in hook.requests] == ["/leads"]
        body = hook.requests[0]["json"]
        assert body["run_id"] == run.id and "cần phê duyệt (chạy thử)" in body["subject"]  # Vietnamese by default
        assert body["subject"].endswith(": Tấn công ứng dụng web vào cổng")  # the playbook's name, translated
        assert (
            "block_address" in body["text"] and "203.0.113.7" in body["text"] and "đang chờ phê duyệt" in body["text"]
        )
        resp.runner.decide(run.id, run.version, "lead", approve=True)  # next pause is a manual step: no message
        assert len(hook.requests) == 1
        resp.close()


def test_runs_left_running_by_a_stopped_process_are_failed(response, store):
    from datetime import timedelta

    alert = store.record_alert(make_alert(severity="critical"))
    run = response.runner.start("playbook--web-attack", alert.id, "lan")
    # what a crash between claiming the approval and finishing the step leaves behind
    claimed = response.runner._save(
        run.model_copy(update={"status": "running", "pending_step": None}), run.version, "lead", "approve"
    )
    assert response.runner.fail_interrupted() == []  # recent: could still be working
    claimed.steps[-1].at = "2020-01-01T00:00:00.000Z"  # the approval waited for years: the claim is what counts
    claimed = response.runner._save(claimed, claimed.version, "lead", "advance")
    assert response.runner.fail_interrupted(older_than=timedelta(minutes=1)) == []
    assert response.runner.fail_interrupted(older_than=timedelta(0)) == [run.id]
    after = response.runner.get(run.id)
    assert after.status == "failed" and "stopped while" in after.steps[-1].error
    assert after.version == claimed.version + 1
