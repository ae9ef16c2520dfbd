"""Where the collector ships queued events: the configured store, or a central Sentinel over HTTP.

A sink either accepts a whole batch (then the runner acknowledges it in the
queue), raises :class:`SinkUnavailable` (the runner keeps the batch and retries
with backoff), or raises :class:`SinkRejected` when the batch itself is bad (the
runner isolates the offending events and keeps them in the queue's dead-letter
table). Nothing is acknowledged that the target has not accepted.
"""

from __future__ import annotations

import gzip
from typing import Any, Protocol

import httpx
import orjson

from sentinel.errors import Invalid, Unavailable
from sentinel.ingest.pipeline import IngestCounts, Pipeline
from sentinel.runtime import Runtime
from sentinel.store import StoreError


class SinkUnavailable(Unavailable):
    """The target cannot take events now (down, overloaded, unreachable); retry later."""


class SinkRejected(Invalid):
    """The target refused these events as invalid; retrying the same events cannot help."""


class Sink(Protocol):
    """What the runner ships to."""

    name: str

    def send(self, events: list[dict[str, Any]]) -> IngestCounts:
        """Deliver one batch; return the target's counts. Raise SinkUnavailable / SinkRejected."""
        ...

    def finish(self) -> IngestCounts:
        """End of finite input (flush detection windows)."""
        ...

    def close(self) -> None: ...


class StoreSink:
    """Ship into a store (embedded SQLite, or Elasticsearch bulk) through an ingest pipeline."""

    def __init__(self, pipeline: Pipeline, *, owns_store: bool = False) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self._owns_store = owns_store
        self.name = f"store:{self.store.backend}"

    @classmethod
    def configured(cls, runtime: Runtime, *, detect: bool = True, at_edge: bool = False) -> StoreSink:
        """The configured store with the one ingest pipeline (protection transforms, detection)."""
        from sentinel.ingest.assemble import build_pipeline

        store = runtime.open_store()
        return cls(build_pipeline(runtime, store, detect=detect, at_edge=at_edge), owns_store=True)

    def send(self, events: list[dict[str, Any]]) -> IngestCounts:
        try:
            return self.pipeline.process(events)
        except StoreError as exc:
            raise SinkUnavailable(str(exc)) from None

    def finish(self) -> IngestCounts:
        try:
            return self.pipeline.finish()
        except StoreError as exc:
            raise SinkUnavailable(str(exc)) from None

    def close(self) -> None:
        if self._owns_store:
            self.store.close()


# HTTP statuses after which the same request may succeed later.
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


class HttpSink:
    """Ship to a central Sentinel at ``url`` (its base address): ``POST /api/ingest``, gzip JSON lines, bearer token.

    ``path`` names another endpoint taking lines the same way (a worker forwarding correlation
    matches to their owner posts to ``/api/correlate``).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        path: str = "/api/ingest",
        timeout: float = 30.0,
        verify: bool | str = True,
        compress_level: int = 6,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"output url {url!r} must start with http:// or https://")
        if not token:
            raise ValueError("the HTTP output needs a token (set the variable named by token_env)")
        self.url = url.rstrip("/") + path
        self.name = self.url
        self.compress_level = compress_level
        self._client = httpx.Client(
            timeout=timeout,
            verify=verify,
            transport=transport,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "sentinel-collector"},
        )

    def send(self, events: list[dict[str, Any]]) -> IngestCounts:
        body = b"\n".join(orjson.dumps(e, option=orjson.OPT_NON_STR_KEYS) for e in events) + b"\n"
        payload = gzip.compress(body, compresslevel=self.compress_level)
        try:
            resp = self._client.post(
                self.url,
                content=payload,
                headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
            )
        except httpx.HTTPError as exc:
            raise SinkUnavailable(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if resp.status_code in RETRYABLE or resp.status_code in (401, 403):
            # A wrong token is an operator problem: keep the events and keep saying so.
            raise SinkUnavailable(f"{self.url} answered {resp.status_code}: {resp.text[:200]}")
        if resp.status_code >= 400:
            raise SinkRejected(f"{self.url} rejected the batch ({resp.status_code}): {resp.text[:200]}")
        try:
            data = resp.json()
            return IngestCounts(
                read=len(events),
                stored=int(data["stored"]),
                duplicates=int(data["duplicates"]),
                parse_errors=int(data.get("parse_errors", 0)),
                alerts=int(data.get("alerts", 0)),
            )
        except (ValueError, KeyError, TypeError):
            raise SinkUnavailable(f"{self.url} answered {resp.status_code} without ingest counts") from None

    def finish(self) -> IngestCounts:
        return IngestCounts()  # the central Sentinel runs detection continuously

    def close(self) -> None:
        self._client.close()
