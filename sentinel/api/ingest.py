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
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sentinel.api.auth import current_principal
from sentinel.identity import Principal
from sentinel.ingest import WriterProcess, status_dir

router = APIRouter(tags=["collect"])

# The compressed size is capped for every request by the app (settings.api.max_body_bytes, 413).
MAX_DECOMPRESSED = 64 << 20  # held in memory: a gzip bomb must not make the server allocate more
# How much lower the writer process's scheduling priority is than the server's, and its workers' than its own.
WRITER_NICENESS = 5
WORKER_NICENESS = 5
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


_BUILD_LOCK = threading.Lock()


def _writer(request: Request) -> WriterProcess:
    """The app's writer process, started on first use (it loads rules and classifiers for seconds)."""
    state = request.app.state
    with _BUILD_LOCK:
        if getattr(state, "ingest_writer", None) is None:
            store = state.store
            # the writer opens the store this server reads: the SQLite file it was given, else the settings'
            path = getattr(store, "path", None) if store.backend == "sqlite" else None
            writer = WriterProcess(
                state.runtime.settings,
                store_path=path,
                workers=state.ingest_workers,
                nice=WRITER_NICENESS,
                worker_nice=WORKER_NICENESS,
            )
            writer.start()
            state.ingest_writer = writer
    return state.ingest_writer


def reopen_pipeline(app: Any) -> None:
    """The server is starting (again): the next ingest request starts a writer process if the last one was closed."""
    writer = getattr(app.state, "ingest_writer", None)
    if writer is not None and writer.closed:
        app.state.ingest_writer = None


def close_pipeline(app: Any) -> None:
    """Write what is queued and stop the app's writer process if a batch started it (the server is stopping).

    The closed writer stays in place: a request still arriving gets 503, not a new process.
    """
    writer = getattr(app.state, "ingest_writer", None)
    if writer is not None:
        writer.close()


async def _through_writer(request: Request, kind: Literal["ingest", "correlate"], collector: str) -> tuple[Any, ...]:
    """The request's body, decompressed, through the writer process; its answer once the batch is committed.

    The writer takes a few requests at a time: the others wait here without holding a thread. Decompressing
    and sending happen on a worker thread, so the event loop (and analysts' reads) never wait on them.
    """
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding not in ("", "identity", "gzip"):
        raise HTTPException(415, detail=f"Content-Encoding {encoding!r} is not supported; send gzip or identity")
    body = await request.body()
    writer = await run_in_threadpool(_writer, request)
    slot = writer.reserve()
    try:
        await asyncio.wrap_future(slot)
        answer = await run_in_threadpool(writer.send, slot, kind, collector, lambda: _decompress(body, encoding))
    finally:
        writer.release(slot)  # only if no request holds it (a refused body, a cancelled caller)
    return await asyncio.wrap_future(answer)


@router.post("/api/ingest", response_model=IngestOut)
async def ingest(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> IngestOut:
    """Store a batch of ECS events (gzip JSON lines) from a collector; the counts let it acknowledge its queue.

    Callers authenticate as role ``collector`` (or ``admin``): a per-collector API token, or the
    deployment-wide ingest token setting (see :mod:`sentinel.api.auth` and ``permissions``). A line
    that is not an event with an ``event.id`` is stored as a ``pipeline_error`` event (``rejected_lines``).
    """
    counts = await _through_writer(request, "ingest", principal.name)
    return IngestOut(**dict(zip(IngestOut.model_fields, counts, strict=True)))


@router.post("/api/correlate", response_model=IngestOut)
async def correlate(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> IngestOut:
    """Correlation matches another worker of a partitioned deployment forwards to the owner of their groups.

    Gzip JSON lines ``{"rule", "correlation", "event"}``; the events were stored by the worker that
    received them, so here they are only correlated (:mod:`sentinel.ingest.partition`). A line that is
    not a match refuses the whole request (400).
    """
    received, alerts = await _through_writer(request, "correlate", principal.name)
    return IngestOut(received=received, stored=received, duplicates=0, parse_errors=0, rejected_lines=0, alerts=alerts)


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
