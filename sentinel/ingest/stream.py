"""Reading a log stream line by line with byte offsets, and feeding it through the pipeline.

The offset of each line is part of its event id, and an over-long line must
not exhaust memory: it is cut at the parser's limit (the parser then keeps it
as a parse error) and the rest of it is skipped up to the next newline.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import tzinfo
from typing import Any, BinaryIO

from sentinel.collect import MAX_LINE_BYTES, LineReader, PortalProfile, stream_anchor
from sentinel.ingest.pipeline import IngestCounts, Pipeline
from sentinel.ingest.ready import Ready, is_error
from sentinel.ingest.workers import Pending, TransformWorkers


def iter_lines(f: BinaryIO, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, line)`` for each line from byte ``start``; a last line without newline is included."""
    offset = start
    while True:
        line = f.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        consumed = len(line)
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            # skip the remainder of the over-long line, keeping what fits as evidence
            while True:
                rest = f.readline(1 << 20)
                consumed += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
        yield offset, line
        offset += consumed


Keyed = Iterator[tuple[tuple[str, int, int], Any]]


def _keyed(events: Iterator[dict[str, Any]] | Iterator[Ready], index: int) -> Keyed:
    """Events keyed for merging: (event time, stream, line); a parse error keeps its place in its stream."""
    last = ""
    for n, event in enumerate(events):
        if type(event) is Ready:
            if not event.error:
                last = event.time or last
        elif not is_error(event):
            last = event.get("@timestamp") or last
        yield (last, index, n), event


def _parsed(f: BinaryIO, source: str, reader: LineReader) -> Iterator[dict[str, Any]]:
    for offset, line in iter_lines(f):
        yield from reader.parse(line, source=source, position=offset)


def _transformed(
    workers: TransformWorkers, pipeline: Pipeline, f: BinaryIO, source: str, reader: LineReader, batch_size: int
) -> Iterator[Ready]:
    """The stream's events parsed and made ready by the workers and this process, in parts, in order.

    The parts of two batches are read ahead, so memory stays bounded and the workers always have the
    next part while this process stores a batch. A part holding a syslog line (which needs the lines
    before it) is parsed here with the stream's own reader, and so is the rest of the stream from then
    on; the workers still make it ready.
    """
    chunk = max(1, min(workers.PART, -(-batch_size // workers.count)))
    read_ahead = workers.depth * -(-batch_size // chunk)
    pending: deque[tuple[list[tuple[int, bytes]], Pending]] = deque()
    alone = True  # False once the stream showed a line that needs its own reader

    def parse_here(lines: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
        return [e for offset, line in lines for e in reader.parse(line, source=source, position=offset)]

    def submit(lines: list[tuple[int, bytes]]) -> None:
        if alone:
            pending.append((lines, workers.submit_lines(reader, source, lines)))
        else:
            pending.append((lines, workers.submit(parse_here(lines))))

    def done() -> list[Ready]:
        nonlocal alone
        lines, result = pending.popleft()
        ready = result.get()
        if ready is None:  # this part needs the stream's reader, and so may every later one
            alone = False
            ready = pipeline.make_ready(parse_here(lines))
        return ready

    lines: list[tuple[int, bytes]] = []
    for item in iter_lines(f):
        lines.append(item)
        if len(lines) >= chunk:
            submit(lines)
            lines = []
            if len(pending) >= read_ahead:
                yield from done()
    if lines:
        submit(lines)
    while pending:
        yield from done()


def ingest_streams(
    pipeline: Pipeline,
    streams: Sequence[tuple[str, BinaryIO]],
    *,
    fmt: str = "auto",
    dataset: str | None = None,
    batch_size: int = 5000,
    progress: Callable[[IngestCounts, float], Any] | None = None,
    tz: tzinfo | None = None,
    year: int | None = None,
    profile: PortalProfile | None = None,
) -> IngestCounts:
    """Parse ``(source, stream)`` pairs and feed their events through ``pipeline`` merged by event time.

    Correlation rules follow event time with a bounded lateness, so reading one
    whole log after another would make the second one's events "late"; logs are
    each roughly in time order, so a streaming merge restores one timeline.
    ``source`` is each stream's identity (e.g. the file's absolute path): with
    the byte offset it makes each event id, so the same file ingested twice
    stores nothing the second time. ``progress`` is called after every batch
    with the counts so far and the elapsed seconds. ``fmt`` is any of
    :data:`~sentinel.collect.parsers.LINE_FORMATS`; yearless syslog timestamps
    take ``tz`` and the year from each stream's sequence (``year``, else its
    modification time, anchors the first line); ``profile`` tags access lines
    with the kind of request (default: the shipped portal profile).
    """
    counts = IngestCounts()
    started = time.monotonic()
    readers = [
        (source, f, LineReader(fmt, dataset=dataset, tz=tz, anchor=stream_anchor(f), year=year, profile=profile))
        for source, f in streams
    ]
    workers = pipeline.workers
    # with workers, lines go to them raw and come back parsed and ready to write (syslog files are parsed here)
    ahead = workers is not None and fmt != "syslog"
    if ahead:
        sources = [_transformed(workers, pipeline, f, source, reader, batch_size) for source, f, reader in readers]
    else:
        sources = [_parsed(f, source, reader) for source, f, reader in readers]
    keyed = [_keyed(events, i) for i, events in enumerate(sources)]

    def batches() -> Iterator[list[Any]]:
        batch: list[Any] = []
        for _key, event in heapq.merge(*keyed, key=lambda item: item[0]):
            batch.append(event)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    done_batches = map(pipeline.commit_ready, batches()) if ahead else pipeline.process_stream(batches())
    for done in done_batches:
        counts.add(done)
        if progress is not None and done.read >= batch_size:
            progress(counts, time.monotonic() - started)
    return counts
