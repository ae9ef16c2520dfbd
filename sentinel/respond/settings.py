"""Response settings: channels, routing, deadlines and escalation, shifts, firewall and portal hooks.

They sit in their own YAML file (the ``respond_config`` setting, else
``<data_dir>/respond.yml``; none means safe defaults: dry-run, no channels).
Secrets are never written in the file: a channel names the environment
variable that holds its token or password.
"""

from __future__ import annotations

import re
from datetime import time, timedelta, tzinfo
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from sentinel.config import DEFAULT_DISPLAY_TIMEZONE, TELEGRAM_TOKEN_ENV, Networks, Settings, parse_timezone
from sentinel.content import load_model
from sentinel.translations import LANGUAGES

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """``90s``, ``15m``, ``4h``, ``1d``, ``2w`` (or seconds as a number) to a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration: write e.g. 90s, 15m, 4h, 1d")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Severity = Literal["informational", "low", "medium", "high", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookChannel(_Strict):
    type: Literal["webhook"]
    url: str
    token_env: str | None = Field(None, description="environment variable holding a bearer token")
    timeout: float = Field(10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v


class EmailChannel(_Strict):
    type: Literal["email"]
    host: str
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None
    sender: str
    to: list[str] = Field(min_length=1)
    timeout: float = Field(10.0, gt=0, le=120)


class TelegramChannel(_Strict):
    type: Literal["telegram"]
    api_url: str = "https://api.telegram.org"
    token_env: str = TELEGRAM_TOKEN_ENV
    chat_id: str
    timeout: float = Field(10.0, gt=0, le=120)


Channel = Annotated[WebhookChannel | EmailChannel | TelegramChannel, Field(discriminator="type")]


class Route(_Strict):
    """Which channels hear about new alerts of these severities in these provinces (empty = all)."""

    severities: list[Severity] = Field(default_factory=list)
    provinces: list[str] = Field(default_factory=list)
    channels: list[str] = Field(min_length=1)


class EscalationLevel(_Strict):
    name: str
    channels: list[str] = Field(min_length=1)


class Escalation(_Strict):
    ack_deadline: dict[Severity, Duration] = Field(
        default_factory=lambda: {
            "critical": timedelta(minutes=15),
            "high": timedelta(hours=1),
            "medium": timedelta(hours=4),
            "low": timedelta(hours=24),
        },
        description="time to acknowledge per severity; severities not listed never escalate",
    )
    renotify_every: Duration = Field(timedelta(minutes=15), description="repeat at the current level until acked")
    chain: list[EscalationLevel] = Field(default_factory=list, description="level 1, 2, ... after 1x, 2x ... deadline")


class Shift(_Strict):
    name: str
    start: time
    end: time


class Firewall(_Strict):
    backend: Literal["nftables", "iptables"] = "nftables"
    execute: bool = Field(False, description="actually run approved, non-dry-run commands")
    nft_family: str = "inet"
    nft_table: str = "filter"
    nft_set: str = "sentinel_blocked"
    iptables_chain: str = "INPUT"
    block_for: Duration = timedelta(hours=24)
    never_block: Networks = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="own networks and partners that must never be blocked",
    )

    @field_validator("nft_family", "nft_table", "nft_set", "iptables_chain")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", v):
            raise ValueError("use letters, digits, _ and - only")
        return v


class Hooks(_Strict):
    """Webhook endpoints of other systems the playbooks call."""

    disable_account: WebhookChannel | None = None
    commune: WebhookChannel | None = Field(None, description="a commune's contact; the payload names the commune")


class RespondConfig(_Strict):
    console_url: str = Field("http://127.0.0.1:8080/console", description="links in notifications")
    timezone: str | None = Field(
        None,
        description="zone of shift hours, report days and the times in notifications (default: display_timezone)",
    )
    language: str = Field(
        LANGUAGES[0], description="language of notifications (escalation messages; rule titles from their translations)"
    )
    channels: dict[str, Channel] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    escalation: Escalation = Escalation()
    shifts: list[Shift] = Field(
        default_factory=lambda: [
            Shift(name="day", start=time(7), end=time(19)),
            Shift(name="night", start=time(19), end=time(7)),
        ]
    )
    firewall: Firewall = Firewall()
    hooks: Hooks = Hooks()
    four_eyes: bool = Field(True, description="a live run's side effect needs an approver other than its starter")
    approval_channels: list[str] = Field(
        default_factory=list, description="told when a playbook run waits for a lead to approve a side effect"
    )

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if v not in LANGUAGES:
            raise ValueError(f"{v!r} is not a language notifications are written in: use one of {', '.join(LANGUAGES)}")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is not None:
            parse_timezone(v)
        return v

    @model_validator(mode="after")
    def _channels_exist(self) -> RespondConfig:
        named = [
            *(c for r in self.routes for c in r.channels),
            *(c for lv in self.escalation.chain for c in lv.channels),
            *self.approval_channels,
        ]
        missing = sorted({c for c in named if c not in self.channels})
        if missing:
            raise ValueError(f"unknown channel(s) {', '.join(missing)}; define them under channels:")
        return self

    @property
    def tz(self) -> tzinfo:
        return parse_timezone(self.timezone or DEFAULT_DISPLAY_TIMEZONE)


def load_respond_config(settings: Settings) -> RespondConfig:
    """The response settings; raises ContentError (``file:line: reason``) when the file is invalid.

    With no file at the default place, safe defaults; a file configured explicitly must exist.
    """
    path = settings.respond_config_path
    if not path.exists() and settings.respond_config is None:
        config = RespondConfig()
    else:
        config = load_model(path, RespondConfig)
    if config.timezone is None:  # one zone for people unless the SOC's shifts keep another
        config = config.model_copy(update={"timezone": settings.display_timezone})
    return config
