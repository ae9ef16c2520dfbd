"""Actions that tell or ask another party: a notification channel, a commune's contact, the portal's account API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sentinel.respond.actions import ActionContext, ActionFailed, ActionSpec
from sentinel.respond.notify import DeliveryError, post_webhook, send
from sentinel.respond.settings import WebhookChannel


class NotifyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str
    subject: str = Field(min_length=1, max_length=300)
    message: str = Field(min_length=1, max_length=4000)


def notify(args: NotifyArgs, ctx: ActionContext) -> dict[str, Any]:
    channel = ctx.config.channels.get(args.channel)
    out = {"channel": args.channel, "configured": channel is not None, "subject": args.subject, "message": args.message}
    if ctx.dry_run:
        return {**out, "sent": False, "why": "dry run"}
    if channel is None:
        raise ActionFailed(f"no channel named {args.channel!r} in the response settings")
    try:
        return {**out, "sent": True, "detail": send(channel, args.subject, args.message, {"alert_id": ctx.alert.id})}
    except DeliveryError as exc:
        raise ActionFailed(str(exc)) from None


def _hook(ctx: ActionContext, hook: WebhookChannel | None, name: str, body: dict[str, Any]) -> dict[str, Any]:
    out = {"request": body}
    if ctx.dry_run:
        return {**out, "sent": False, "why": "dry run"}
    if hook is None:
        raise ActionFailed(f"hooks.{name} is not configured in the response settings")
    try:
        return {**out, "sent": True, "detail": post_webhook(hook, body)}
    except DeliveryError as exc:
        raise ActionFailed(str(exc)) from None


class AccountArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=3, max_length=1000)


def disable_account(args: AccountArgs, ctx: ActionContext) -> dict[str, Any]:
    body = {
        "action": "disable_account",
        "user": args.user,
        "reason": args.reason,
        "alert_id": ctx.alert.id,
        "approved_by": ctx.approved_by,
    }
    return _hook(ctx, ctx.config.hooks.disable_account, "disable_account", body)


class CommuneArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    commune: str = Field(min_length=1)
    province: str | None = None
    message: str = Field(min_length=3, max_length=4000)


def notify_commune(args: CommuneArgs, ctx: ActionContext) -> dict[str, Any]:
    body = {
        "action": "notify_commune",
        "commune": args.commune,
        "province": args.province,
        "message": args.message,
        "alert_id": ctx.alert.id,
        "console": ctx.config.console_url,
    }
    return _hook(ctx, ctx.config.hooks.commune, "commune", body)


SPECS = [
    ActionSpec(
        "notify",
        NotifyArgs,
        notify,
        side_effect=True,
        needs_approval=False,
        summary="send a message over a configured channel (webhook, e-mail, Telegram)",
    ),
    ActionSpec(
        "disable_account",
        AccountArgs,
        disable_account,
        side_effect=True,
        needs_approval=True,
        summary="ask the portal to disable an account (webhook)",
    ),
    ActionSpec(
        "notify_commune",
        CommuneArgs,
        notify_commune,
        side_effect=True,
        needs_approval=False,
        summary="tell a commune's engineer or centre about an incident (webhook)",
    ),
]
