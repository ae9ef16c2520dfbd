from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentinel.content import ContentError
from sentinel.detect import rule_text
from sentinel.respond.escalation import Escalator, message
from sentinel.respond.lifecycle import AlertAction, apply_action
from sentinel.respond.settings import RespondConfig, load_respond_config
from tests.content import RULES

from .conftest import make_alert
from .servers import HttpReceiver

T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def config_for(url: str) -> RespondConfig:
    return RespondConfig.model_validate(
        {
            "channels": {
                "hanoi": {"type": "webhook", "url": url + "/hanoi"},
                "soc": {"type": "webhook", "url": url + "/soc"},
                "lead": {"type": "webhook", "url": url + "/lead"},
                "director": {"type": "webhook", "url": url + "/director"},
            },
            "routes": [
                {"severities": ["high", "critical"], "channels": ["soc"]},
                {"provinces": ["Hà Nội"], "channels": ["hanoi"]},
            ],
            "escalation": {
                "ack_deadline": {"critical": "15m", "high": "1h"},
                "renotify_every": "10m",
                "chain": [{"name": "shift lead", "channels": ["lead"]}, {"name": "director", "channels": ["director"]}],
            },
        }
    )


def paths(srv, since=0):
    return [r["path"] for r in srv.requests[since:]]


def test_route_deadline_renotify_escalate_and_stop_on_ack(response, store, audit):
    with HttpReceiver() as srv:
        esc = Escalator(response.db, store, config_for(srv.url), RULES)
        alert = store.record_alert(make_alert(severity="critical", when=T0))
        hue = store.record_alert(make_alert(severity="low", ip="198.51.100.2", province="Huế", when=T0))

        esc.tick(T0 + timedelta(minutes=1))
        assert sorted(paths(srv)) == ["/hanoi", "/soc"]  # severity route + province route; Huế/low matches none
        assert esc.history(hue.id)[0]["detail"].startswith("no route matches")
        n = len(srv.requests)
        esc.tick(T0 + timedelta(minutes=5))
        assert paths(srv, n) == []  # nothing due yet
        esc.tick(T0 + timedelta(minutes=12))
        assert sorted(paths(srv, n)) == ["/hanoi", "/soc"]  # re-notified at level 0
        n = len(srv.requests)
        esc.tick(T0 + timedelta(minutes=16))
        assert paths(srv, n) == ["/lead"]  # past the 15 minute deadline: level 1
        assert "CHUYỂN CẤP 1" in srv.requests[-1]["json"]["subject"]  # notifications speak Vietnamese by default
        n = len(srv.requests)
        esc.tick(T0 + timedelta(minutes=31))
        assert paths(srv, n) == ["/director"]  # two deadlines: level 2
        n = len(srv.requests)
        esc.tick(T0 + timedelta(minutes=70))
        assert paths(srv, n) == ["/director"]  # top of the chain: re-notify there
        n = len(srv.requests)

        apply_action(store, alert.id, alert.version, AlertAction(action="acknowledge"), "lan", audit)
        esc.tick(T0 + timedelta(minutes=90))
        assert paths(srv, n) == []
        levels = [h["level"] for h in esc.history(alert.id)]
        assert levels == [0, 0, 0, 0, 1, 2, 2]


def test_failed_delivery_is_logged_not_raised(response, store):
    with HttpReceiver(status=503) as srv:
        esc = Escalator(response.db, store, config_for(srv.url), RULES)
        alert = store.record_alert(make_alert(severity="critical", when=T0))
        sent = esc.tick(T0 + timedelta(minutes=1))
    assert sent and not any(s.ok for s in sent)
    assert all("HTTP 503" in h["detail"] for h in esc.history(alert.id))


def test_old_alert_is_announced_then_escalated_from_the_announcement(response, store):
    """An alert from a replayed old log: the SOC learns of it now, so its deadline runs from now."""
    with HttpReceiver() as srv:
        esc = Escalator(response.db, store, config_for(srv.url), RULES)
        store.record_alert(make_alert(severity="high", ip="198.51.100.3", province="Huế", when=T0))
        later = T0 + timedelta(days=2)
        esc.tick(later)
        assert paths(srv) == ["/soc"]
        esc.tick(later + timedelta(minutes=59))
        assert paths(srv) == ["/soc", "/soc"]  # re-notified at level 0 (every 10 minutes), not escalated
        esc.tick(later + timedelta(minutes=61))
        assert paths(srv)[-1] == "/lead"


def test_config_errors_point_at_the_line(tmp_path, settings):
    bad = tmp_path / "respond.yml"
    bad.write_text("routes:\n  - severities: [high]\n    channels: [nowhere]\n")
    with pytest.raises(ContentError, match="unknown channel"):
        load_respond_config(settings.model_copy(update={"respond_config": bad}))
    bad.write_text("escalation:\n  ack_deadline:\n    high: soon\n")
    with pytest.raises(ContentError) as err:
        load_respond_config(settings.model_copy(update={"respond_config": bad}))
    assert err.value.line == 3 and "not a duration" in err.value.reason
    assert load_respond_config(settings).firewall.execute is False  # no file: safe defaults


def test_shipped_example_settings_are_valid(settings):
    from pathlib import Path

    import sentinel.respond

    example = Path(sentinel.respond.__file__).parent / "respond.example.yml"
    cfg = load_respond_config(settings.model_copy(update={"respond_config": example}))
    assert cfg.firewall.execute is False and len(cfg.escalation.chain) == 2
    assert cfg.escalation.ack_deadline["critical"].total_seconds() == 900


def test_scheduler_loop_notifies_and_stops(settings, store):
    import threading
    import time

    from sentinel.respond.service import ResponseService

    with HttpReceiver() as srv:
        stage = ResponseService.build(settings, store, config_for(srv.url))
        store.record_alert(make_alert(severity="critical"))
        stop = threading.Event()
        loop = threading.Thread(target=stage.run, args=(stop, 0.2), daemon=True)
        loop.start()
        deadline = time.monotonic() + 10
        while len(srv.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        loop.join(timeout=5)
        assert not loop.is_alive()
        assert sorted(paths(srv)) == ["/hanoi", "/soc"]
        stage.close()


UNION_SELECT = "e530a98b-7a64-4149-be86-1464ae83359c"  # rules/web/web_sqli_union_select.yml


@pytest.mark.parametrize(
    ("language", "subject", "lines"),
    [
        (
            "vi",
            "[Sentinel] CHUYỂN CẤP 2 NGHIÊM TRỌNG: Chèn mã SQL bằng UNION SELECT trong chuỗi truy vấn của cổng",
            ["Chưa được tiếp nhận đúng hạn: chuyển lên cấp 2.", "Mức độ: nghiêm trọng", "Trạng thái: mới"],
        ),
        (
            "en",
            "[Sentinel] ESCALATION 2 CRITICAL: SQL injection with UNION SELECT (",  # the title the alert fired with
            ["Not acknowledged in time: escalation level 2.", "Severity: critical", "Status: open"],
        ),
    ],
)
def test_notifications_are_written_in_the_configured_language(response, store, language, subject, lines):
    """The words, the severity and the rule's title (from the rule file's translations) in one language."""
    config = config_for("http://127.0.0.1:9").model_copy(update={"language": language})
    esc = Escalator(response.db, store, config, RULES)
    alert = make_alert(severity="critical", when=T0, rule_id=UNION_SELECT, title="SQL injection with UNION SELECT")
    got_subject, body = message(config, alert, 2, rule_text(RULES, alert.rule, language, "title"))
    assert got_subject.startswith(subject)
    assert all(line in body for line in lines), body
    assert esc.rules_dir == RULES


def test_an_unknown_notification_language_is_refused(tmp_path, settings):
    path = tmp_path / "respond.yml"
    path.write_text("language: fr\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"respond.yml:1: .*'fr' is not a language .* vi, en"):
        load_respond_config(settings.model_copy(update={"respond_config": path}))
