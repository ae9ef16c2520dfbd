"""``sentinel anonymize INPUT --purpose P [-o OUTPUT]``: a CSV or JSON-lines file, anonymised for one purpose.

Streams record by record (constant memory whatever the size) through the same
protector the ingest path uses: columns and keys the policy names get their
operator, everything else is scanned by the recognisers. Progress goes to
standard error for large inputs; the output goes to ``-o`` or standard output.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import orjson

from sentinel.cli.common import settings_from
from sentinel.policy.keys import load_keys
from sentinel.policy.model import load_policy
from sentinel.policy.protect import Protector
from sentinel.policy.purposes import policy_path, purpose_protector

# Inputs at least this large report progress on standard error.
PROGRESS_BYTES = 32 * 1024 * 1024
PROGRESS_SECONDS = 2.0


class _Progress:
    """Counts bytes read from the input and reports every few seconds when the input is large."""

    def __init__(self, raw: IO[bytes], total: int | None) -> None:
        self.raw = raw
        self.total = total
        self.done = 0
        self.records = 0
        self.show = bool(os.environ.get("SENTINEL_PROGRESS")) or (total or 0) >= PROGRESS_BYTES
        self.started = self.last = time.monotonic()

    def lines(self) -> Iterator[bytes]:
        for line in self.raw:
            self.done += len(line)
            yield line

    def tick(self) -> None:
        self.records += 1
        if self.show and self.records % 1000 == 0 and time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.last = time.monotonic()
            rate = self.done / max(self.last - self.started, 1e-9) / 1e6
            pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
            click.echo(
                f"anonymize: {self.done / 1e6:,.0f} MB{pct}, {self.records:,} records, {rate:,.1f} MB/s", err=True
            )


def _format_of(path: str, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise click.BadParameter(f"{path}: cannot tell the format from the name; pass --format csv or --format jsonl")


def _csv(progress: _Progress, out: IO[str], protector: Protector, delimiter: str) -> int:
    text = (line.decode("utf-8", "backslashreplace") for line in progress.lines())
    reader = csv.reader(text, delimiter=delimiter)
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    header = next(reader, None)
    if header is None:
        return 0
    writer.writerow(header)
    unique = len(set(header)) == len(header)
    problems = 0
    for row in reader:
        if len(row) != len(header):
            problems += 1
            click.echo(f"row {reader.line_num}: {len(row)} cells, the header has {len(header)}", err=True)
        named = row[: len(header)]
        if unique:  # one recogniser pass per row
            protected = protector.protect(dict(zip(header, named, strict=False)))
            cells = [protected[h] for h in header[: len(named)]]
        else:  # repeated column names: cell by cell
            cells = [protector.protect_value(h, c) or "" for h, c in zip(header, named, strict=False)]
        # cells beyond the header have no column name: scanned as text
        writer.writerow(cells + [protector.protect_value(None, c) or "" for c in row[len(header) :]])
        progress.tick()
    return problems


def _jsonl(progress: _Progress, out: IO[str], protector: Protector) -> int:
    problems = 0
    for number, line in enumerate(progress.lines(), start=1):
        text = line.decode("utf-8", "backslashreplace").rstrip("\r\n")
        if not text.strip():
            out.write("\n")
            continue
        try:
            obj: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            out.write(orjson.dumps(protector.protect(obj)).decode() + "\n")
        else:
            # Not a JSON object: still written, never dropped, with its personal data protected as text.
            problems += 1
            click.echo(f"line {number}: not a JSON object; anonymised as plain text", err=True)
            out.write((protector.protect_value(None, text) or "") + "\n")
        progress.tick()
    return problems


@click.command()
@click.argument("input_path", metavar="INPUT")
@click.option("--purpose", "-p", required=True, help="Purpose in the policy: triage, analytics_export, open_data...")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Output file (default: standard output).")
@click.option(
    "--policy", "policy_file", type=click.Path(dir_okay=False), help="Policy file (default: the configured one)."
)
@click.option("--format", "fmt", type=click.Choice(["auto", "csv", "jsonl"]), default="auto", show_default=True)
@click.pass_context
def anonymize(
    ctx: click.Context, input_path: str, purpose: str, output: str | None, policy_file: str | None, fmt: str
) -> None:
    """Anonymise a CSV or JSON-lines INPUT (``-`` for standard input) for one purpose of the data policy."""
    settings = settings_from(ctx)
    fmt = _format_of(input_path, fmt) if input_path != "-" else (fmt if fmt != "auto" else "jsonl")
    loaded = load_policy(policy_file or policy_path(settings), classifiers_dir=settings.classifiers_dir)
    if purpose not in loaded.policy.purposes:
        raise click.BadParameter(
            f"no purpose {purpose!r} in {loaded.path}; defined: {', '.join(loaded.policy.purposes)}",
            param_hint="--purpose",
        )
    protector = purpose_protector(loaded, purpose, load_keys(settings.data_dir))
    try:
        raw: IO[bytes] = sys.stdin.buffer if input_path == "-" else open(input_path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise click.BadParameter(f"{input_path}: {exc.strerror}", param_hint="INPUT") from None
    total = None if input_path == "-" else os.fstat(raw.fileno()).st_size
    progress = _Progress(raw, total)
    target = Path(output) if output else None
    tmp = target.with_name(target.name + ".partial") if target else None
    out: IO[str] = (
        tmp.open("w", encoding="utf-8", newline="")
        if tmp
        else io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=False)
    )
    try:
        delimiter = "\t" if input_path.lower().endswith(".tsv") else ","
        problems = _csv(progress, out, protector, delimiter) if fmt == "csv" else _jsonl(progress, out, protector)
    finally:
        raw.close()
        out.flush()
        if tmp:
            out.close()
        else:
            out.detach()  # standard output stays open for whoever runs us
    if tmp and target:
        tmp.replace(target)  # a reader never sees a half-written output under the final name
    summary = ", ".join(f"{e} {n:,}" for e, n in sorted(protector.counts.items())) or "none found"
    click.echo(f"anonymize: {progress.records:,} records for {purpose}; values protected: {summary}", err=True)
    if problems:
        click.echo(f"anonymize: {problems:,} malformed records were anonymised as text, not dropped", err=True)
