"""Collector definitions: the models of ``collectors/*.yaml`` and building sources from them.

A definition names the collector (its queue and offsets live under
``<data_dir>/collect/<name>/``), lists its sources, the enrichment and the
output. Everything is validated when the file is loaded, with
``file:line: reason`` errors, so a typo in a commune's collector file is found
before the service starts, not at the first message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sentinel.collect import NAME, SourceDef, Strict, build_source, parse_offset, parse_size
from sentinel.config import INGEST_TOKEN_ENV
from sentinel.content import load_model

__all__ = ["CollectorFile", "HttpOutput", "StoreOutput", "build_source", "load_collector", "parse_offset", "parse_size"]


class StoreOutput(Strict):
    """The configured store (embedded SQLite, or Elasticsearch when elasticsearch.url is set)."""

    type: Literal["store"] = "store"
    detect: bool = True


class HttpOutput(Strict):
    """A central Sentinel: the commune-edge deployment."""

    type: Literal["http"]
    url: str = Field(pattern=r"^https?://", description="base address of the central Sentinel")
    token_env: str = INGEST_TOKEN_ENV
    timeout: float = Field(30.0, gt=0)
    ca_certs: str | None = None
    verify: bool = True


class QueueDef(Strict):
    max_events: int = Field(2_000_000, ge=1000)
    max_bytes: int | str = "2GiB"
    sync: Literal["full", "normal"] = "full"
    full_wait: float = Field(10.0, gt=0, description="seconds of backpressure before the queue-full alert")

    @field_validator("max_bytes")
    @classmethod
    def _size(cls, v: int | str) -> int:
        return parse_size(v)


class RetryDef(Strict):
    initial: float = Field(0.5, gt=0)
    max: float = Field(60.0, gt=0)


class EnrichmentDef(Strict):
    address_plan: str | None = Field(None, description="path, relative to this file")


class CollectorFile(Strict):
    """One ``collectors/*.yaml`` file."""

    name: str = Field(pattern=NAME)
    description: str | None = None
    sources: list[SourceDef] = Field(min_length=1)
    output: Annotated[StoreOutput | HttpOutput, Field(discriminator="type")] = StoreOutput()
    enrichment: EnrichmentDef = EnrichmentDef()
    queue: QueueDef = QueueDef()
    retry: RetryDef = RetryDef()
    ship_batch: int = Field(5000, ge=1, le=100_000)
    ship_linger: float = Field(0.0, ge=0, le=60)
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
