"""``sentinel ingest FILE...``: parse, normalise, store and detect, then print the counts."""

from __future__ import annotations

import contextlib
import gzip
import os
import stat
import sys
from pathlib import Path
from typing import BinaryIO

import click

from sentinel.cli.common import format_options, portal_profile_option, runtime_from, store_from, timezone_option
from sentinel.cli.progress import Meter, quiet_option
from sentinel.ingest import IngestCounts, build_pipeline, ingest_streams, worker_count
from sentinel.runtime import settle_heap


def _plain_size(f: BinaryIO) -> int | None:
    """The size of a regular, uncompressed file (what ``tell`` counts against), else None."""
    if isinstance(f, gzip.GzipFile):
        return None
    try:
        st = os.fstat(f.fileno())
    except (OSError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _open(path: str) -> tuple[str, BinaryIO]:
    """Source identity and a binary stream for ``path`` (``-`` is standard input)."""
    if path == "-":
        return "stdin", sys.stdin.buffer
    p = Path(path)
    try:
        f: BinaryIO = gzip.open(p, "rb") if p.suffix == ".gz" else p.open("rb")  # type: ignore[assignment]  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise click.BadParameter(f"{path}: no such file", param_hint="FILE") from None
    except IsADirectoryError:
        raise click.BadParameter(f"{path}: is a folder; pass files or a glob such as {path}/*.log") from None
    except PermissionError:
        raise click.BadParameter(f"{path}: permission denied", param_hint="FILE") from None
    return str(p.resolve()), f


@click.command()
@click.argument("files", nargs=-1, required=True)
@format_options()
@click.option("--dataset", help="event.dataset for the events (default: by format and content).")
@click.option("--no-detect", is_flag=True, help="Store only; do not run the Sigma rules.")
@quiet_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that parse, enrich, protect and match the single-event rules, this one included (default: the "
    "workers setting, else one per core; 1: this process alone). This process also stores, raises the alerts and "
    "correlates, in input order, and takes its share of the rest whenever it would wait.",
)
@click.pass_context
def ingest(
    ctx: click.Context,
    files: tuple[str, ...],
    fmt: str,
    tz_name: str | None,
    year: int | None,
    profile_path: str | None,
    dataset: str | None,
    no_detect: bool,
    quiet: bool,
    workers: int | None,
) -> None:
    """Parse log FILES (or - for standard input), store the events and run detection.

    Several files are merged by event time (correlation rules need one timeline).
    Prints how many lines were read, stored, kept as parse errors and skipped as
    duplicates. Ingesting the same file again stores nothing new.
    """
    runtime = runtime_from(ctx)
    settings = runtime.settings
    tz = timezone_option(tz_name, settings)
    store = store_from(ctx)
    pipeline = build_pipeline(runtime, store, detect=not no_detect, workers=worker_count(settings, workers))
    ctx.call_on_close(pipeline.close)
    settle_heap()

    with contextlib.ExitStack() as stack:
        streams = []
        for path in files:
            source, f = _open(path)
            streams.append((source, stack.enter_context(f)))
        # bytes of plain files against their sizes; lines when a stream's size is unknown (stdin, gzip)
        sizes = [_plain_size(f) for _, f in streams]
        by_bytes = all(size is not None for size in sizes)
        total = sum(sizes) if by_bytes else None  # type: ignore[arg-type]
        meter = stack.enter_context(
            Meter("ingest", total, "bytes" if by_bytes else "lines", show=not quiet, forced=settings.progress)
        )

        def progress(counts: IngestCounts, elapsed: float) -> None:
            meter.update(sum(f.tell() for _, f in streams) if by_bytes else counts.read)

        ingest_streams(
            pipeline,
            streams,
            fmt=fmt,
            dataset=dataset,
            batch_size=settings.batch_size,
            progress=progress,
            tz=tz,
            year=year,
            profile=portal_profile_option(profile_path),
        )
    pipeline.finish()
    totals = pipeline.totals
    click.echo(
        f"read {totals.read:,}  stored {totals.stored:,}  parse errors {totals.parse_errors:,}  "
        f"duplicates skipped {totals.duplicates:,}  alerts {totals.alerts:,}  {meter.timing(totals.read, 'lines')}"
    )
