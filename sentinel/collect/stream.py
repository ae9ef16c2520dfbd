"""Reading a log stream line by line with byte offsets, and feeding it through the pipeline.

The offset of each line is part of its event id, and an over-long line must
not exhaust memory: it is cut at the parser's limit (the parser then keeps it
as a parse error) and the rest of it is skipped up to the next newline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from sentinel.collect.parsers import parse_line
from sentinel.collect.parsers.common import MAX_LINE_BYTES
from sentinel.collect.pipeline import IngestCounts, Pipeline


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


def ingest_stream(
    pipeline: Pipeline,
    f: BinaryIO,
    source: str,
    *,
    fmt: str = "auto",
    dataset: str | None = None,
    batch_size: int = 5000,
    progress: Callable[[IngestCounts, float], Any] | None = None,
) -> IngestCounts:
    """Parse every line of ``f`` and feed it through ``pipeline`` in batches; return the counts.

    ``source`` is the stream's identity (e.g. the file's absolute path); with
    the byte offset it makes each event id, so the same file ingested twice
    stores nothing the second time. ``progress`` is called about every two
    seconds with the counts so far and the elapsed seconds.
    """
    counts = IngestCounts()
    batch: list[dict] = []
    started = last = time.monotonic()
    for offset, line in iter_lines(f):
        batch.append(parse_line(line, source=source, position=offset, fmt=fmt, dataset=dataset))
        if len(batch) >= batch_size:
            counts.add(pipeline.process(batch))
            batch = []
            if progress and time.monotonic() - last > 2:
                last = time.monotonic()
                progress(counts, last - started)
    if batch:
        counts.add(pipeline.process(batch))
    return counts
