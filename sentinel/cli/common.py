"""Helpers shared by the CLI commands: loading settings and the store once per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from sentinel.config import Settings, load_settings
from sentinel.ecs import parse_ts
from sentinel.store import Store, open_store


def settings_from(ctx: click.Context) -> Settings:
    obj = ctx.find_root().obj or {}
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("config_path"))
    return obj["settings"]


def store_from(ctx: click.Context) -> Store:
    """The configured store, closed automatically when the command ends."""
    obj = ctx.find_root().obj
    if "store" not in obj:
        obj["store"] = open_store(settings_from(ctx))
        ctx.find_root().call_on_close(obj["store"].close)
    return obj["store"]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str | None) -> datetime | None:
    """Absolute ISO 8601 time, or a relative one such as ``15m``, ``24h``, ``7d`` (before now)."""
    if value is None:
        return None
    text = value.strip()
    if text[:-1].isdigit() and text[-1:] in _UNITS:
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])
    if text == "now":
        return datetime.now(UTC)
    try:
        return parse_ts(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a time: use ISO 8601 (2026-07-01T08:00:00Z) or a span back from now (15m, 24h, 7d)"
        ) from None
