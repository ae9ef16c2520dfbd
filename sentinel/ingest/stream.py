"""Reading a log stream line by line with byte offsets, and feeding it through the pipeline.

The offset of each line is part of its event id, and an over-long line must
not exhaust memory: it is cut at the parser's limit (the parser then keeps it
as a parse error) and the rest of it is skipped up to the next newline.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import tzinfo
from typing import Any, BinaryIO

from sentinel.collect.parsers import LineReader
from sentinel.collect.parsers.common import MAX_LINE_BYTES
from sentinel.collect.parsers.portal import PortalProfile
from sentinel.collect.syslog_parse import stream_anchor
from sentinel.ingest.pipeline import IngestCounts, Pipeline


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


def _timed_events(
    f: BinaryIO, source: str, index: int, reader: LineReader
) -> Iterator[tuple[tuple[str, int, int], dict[str, Any]]]:
    """Parsed events keyed for merging: (event time, stream, line); a parse error keeps its place in its stream."""
    last = ""
    n = 0
    for offset, line in iter_lines(f):
        for event in reader.parse(line, source=source, position=offset):
            if event["event"]["kind"] != "pipeline_error":
                last = event.get("@timestamp") or last
            yield (last, index, n), event
            n += 1


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
    keyed = [
        _timed_events(
            f, source, i, LineReader(fmt, dataset=dataset, tz=tz, anchor=stream_anchor(f), year=year, profile=profile)
        )
        for i, (source, f) in enumerate(streams)
    ]

    def batches() -> Iterator[list[dict]]:
        batch: list[dict] = []
        for _key, event in heapq.merge(*keyed, key=lambda item: item[0]):
            batch.append(event)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    for done in pipeline.process_stream(batches()):
        counts.add(done)
        if progress is not None and done.read >= batch_size:
            progress(counts, time.monotonic() - started)
    return counts
