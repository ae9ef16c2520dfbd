"""Helpers shared by the CLI commands: loading settings and the store once per run."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sentinel.audit import Actor, AuditLog, set_actor
from sentinel.config import Settings, hint, load_settings, parse_timezone

if TYPE_CHECKING:
    from sentinel.collect import PortalProfile
from sentinel.ecs import parse_ts
from sentinel.errors import Invalid
from sentinel.runtime import Runtime
from sentinel.store import Store


def runtime_from(ctx: click.Context) -> Runtime:
    """The run's one :class:`Runtime`, built from ``--config`` and the environment on first use."""
    obj = ctx.find_root().obj
    if "runtime" not in obj:
        obj["runtime"] = Runtime(load_settings(obj.get("config_path")))
    return obj["runtime"]


def settings_from(ctx: click.Context) -> Settings:
    return runtime_from(ctx).settings


def store_from(ctx: click.Context, *, read_only: bool = False) -> Store:
    """The configured store, closed automatically when the command ends.

    ``read_only`` commands (search, reports) refuse an embedded store that does not exist rather
    than create an empty one and answer 0: that is a wrong data directory, not an empty day.
    """
    obj = ctx.find_root().obj
    if "store" not in obj:
        settings = runtime_from(ctx).settings
        if read_only and not settings.uses_elasticsearch and not settings.sqlite_path.exists():
            raise Invalid(
                f"no Sentinel data in {settings.data_dir} (no {settings.sqlite_path.name}): point "
                f"{hint('data_dir')} at the data directory, or ingest something first "
                "(`sentinel info` shows the settings)"
            )
        obj["store"] = runtime_from(ctx).open_store()
        ctx.find_root().call_on_close(obj["store"].close)
    return obj["store"]


def existing_data_dir(ctx: click.Context) -> Settings:
    """The settings of a command that only reads, after checking its data directory exists.

    Reading from a directory that does not exist would create it and answer "nothing": a wrong
    ``data_dir`` looks like an empty installation. The refusal names the directory and how to set it.
    """
    settings = settings_from(ctx)
    if not settings.data_dir.is_dir():
        raise Invalid(
            f"no data directory {settings.data_dir}: point {hint('data_dir')} at Sentinel's data directory "
            "(`sentinel info` shows the settings)"
        )
    return settings


def cli_actor() -> str:
    """Who acts from a shell: ``cli:<login name>``, recorded with the client ``local`` in the audit trail."""
    import getpass

    name = f"cli:{getpass.getuser()}"
    set_actor(Actor(name, client="local"))
    return name


def audit_from(ctx: click.Context) -> AuditLog:
    """The data folder's audit chain, which every state-changing command appends to."""
    return AuditLog(settings_from(ctx).audit_path)


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


def format_options(flag: str = "--format") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--format`` (or ``flag``), ``--timezone``, ``--year``, ``--portal-profile``: how log files are read."""
    return lambda command: _format_options(command, flag)


def _format_options(command: Callable[..., Any], flag: str) -> Callable[..., Any]:
    from sentinel.collect import LINE_FORMATS

    command = click.option(
        "--portal-profile",
        "profile_path",
        type=click.Path(exists=True, dir_okay=False),
        help="Portal profile (YAML): which paths are logins, records, downloads, admin, static "
        "(default: the shipped profile, made for portals nobody described).",
    )(command)
    command = click.option(
        "--year",
        type=click.IntRange(1970, 9999),
        help="Year of the first yearless syslog timestamp (default: from the file's modification time); "
        "later lines follow the file's own sequence.",
    )(command)
    command = click.option(
        "--timezone",
        "tz_name",
        metavar="ZONE",
        help="Zone of timestamps that carry none (syslog): +07:00, UTC or Asia/Ho_Chi_Minh (default: settings).",
    )(command)
    return click.option(
        flag,
        "fmt",
        type=click.Choice(LINE_FORMATS),
        default="auto",
        show_default=True,
        help="Line format; auto decides per line: JSON ('{'), syslog (<PRI> or a timestamp first: auth.log, "
        "secure, messages, firewall syslog), firewall (FortiGate key=value, filterlog, iptables) or access log.",
    )(command)


def timezone_option(value: str | None, settings: Settings) -> tzinfo:
    """The ``--timezone`` given, else the configured one; a bad zone is a usage error (exit 2)."""
    if value is None:
        return settings.tz
    try:
        return parse_timezone(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from None


def portal_profile_option(path: str | None) -> PortalProfile | None:
    """The ``--portal-profile`` file, validated (a mistake is a ``file:line`` content error, exit 2)."""
    from sentinel.collect import load_profile

    return load_profile(path) if path else None


def typed_command() -> str:
    """How to type ``sentinel`` for the next command: the bare name when the shell finds this same program,
    else the path it was run by (``/srv/sentinel/.venv/bin/sentinel`` after ``scripts/setup.sh``: not on the PATH).
    """
    me = Path(sys.argv[0])
    if me.name != "sentinel":  # python -m sentinel.cli.main, a test runner: the installed name is the best guess
        return "sentinel"
    found = shutil.which("sentinel")
    return "sentinel" if found and Path(found).resolve() == me.resolve() else str(me.resolve())
