"""``POST /api/ingest`` (events from commune-edge collectors) and ``GET /api/collect/status``.

Edge collectors ship batches of ECS events as gzip-compressed JSON lines with a
bearer token: a per-collector API token of role ``collector``, or the shared
the ingest token setting on both sides. The answer carries the
counts the collector needs to acknowledge its queue: a 2xx means every line
was either stored, recognised as a duplicate (same ``event.id``), or kept as a
``pipeline_error`` event; a 5xx means nothing can be assumed and the collector
retries the whole batch, which the deterministic ids make harmless.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import zlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sentinel.api.auth import current_principal
from sentinel.collect import build_event
from sentinel.identity import Principal
from sentinel.ingest import BatchWriter, status_dir

router = APIRouter(tags=["collect"])

# The compressed size is capped for every request by the app (settings.api.max_body_bytes, 413).
MAX_DECOMPRESSED = 64 << 20  # held in memory: a gzip bomb must not make the server allocate more
# How much lower the ingest workers' scheduling priority is than the server's.
WORKER_NICENESS = 10
# A status file older than this belongs to a collector that stopped or hangs.
STALE_AFTER = 60.0


class IngestOut(BaseModel):
    received: int
    stored: int
    duplicates: int
    parse_errors: int
    rejected_lines: int
    alerts: int


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise HTTPException(415, detail=f"Content-Encoding {encoding!r} is not supported; send gzip or identity")
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, MAX_DECOMPRESSED)
    except zlib.error as exc:
        raise HTTPException(400, detail=f"the body is not valid gzip: {exc}") from None
    if d.unconsumed_tail:
        raise HTTPException(413, detail=f"the batch expands beyond {MAX_DECOMPRESSED} bytes; send smaller batches")
    if not d.eof:
        raise HTTPException(400, detail="the gzip body is truncated")
    return out


def _events(text: bytes, collector: str) -> tuple[list[dict[str, Any]], int]:
    """Events from JSON lines; a line that is not an event with an id is kept as a pipeline_error event."""
    events: list[dict[str, Any]] = []
    bad = 0
    for lineno, line in enumerate(text.split(b"\n"), 1):
        if not line.strip():
            continue
        reason = None
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            reason = f"line {lineno} is not JSON: {exc}"
        else:
            if not isinstance(doc, dict):
                reason = f"line {lineno} is JSON but not an object"
            elif not isinstance(doc.get("event"), dict) or not isinstance(doc["event"].get("id"), str):
                reason = f"line {lineno} has no event.id (collectors set it so retries do not duplicate)"
            else:
                events.append(doc)
                continue
        bad += 1
        error = build_event(
            None, line, source=f"ingest:{collector}", position=lineno, dataset="sentinel.ingest", error=reason
        )
        del error["log"]["file"]
        events.append(error)
    return events, bad


_BUILD_LOCK = threading.Lock()


def _writer(request: Request) -> BatchWriter:
    """The app's ingest writer and pipeline, built on first use (loading rules and classifiers takes seconds)."""
    state = request.app.state
    with _BUILD_LOCK:
        if getattr(state, "ingest_writer", None) is None:
            from sentinel.ingest import build_pipeline

            # the workers yield the processor to this server's threads: an analyst's read comes before a batch
            pipeline = build_pipeline(
                state.runtime, state.store, workers=state.ingest_workers, nice=WORKER_NICENESS, partitioned=True
            )
            state.ingest_writer = BatchWriter(pipeline)
    return state.ingest_writer


def close_pipeline(app: Any) -> None:
    """Write what is queued and close the app's ingest pipeline if a batch built it (the server is stopping)."""
    writer = getattr(app.state, "ingest_writer", None)
    if writer is not None:
        app.state.ingest_writer = None
        writer.close()


@router.post("/api/ingest", response_model=IngestOut)
async def ingest(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> IngestOut:
    """Store a batch of ECS events (gzip JSON lines) from a collector; the counts let it acknowledge its queue.

    Callers authenticate as role ``collector`` (or ``admin``): a per-collector API token, or the
    deployment-wide ingest token setting (see :mod:`sentinel.api.auth` and ``permissions``).
    """
    body = await request.body()
    text = _decompress(body, request.headers.get("content-encoding", "").lower())
    events, bad = _events(text, principal.name)

    # the writer stores batches in turn; this request waits for its own without holding a thread
    writer = await run_in_threadpool(_writer, request)
    counts = await asyncio.wrap_future(await run_in_threadpool(writer.submit, events))
    return IngestOut(
        received=len(events),
        stored=counts.stored,
        duplicates=counts.duplicates,
        parse_errors=counts.parse_errors,
        rejected_lines=bad,
        alerts=counts.alerts,
    )


def _matches(text: bytes) -> list[dict[str, Any]]:
    """Forwarded matches from JSON lines; anything else is the sender's bug, refused whole (400)."""
    matches = []
    for lineno, line in enumerate(text.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, detail=f"line {lineno} is not JSON: {exc}") from None
        if not (
            isinstance(doc, dict)
            and isinstance(doc.get("rule"), str)
            and isinstance(doc.get("correlation"), str)
            and isinstance(doc.get("event"), dict)
        ):
            raise HTTPException(400, detail=f"line {lineno} is not a match (rule, correlation, event)")
        matches.append(doc)
    return matches


@router.post("/api/correlate", response_model=IngestOut)
async def correlate(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> IngestOut:
    """Correlation matches another worker of a partitioned deployment forwards to the owner of their groups.

    Gzip JSON lines ``{"rule", "correlation", "event"}``; the events were stored by the worker that
    received them, so here they are only correlated (:mod:`sentinel.ingest.partition`).
    """
    body = await request.body()
    matches = _matches(_decompress(body, request.headers.get("content-encoding", "").lower()))

    writer = await run_in_threadpool(_writer, request)
    counts = await asyncio.wrap_future(writer.call(lambda pipeline: pipeline.correlate(matches)))
    return IngestOut(
        received=len(matches), stored=len(matches), duplicates=0, parse_errors=0, rejected_lines=0, alerts=counts.alerts
    )


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


@router.get("/api/collect/status")
def collect_status(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
    """Every collector on this host: lag, queue depth, errors, dropped, and whether it is still reporting."""
    folder = status_dir(request.app.state.settings)
    collectors = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            doc = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            collectors.append({"name": path.stem, "error": f"unreadable status file: {exc}"})
            continue
        age = time.time() - path.stat().st_mtime
        doc["seconds_since_update"] = round(age, 1)
        doc["running"] = _alive(doc.get("pid")) and age < STALE_AFTER
        collectors.append(doc)
    return {"collectors": collectors}
