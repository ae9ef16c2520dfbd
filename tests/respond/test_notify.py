from __future__ import annotations

import pytest

from sentinel.respond.notify import DeliveryError, send
from sentinel.respond.settings import RespondConfig

from .servers import HttpReceiver, SmtpReceiver


def channel(spec: dict):
    return RespondConfig.model_validate({"channels": {"c": spec}}).channels["c"]


def test_webhook_posts_json_with_bearer_token(monkeypatch):
    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    with HttpReceiver() as srv:
        detail = send(
            channel({"type": "webhook", "url": srv.url + "/in", "token_env": "HOOK_TOKEN"}),
            "subj",
            "body",
            {"alert_id": "a1"},
        )
    assert "HTTP 200" in detail
    req = srv.requests[0]
    assert req["json"] == {"subject": "subj", "text": "body", "alert_id": "a1"}
    assert req["headers"]["Authorization"] == "Bearer s3cret"


def test_webhook_error_status_is_a_delivery_error():
    with HttpReceiver(status=500) as srv, pytest.raises(DeliveryError, match="HTTP 500"):
        send(channel({"type": "webhook", "url": srv.url}), "s", "t")


def test_unreachable_webhook_is_a_delivery_error():
    with HttpReceiver() as srv:
        url = srv.url
    with pytest.raises(DeliveryError, match="webhook"):
        send(channel({"type": "webhook", "url": url, "timeout": 2}), "s", "t")


def test_missing_secret_is_named(monkeypatch):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    with pytest.raises(DeliveryError, match="NOPE_TOKEN"):
        send(
            channel({"type": "telegram", "api_url": "http://127.0.0.1:9", "token_env": "NOPE_TOKEN", "chat_id": "1"}),
            "s",
            "t",
        )


def test_email_over_smtp():
    with SmtpReceiver() as smtp:
        spec = {
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "sender": "sentinel@soc.gov.vn",
            "to": ["lead@soc.gov.vn", "oncall@soc.gov.vn"],
        }
        detail = send(channel(spec), "Cảnh báo: SQL injection", "Chi tiết\nở đây")
    assert "2 recipient" in detail
    msg = smtp.messages[0]
    assert msg["to"] == ["<lead@soc.gov.vn>", "<oncall@soc.gov.vn>"]
    assert "Subject:" in msg["data"] and "sentinel@soc.gov.vn" in msg["data"]


def test_telegram_bot_api(monkeypatch):
    monkeypatch.setenv("TG_TOKEN", "123:abc")
    with HttpReceiver(reply={"ok": True, "result": {}}) as srv:
        spec = {"type": "telegram", "api_url": srv.url, "token_env": "TG_TOKEN", "chat_id": "-100200"}
        send(channel(spec), "Alert", "x" * 5000)
    req = srv.requests[0]
    assert req["path"] == "/bot123:abc/sendMessage"
    assert req["json"]["chat_id"] == "-100200" and len(req["json"]["text"]) == 4096


def test_telegram_not_ok_is_an_error(monkeypatch):
    monkeypatch.setenv("TG_TOKEN", "1:a")
    with HttpReceiver(reply={"ok": False, "description": "chat not found"}) as srv, pytest.raises(DeliveryError):
        send(channel({"type": "telegram", "api_url": srv.url, "token_env": "TG_TOKEN", "chat_id": "1"}), "s", "t")
