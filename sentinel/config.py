"""Sentinel configuration: one YAML file plus ``SENTINEL_*`` environment variables.

Precedence, lowest first: built-in defaults, the YAML file (``--config`` or
``SENTINEL_CONFIG``), environment variables. Which store is used follows from
the result alone: no Elasticsearch URL means the embedded SQLite store in
``data_dir``; ``SENTINEL_ES_URL`` switches to Elasticsearch with no code change.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from datetime import UTC, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from sentinel.content import ContentError, load_yaml

PACKAGE_ROOT = Path(__file__).resolve().parent


def default_data_dir() -> Path:
    """Where a service keeps its state when nothing says otherwise: ``/var/lib/sentinel`` for root
    (the FHS place for a system service), else the user's data folder (``~/.local/share/sentinel``
    on Linux), never the current directory, so a command run from another folder finds the same data.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/sentinel")
    import platformdirs

    return Path(platformdirs.user_data_dir("sentinel", appauthor=False))


# Content folders (rules/, classifiers/, ...) sit beside the package in a checkout.
DEFAULT_CONTENT_DIR = PACKAGE_ROOT.parent


def _networks(value: list[str]) -> list[str]:
    for entry in value:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an address or network (10.0.0.5, 10.0.0.0/24)") from None
    return value


# A list of addresses or networks in a settings file, checked when it is loaded.
Networks = Annotated[list[str], AfterValidator(_networks)]


class ElasticsearchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    namespace: str = "default"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. https://es.example:9200")
        return v or None


class PartitionSettings(BaseModel):
    """Several central workers sharing the correlation state by key (``docs/architecture.md``, "Past one machine").

    Every worker lists the same ``peers`` (base URLs, its own included) in the same order and its own
    place in that list as ``index``; a stable hash of each correlation group picks the worker that owns
    it. No peers (the default): one process owns every group.
    """

    model_config = ConfigDict(extra="forbid")

    peers: list[str] = Field(default_factory=list)
    index: int = Field(0, ge=0)

    @field_validator("peers", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):  # SENTINEL_PARTITION_PEERS: a comma-separated list
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("peers")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"peer {url!r} must be a base URL starting with http:// or https://")
        if len(set(v)) != len(v):
            raise ValueError("a peer is listed twice")
        return v

    @model_validator(mode="after")
    def _index(self) -> PartitionSettings:
        if self.peers and self.index >= len(self.peers):
            raise ValueError(f"index {self.index} is not a position in the {len(self.peers)} peers (counted from 0)")
        return self


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    # Origins besides the server's own whose pages may send state-changing requests
    # (the public URL of a reverse proxy that rewrites Host), e.g. "https://soc.example.gov.vn".
    origins: list[str] = Field(default_factory=list)
    # Proxies (addresses or networks) whose X-Forwarded-For names the client; anyone else's is ignored.
    trusted_proxies: Networks = Field(default_factory=list)


class OidcSettings(BaseModel):
    """An OpenID Connect issuer whose JWTs are accepted as bearer tokens."""

    model_config = ConfigDict(extra="forbid")

    issuer: str
    audience: str
    jwks_url: str | None = None
    algorithms: list[str] = ["RS256", "ES256"]
    roles_claim: str = "roles"
    role_map: dict[str, str] = {}
    name_claim: str = "preferred_username"
    province_claim: str | None = None
    commune_claim: str | None = None
    # A token without a province claim (or with an empty one) gets no access unless this says such users are
    # national: a missing claim must not widen a provincial employee's view to the whole country.
    claimless_national: bool = False


class AuthSettings(BaseModel):
    """How callers are authenticated.

    ``accounts`` (the default): every route but the login page and liveness needs credentials:
    local accounts, API tokens or OIDC JWTs; ``sentinel serve`` creates a first administrator
    when there is none. ``demo``: every caller on a loopback address is the local SOC lead, for
    ``sentinel demo`` and ``sentinel serve --demo`` only; never on another address.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["accounts", "demo"] = "accounts"
    oidc: OidcSettings | None = None
    session_hours: float = Field(12, gt=0, le=24 * 30)
    lockout_threshold: int = Field(5, ge=1)
    lockout_minutes: int = Field(15, ge=1)
    login_attempts_per_minute: int = Field(20, ge=1)
    secure_cookies: bool = False


def parse_timezone(value: str) -> tzinfo:
    """``+07:00``, ``UTC`` or an IANA name (``Asia/Ho_Chi_Minh``) as a time zone; ValueError otherwise."""
    text = value.strip()
    if text.upper() in ("UTC", "Z"):
        return UTC
    if m := re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text):
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return timezone(delta if m.group(1) == "+" else -delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a time zone; write a UTC offset (+07:00), UTC or a name (Asia/Ho_Chi_Minh)"
        ) from None


# The zone people read times in unless ``display_timezone`` says otherwise: Sentinel's users are Vietnam's SOC
# staff and data-protection officers, the whole country keeps one zone (UTC+7, no daylight saving), and every
# time shown carries its zone, so a reader elsewhere is never misled.
DEFAULT_DISPLAY_TIMEZONE = "Asia/Ho_Chi_Minh"


class Settings(BaseModel):
    """Validated configuration; build it with :func:`load_settings`."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    content_dir: Path = DEFAULT_CONTENT_DIR
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()
    api: ApiSettings = ApiSettings()
    auth: AuthSettings = AuthSettings()
    partition: PartitionSettings = PartitionSettings()
    batch_size: int = Field(5000, ge=1, le=1_000_000)
    # Processes that parse and protect ingest batches (ingest, collect, the API's ingest endpoint), the
    # ingesting process included; unset: one per core; 1: the ingesting process alone.
    workers: int | None = Field(None, ge=1, le=256)
    # Zone of log timestamps that carry none (BSD syslog), for commands that read files.
    timezone: str = "+07:00"

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        parse_timezone(v)
        return v

    @property
    def tz(self) -> tzinfo:
        return parse_timezone(self.timezone)

    # Zone of every time shown to people: CLI tables and summaries, console pages, notifications
    # (sentinel/timefmt.py). Stored and exchanged times (JSON, ECS) stay UTC.
    display_timezone: str = DEFAULT_DISPLAY_TIMEZONE

    @field_validator("display_timezone")
    @classmethod
    def _display_timezone(cls, v: str) -> str:
        parse_timezone(v)
        return v

    @property
    def display_tz(self) -> tzinfo:
        return parse_timezone(self.display_timezone)

    # An address plan other than ``<content_dir>/collectors/address-plan.yaml``.
    address_plan: Path | None = None
    # Secrets from a deployment's secret store; never written to a file by Sentinel.
    policy_key: SecretStr | None = None
    ingest_token: SecretStr | None = None
    # Response configuration file (channels, routes, escalation); default ``<data_dir>/respond.yml``.
    respond_config: Path | None = None
    # Show progress on standard error even when it is not a terminal.
    progress: bool = False

    @property
    def rules_dir(self) -> Path:
        return self.content_dir / "rules"

    @property
    def classifiers_dir(self) -> Path:
        return self.content_dir / "classifiers"

    @property
    def collectors_dir(self) -> Path:
        return self.content_dir / "collectors"

    @property
    def playbooks_dir(self) -> Path:
        return self.content_dir / "playbooks"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "sentinel.db"

    @property
    def accounts_path(self) -> Path:
        return self.data_dir / "accounts.db"

    @property
    def audit_path(self) -> Path:
        return self.data_dir / "audit.log"

    # Every file Sentinel keeps in the data directory is named here, once.
    @property
    def respond_db_path(self) -> Path:
        return self.data_dir / "respond.db"

    @property
    def classify_db_path(self) -> Path:
        return self.data_dir / "classify.db"

    @property
    def cases_db_path(self) -> Path:
        return self.data_dir / "cases.db"

    @property
    def policy_key_path(self) -> Path:
        return self.data_dir / "policy.key"

    @property
    def dead_letter_path(self) -> Path:
        """Events Elasticsearch refused, kept for ``sentinel es dead-letter replay``."""
        return self.data_dir / "es-dead-letter.sqlite"

    @property
    def collect_dir(self) -> Path:
        """Collectors' queues, read positions (``<name>/``) and status files (``status/``)."""
        return self.data_dir / "collect"

    @property
    def address_plan_path(self) -> Path | None:
        """The address plan in use: the configured file, else the content folder's when it exists."""
        if self.address_plan is not None:
            return self.address_plan
        default = self.collectors_dir / "address-plan.yaml"
        return default if default.exists() else None

    @property
    def respond_config_path(self) -> Path:
        return self.respond_config or self.data_dir / "respond.yml"

    @property
    def uses_elasticsearch(self) -> bool:
        return self.elasticsearch.url is not None


# environment variable -> dotted settings path
ENV_VARS = {
    "SENTINEL_DATA_DIR": "data_dir",
    "SENTINEL_CONTENT_DIR": "content_dir",
    "SENTINEL_ES_URL": "elasticsearch.url",
    "SENTINEL_ES_USERNAME": "elasticsearch.username",
    "SENTINEL_ES_PASSWORD": "elasticsearch.password",
    "SENTINEL_ES_API_KEY": "elasticsearch.api_key",
    "SENTINEL_ES_CA_CERTS": "elasticsearch.ca_certs",
    "SENTINEL_ES_NAMESPACE": "elasticsearch.namespace",
    "SENTINEL_API_HOST": "api.host",
    "SENTINEL_API_PORT": "api.port",
    "SENTINEL_AUTH_MODE": "auth.mode",
    "SENTINEL_TIMEZONE": "timezone",
    "SENTINEL_DISPLAY_TIMEZONE": "display_timezone",
    "SENTINEL_ADDRESS_PLAN": "address_plan",
    "SENTINEL_POLICY_KEY": "policy_key",
    "SENTINEL_INGEST_TOKEN": "ingest_token",
    "SENTINEL_RESPOND_CONFIG": "respond_config",
    "SENTINEL_PROGRESS": "progress",
    "SENTINEL_WORKERS": "workers",
    "SENTINEL_PARTITION_PEERS": "partition.peers",
    "SENTINEL_PARTITION_INDEX": "partition.index",
}
CONFIG_ENV = "SENTINEL_CONFIG"
INGEST_TOKEN_ENV = "SENTINEL_INGEST_TOKEN"
TELEGRAM_TOKEN_ENV = "SENTINEL_TELEGRAM_TOKEN"


def env_name(dotted: str) -> str | None:
    """The environment variable that sets ``dotted`` (``data_dir`` -> ``SENTINEL_DATA_DIR``), if any."""
    return next((v for v, d in ENV_VARS.items() if d == dotted), None)


def hint(dotted: str) -> str:
    """How a user sets ``dotted`` (``elasticsearch.url``): its variable and its key, for error messages."""
    var = env_name(dotted)
    return f"{var} (or {dotted} in the configuration file)" if var else dotted


def read_secret(variable: str, what: str) -> str | None:
    """A secret from the environment variable a configuration file names (``token_env: ...``).

    Files name the variable, never the secret. Unnamed: None. Named but unset: an error saying so.
    """
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise ContentError("environment", None, f"{what}: set the environment variable {variable}")
    return value


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from an optional YAML file and the environment.

    Raises :class:`~sentinel.content.ContentError` naming the file, line and
    key (or the environment variable) that is wrong.
    """
    env = os.environ if env is None else env
    path = path or env.get(CONFIG_ENV) or None
    data: dict = {}
    doc = None
    if path:
        doc = load_yaml(path)
        if doc.data is not None and not isinstance(doc.data, dict):
            raise ContentError(path, 1, "the configuration must be a mapping of settings")
        data = dict(doc.data or {})
    for var, dotted in ENV_VARS.items():
        value = env.get(var)
        if value:
            section, _, key = dotted.partition(".")
            if key:
                data.setdefault(section, {})
                if not isinstance(data[section], dict):
                    raise ContentError(path or var, None, f"{section}: must be a mapping")
                data[section] = {**data[section], key: value}
            else:
                data[section] = value
    if doc is not None:
        doc.data = data
        return doc.validate(Settings)
    from pydantic import ValidationError

    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        dotted = ".".join(str(p) for p in err["loc"])
        var = next((v for v, d in ENV_VARS.items() if d == dotted), dotted)
        raise ContentError("environment", None, f"{var}: {err['msg']}") from None
