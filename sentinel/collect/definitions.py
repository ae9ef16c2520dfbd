"""Collector definitions: the models of ``collectors/*.yaml`` and building sources from them.

A definition names the collector (its queue and offsets live under
``<data_dir>/collect/<name>/``), lists its sources, the enrichment and the
output. Everything is validated when the file is loaded, with
``file:line: reason`` errors, so a typo in a commune's collector file is found
before the service starts, not at the first message.
"""

from __future__ import annotations

import importlib
import re
from datetime import timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sentinel.collect.files import FileOptions, FileSource
from sentinel.collect.source import Source
from sentinel.collect.syslog import Listen, SyslogOptions, SyslogSource
from sentinel.content import load_model

NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# Sources of the network collector are built by its module: type -> "module:function(definition) -> Source".
NETWORK_BUILDERS = {"netflow": "sentinel.cli.collect_net:source_from_definition"}


def parse_size(value: int | str) -> int:
    """``1048576``, ``512MiB``, ``2GB``, ``100k`` -> bytes."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", value.lower())
    if not m:
        raise ValueError(f"{value!r} is not a size; write e.g. 512MiB or 2GiB")
    return int(m.group(1)) * SIZE_UNITS[m.group(2)]


def parse_offset(value: str) -> timezone:
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", value.strip())
    if not m:
        raise ValueError(f"{value!r} is not a UTC offset; write e.g. +07:00")
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(delta if m.group(1) == "+" else -delta)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class MultilineDef(_Strict):
    mode: Literal["pattern", "json"]
    start: str | None = None
    continuation: str | None = None
    max_lines: int = Field(500, ge=2, le=100_000)
    max_bytes: int | str = "1MiB"

    @field_validator("start", "continuation")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v.encode())
            except re.error as exc:
                raise ValueError(f"invalid regular expression {v!r}: {exc}") from None
        return v

    @field_validator("max_bytes")
    @classmethod
    def _size(cls, v: int | str) -> int:
        return parse_size(v)

    @model_validator(mode="after")
    def _one_rule(self) -> MultilineDef:
        if self.mode == "pattern" and (self.start is None) == (self.continuation is None):
            raise ValueError("pattern mode needs exactly one of 'start' (a new record begins) or 'continuation'")
        if self.mode == "json" and (self.start or self.continuation):
            raise ValueError("json mode takes no 'start'/'continuation': records end when their brackets balance")
        return self


class FileSourceDef(_Strict):
    type: Literal["file"]
    name: str = Field(pattern=NAME)
    paths: list[str] = Field(min_length=1, description="files or globs")
    format: Literal["auto", "access", "json", "syslog", "plain"] = "auto"
    dataset: str | None = None
    multiline: MultilineDef | None = None
    start_at: Literal["beginning", "end"] = "beginning"
    rotate_wait: float = Field(5.0, ge=0)


class SyslogSourceDef(_Strict):
    type: Literal["syslog"]
    name: str = Field(pattern=NAME)
    listen: list[str] = Field(min_length=1, description="udp://, tcp:// or tls://HOST:PORT")
    dataset: str = "syslog"
    timezone: str = "+07:00"
    tls_cert: str | None = None
    tls_key: str | None = None
    max_message: int | str = "64KiB"
    max_pending: int = Field(200_000, ge=1000)

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: list[str]) -> list[str]:
        for spec in v:
            Listen.parse(spec)
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        parse_offset(v)
        return v

    @field_validator("max_message")
    @classmethod
    def _size(cls, v: int | str) -> int:
        return parse_size(v)

    @model_validator(mode="after")
    def _tls(self) -> SyslogSourceDef:
        if any(s.startswith("tls://") for s in self.listen) and not (self.tls_cert and self.tls_key):
            raise ValueError("a tls:// listen address needs tls_cert and tls_key (PEM files)")
        return self


class PcapSourceDef(_Strict):
    type: Literal["pcap"]
    name: str = Field(pattern=NAME)
    path: str
    engine: Literal["fast", "scapy"] = "fast"


class NetflowSourceDef(_Strict):
    type: Literal["netflow"]
    name: str = Field(pattern=NAME)
    listen: list[str] = Field(min_length=1, description="udp://HOST:PORT")


SourceDef = Annotated[FileSourceDef | SyslogSourceDef | PcapSourceDef | NetflowSourceDef, Field(discriminator="type")]


class StoreOutput(_Strict):
    """The configured store (embedded SQLite, or Elasticsearch when SENTINEL_ES_URL is set)."""

    type: Literal["store"] = "store"
    detect: bool = True


class HttpOutput(_Strict):
    """A central Sentinel: the commune-edge deployment."""

    type: Literal["http"]
    url: str = Field(pattern=r"^https?://", description="base address of the central Sentinel")
    token_env: str = "SENTINEL_INGEST_TOKEN"
    timeout: float = Field(30.0, gt=0)
    ca_certs: str | None = None
    verify: bool = True


class QueueDef(_Strict):
    max_events: int = Field(2_000_000, ge=1000)
    max_bytes: int | str = "2GiB"
    sync: Literal["full", "normal"] = "full"
    full_wait: float = Field(10.0, gt=0, description="seconds of backpressure before the queue-full alert")

    @field_validator("max_bytes")
    @classmethod
    def _size(cls, v: int | str) -> int:
        return parse_size(v)


class RetryDef(_Strict):
    initial: float = Field(0.5, gt=0)
    max: float = Field(60.0, gt=0)


class EnrichmentDef(_Strict):
    address_plan: str | None = Field(None, description="path, relative to this file")


class CollectorFile(_Strict):
    """One ``collectors/*.yaml`` file."""

    name: str = Field(pattern=NAME)
    description: str | None = None
    sources: list[SourceDef] = Field(min_length=1)
    output: Annotated[StoreOutput | HttpOutput, Field(discriminator="type")] = StoreOutput()
    enrichment: EnrichmentDef = EnrichmentDef()
    queue: QueueDef = QueueDef()
    retry: RetryDef = RetryDef()
    ship_batch: int = Field(5000, ge=1, le=100_000)
    status_interval: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _unique_names(self) -> CollectorFile:
        seen: set[str] = set()
        for src in self.sources:
            if src.name in seen:
                raise ValueError(f"two sources are named {src.name!r}; names keep offsets apart, make them unique")
            seen.add(src.name)
        return self


def load_collector(path: str | Path) -> CollectorFile:
    """Load and validate a collector definition; relative paths in it are made relative to the file."""
    defn = load_model(path, CollectorFile)
    base = Path(path).resolve().parent
    if defn.enrichment.address_plan:
        defn.enrichment.address_plan = str(base / defn.enrichment.address_plan)
    return defn


def build_source(defn: Any, state_dir: Path, *, once: bool = False) -> Source:
    """The runnable source for one source definition."""
    if isinstance(defn, FileSourceDef):
        options = FileOptions(
            fmt=defn.format,
            dataset=defn.dataset,
            multiline=defn.multiline.model_dump() if defn.multiline else None,
            start_at=defn.start_at,
            rotate_wait=defn.rotate_wait,
        )
        source = FileSource(defn.name, defn.paths, state_dir / f"{defn.name}.offsets.json", options)
        source.once = once
        return source
    if isinstance(defn, SyslogSourceDef):
        return SyslogSource(
            defn.name,
            [Listen.parse(s) for s in defn.listen],
            SyslogOptions(
                dataset=defn.dataset,
                timezone=parse_offset(defn.timezone),
                tls_cert=defn.tls_cert,
                tls_key=defn.tls_key,
                max_message=int(defn.max_message),
                max_pending=defn.max_pending,
            ),
        )
    if isinstance(defn, PcapSourceDef):
        from sentinel.collect.traffic import PcapSource

        return PcapSource(defn.path, engine=defn.engine)
    target = NETWORK_BUILDERS[defn.type]
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)(defn)
