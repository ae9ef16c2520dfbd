"""Source kinds a collector can run: each one's definition model and builder, in one registry.

A collector file (``collectors/*.yaml``) lists sources by ``type``; :data:`SOURCES` maps each type
to a :class:`SourceSpec` with the pydantic model that validates its entry and the function that
builds the runnable :class:`~sentinel.collect.source.Source`. Adding a kind of source is one
model, one builder and one line in :data:`SOURCES`, like a playbook action's ``ActionSpec``.
Builders import their module when called, so validating a file never loads scapy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sentinel.collect.source import Source
from sentinel.collect.syslog import Listen

NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class MultilineDef(Strict):
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


class FileSourceDef(Strict):
    type: Literal["file"]
    name: str = Field(pattern=NAME)
    paths: list[str] = Field(min_length=1, description="files or globs")
    format: Literal["auto", "access", "json", "syslog", "plain"] = "auto"
    dataset: str | None = None
    multiline: MultilineDef | None = None
    start_at: Literal["beginning", "end"] = "beginning"
    rotate_wait: float = Field(5.0, ge=0)


class SyslogSourceDef(Strict):
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


class PcapSourceDef(Strict):
    type: Literal["pcap"]
    name: str = Field(pattern=NAME)
    path: str
    engine: Literal["fast", "scapy"] = "fast"


class NetflowSourceDef(Strict):
    type: Literal["netflow"]
    name: str = Field(pattern=NAME)
    listen: list[str] = Field(min_length=1, description="udp://HOST:PORT")


def _file(defn: FileSourceDef, state_dir: Path, once: bool) -> Source:
    from sentinel.collect.files import FileOptions, FileSource

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


def _syslog(defn: SyslogSourceDef, state_dir: Path, once: bool) -> Source:
    from sentinel.collect.syslog import SyslogOptions, SyslogSource

    options = SyslogOptions(
        dataset=defn.dataset,
        timezone=parse_offset(defn.timezone),
        tls_cert=defn.tls_cert,
        tls_key=defn.tls_key,
        max_message=int(defn.max_message),
        max_pending=defn.max_pending,
    )
    return SyslogSource(defn.name, [Listen.parse(s) for s in defn.listen], options)


def _pcap(defn: PcapSourceDef, state_dir: Path, once: bool) -> Source:
    from sentinel.collect.traffic import PcapSource

    return PcapSource(defn.path, engine=defn.engine)


def _netflow(defn: NetflowSourceDef, state_dir: Path, once: bool) -> Source:
    from sentinel.collect.netflow import NetflowSource

    return NetflowSource(list(defn.listen), name=defn.name)


@dataclass(frozen=True)
class SourceSpec:
    """One kind of source: the model of its entry in a collector file and how to build it."""

    kind: str
    definition: type[BaseModel]
    build: Callable[[Any, Path, bool], Source]  # (validated entry, state folder, once) -> source
    summary: str


SOURCES: dict[str, SourceSpec] = {
    spec.kind: spec
    for spec in (
        SourceSpec("file", FileSourceDef, _file, "tail files and globs, with offsets and rotation"),
        SourceSpec("syslog", SyslogSourceDef, _syslog, "receive syslog over UDP, TCP or TLS"),
        SourceSpec("pcap", PcapSourceDef, _pcap, "read a pcap/pcapng capture into flows and protocol events"),
        SourceSpec("netflow", NetflowSourceDef, _netflow, "receive NetFlow v5/v9 and IPFIX over UDP"),
    )
}

SourceDef = Annotated[FileSourceDef | SyslogSourceDef | PcapSourceDef | NetflowSourceDef, Field(discriminator="type")]


def build_source(defn: Any, state_dir: Path, *, once: bool = False) -> Source:
    """The runnable source for one validated source entry."""
    return SOURCES[defn.type].build(defn, state_dir, once)
