"""Sending a message over one configured channel: webhook (JSON POST), e-mail (SMTP) or Telegram.

Used by notification routing, escalation and playbook actions alike, so each
channel is implemented once. Every send either returns a short description of
what was delivered or raises :class:`DeliveryError` saying what failed.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

import httpx

from sentinel.config import read_secret
from sentinel.errors import SentinelError, Unavailable
from sentinel.respond.settings import Channel, EmailChannel, TelegramChannel, WebhookChannel

TELEGRAM_LIMIT = 4096


class DeliveryError(Unavailable):
    pass


def send(channel: Channel, subject: str, text: str, payload: dict[str, Any] | None = None) -> str:
    """Deliver one message; ``payload`` is extra structured data for webhooks."""
    try:
        match channel:
            case WebhookChannel():
                return post_webhook(channel, {"subject": subject, "text": text, **(payload or {})})
            case EmailChannel():
                return _email(channel, subject, text)
            case TelegramChannel():
                return _telegram(channel, f"{subject}\n\n{text}")
    except DeliveryError:
        raise
    except (httpx.HTTPError, OSError, smtplib.SMTPException, SentinelError) as exc:
        raise DeliveryError(f"{channel.type}: {exc}") from None
    raise DeliveryError(f"unknown channel type {channel!r}")


def post_webhook(channel: WebhookChannel, body: dict[str, Any]) -> str:
    headers = {"User-Agent": "sentinel-respond"}
    token = read_secret(channel.token_env, f"webhook {channel.url}")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        resp = httpx.post(channel.url, json=body, headers=headers, timeout=channel.timeout)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {channel.url}: {exc}") from None
    if resp.status_code >= 300:
        raise DeliveryError(f"webhook {channel.url} answered HTTP {resp.status_code}: {resp.text[:200]}")
    return f"webhook {channel.url}: HTTP {resp.status_code}"


def _email(channel: EmailChannel, subject: str, text: str) -> str:
    msg = EmailMessage()
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.to)
    msg["Subject"] = subject.replace("\r", " ").replace("\n", " ")
    msg.set_content(text)
    with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout) as smtp:
        if channel.starttls:
            smtp.starttls()
        password = read_secret(channel.password_env, f"e-mail via {channel.host}")
        if channel.username and password:
            smtp.login(channel.username, password)
        refused = smtp.send_message(msg)
    if refused:
        raise DeliveryError(f"e-mail refused for {', '.join(refused)}")
    return f"e-mail via {channel.host}:{channel.port} to {len(channel.to)} recipient(s)"


def _telegram(channel: TelegramChannel, text: str) -> str:
    token = read_secret(channel.token_env, "Telegram bot")
    url = f"{channel.api_url.rstrip('/')}/bot{token}/sendMessage"
    resp = httpx.post(
        url,
        json={"chat_id": channel.chat_id, "text": text[:TELEGRAM_LIMIT], "disable_web_page_preview": True},
        timeout=channel.timeout,
    )
    try:
        ok = resp.json().get("ok") is True
    except ValueError:
        ok = False
    if resp.status_code != 200 or not ok:
        raise DeliveryError(f"Telegram answered HTTP {resp.status_code}: {resp.text[:200]}")
    return f"Telegram chat {channel.chat_id}"
