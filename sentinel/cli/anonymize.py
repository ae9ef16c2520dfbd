"""``sentinel anonymize INPUT --purpose P [-o OUTPUT]``: a CSV or JSON-lines file, anonymised for one purpose.

Most purposes stream record by record (constant memory whatever the size)
through the same protector the ingest path uses: columns and keys the policy
names get their operator, everything else is scanned by the recognisers.
Progress (bytes read) goes to standard error on a terminal; the output goes to
``-o`` or standard output. A purpose with a ``release`` (``open_data``) publishes the
table by measured risk instead (:mod:`sentinel.policy.open_data`), and
``--check FILE`` measures the risk of any table. Files are read through
:mod:`sentinel.records`.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click
import orjson

from sentinel.classify import FieldClassifier
from sentinel.cli.common import audit_from, cli_actor, runtime_from, settings_from
from sentinel.cli.progress import Meter, quiet_option
from sentinel.config import Settings
from sentinel.policy import (
    ColumnPlan,
    LoadedPolicy,
    Protector,
    Table,
    check_file,
    check_text,
    load_generalizer,
    load_policy,
    plan_table,
    policy_path,
    purpose_protector,
    release_file,
)
from sentinel.records import RowReader, SourceError, delimiter_of, format_of

UPDATE_EVERY = 1000  # lines between progress updates (an update costs more than a line)


def _lines(raw: IO[bytes], meter: Meter) -> Iterator[str]:
    """The input's lines as text, counting the bytes read into ``meter``."""
    done = 0
    for n, line in enumerate(raw, 1):
        done += len(line)
        if n % UPDATE_EVERY == 0:
            meter.update(done)
        yield line.decode("utf-8", "backslashreplace")
    meter.update(done)


def _format_of(path: str, fmt: str, head: bytes) -> str:
    if fmt != "auto":
        return fmt
    found = format_of(path, head)
    if found == "json":  # a JSON document whose records are one per line is read as JSON lines
        return "jsonl"
    if found not in ("csv", "jsonl"):
        raise click.BadParameter(f"{path}: cannot tell the format from the name; pass --format csv or --format jsonl")
    return found


def _csv(text: Iterator[str], out: IO[str], protector: Protector, delimiter: str) -> tuple[int, int]:
    """Records written and malformed ones among them."""
    reader = RowReader("csv", delimiter)
    rows = reader.rows(text)
    first = next(rows, None)
    if reader.header is None:
        return 0, 0
    header = reader.header
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    unique = len(set(header)) == len(header)
    records = problems = 0
    for row in itertools.chain([first] if first else [], rows):
        cells = row.cells or []
        if row.problem:
            problems += 1
            click.echo(f"row {row.line}: {row.problem}", err=True)
        named = cells[: len(header)]
        if unique:  # one recogniser pass per row
            protected = protector.protect(dict(zip(header, named, strict=False)))
            values = [protected[h] for h in header[: len(named)]]
        else:  # repeated column names: cell by cell
            values = [protector.protect_value(h, c) or "" for h, c in zip(header, named, strict=False)]
        # cells beyond the header have no column name: scanned as text
        writer.writerow(values + [protector.protect_value(None, c) or "" for c in cells[len(header) :]])
        records += 1
    return records, problems


def _jsonl(text: Iterator[str], out: IO[str], protector: Protector) -> tuple[int, int]:
    """Records written and malformed ones among them."""
    records = problems = 0
    for row in RowReader("jsonl").rows(text):
        if row.record is not None:
            out.write(orjson.dumps(protector.protect(row.record)).decode() + "\n")
        else:
            # Not a JSON object: still written, never dropped, with its personal data protected as text.
            problems += 1
            click.echo(f"line {row.line}: {row.problem}; anonymised as plain text", err=True)
            out.write((protector.protect_value(None, row.text) or "") + "\n")
        records += 1
    return records, problems


@click.command()
@click.argument("input_path", metavar="INPUT", required=False)
@click.option("--purpose", "-p", help="Purpose in the policy: triage, analytics_export, open_data...")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Output file (default: standard output).")
@click.option(
    "--policy", "policy_file", type=click.Path(dir_okay=False), help="Policy file (default: the configured one)."
)
@click.option("--format", "fmt", type=click.Choice(["auto", "csv", "jsonl"]), default="auto", show_default=True)
@click.option(
    "--check",
    "check_path",
    type=click.Path(dir_okay=False),
    help="Measure the re-identification risk of FILE (CSV or JSON lines) without changing it; exit 1 if it fails k.",
)
@click.option("--k", "k", type=click.IntRange(min=2), help="Release: group size to reach (default: the purpose's k).")
@click.option("--l", "l_div", type=click.IntRange(min=1), help="Release: distinct sensitive values per group.")
@click.option("--max-suppression", type=click.FloatRange(0, 1), help="Release: share of records that may be left out.")
@click.option("--report", "report_fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@quiet_option
@click.pass_context
def anonymize(
    ctx: click.Context,
    input_path: str | None,
    purpose: str | None,
    output: str | None,
    policy_file: str | None,
    fmt: str,
    check_path: str | None,
    k: int | None,
    l_div: int | None,
    max_suppression: float | None,
    report_fmt: str,
    quiet: bool,
) -> None:
    """Anonymise a CSV or JSON-lines INPUT (``-`` for standard input) for one purpose of the data policy.

    A purpose with a ``release`` (open_data) publishes the table by measured risk: identifying
    columns and free text removed, quasi-identifiers generalised to k-anonymity, a risk report
    written beside the output. ``--check FILE`` measures the risk of any table without changing it.
    """
    settings = settings_from(ctx)
    loaded = load_policy(policy_file or policy_path(settings), classifiers_dir=settings.classifiers_dir)
    if check_path is not None:
        _check(settings, loaded, Path(check_path), k, report_fmt)
        return
    if input_path is None or purpose is None:
        raise click.UsageError("give INPUT and --purpose, or --check FILE")
    if purpose not in loaded.policy.purposes:
        raise click.BadParameter(
            f"no purpose {purpose!r} in {loaded.path}; defined: {', '.join(loaded.policy.purposes)}",
            param_hint="--purpose",
        )
    protector = purpose_protector(loaded, purpose, runtime_from(ctx).keys)
    spec = loaded.policy.purposes[purpose].release
    # chained before any record is written: an export that cannot be audited does not happen
    audit_from(ctx).record(
        cli_actor(),
        "anonymize.release" if spec is not None else "anonymize",
        f"file:{input_path if input_path == '-' else Path(input_path).resolve()}",
        purpose=purpose,
        output=str(Path(output).resolve()) if output else "-",
    )
    if spec is not None:
        if input_path == "-":
            raise click.BadParameter("a release reads its input twice: give a file, not -", param_hint="INPUT")
        suppression = spec.max_suppression if max_suppression is None else max_suppression
        _release(settings, loaded, protector, Path(input_path), output, k or spec.k, l_div or spec.l, suppression)
        return
    with Meter("anonymize", None, "bytes", show=not quiet, forced=settings.progress) as meter:
        _stream(input_path, output, fmt, purpose, protector, meter)


def _stream(input_path: str, output: str | None, fmt: str, purpose: str, protector: Protector, meter: Meter) -> None:
    """Record by record through the purpose's protector, in constant memory."""
    try:
        raw: IO[bytes] = sys.stdin.buffer if input_path == "-" else open(input_path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise click.BadParameter(f"{input_path}: {exc.strerror}", param_hint="INPUT") from None
    head = raw.peek(4096)[:4096] if hasattr(raw, "peek") else b""
    fmt = _format_of(input_path, fmt, head) if input_path != "-" else (fmt if fmt != "auto" else "jsonl")
    meter.update(0, None if input_path == "-" else os.fstat(raw.fileno()).st_size)
    target = Path(output) if output else None
    tmp = target.with_name(target.name + ".partial") if target else None
    out: IO[str] = (
        tmp.open("w", encoding="utf-8", newline="")
        if tmp
        else io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=False)
    )
    try:
        if fmt == "csv":
            first = head.split(b"\n", 1)[0].decode("utf-8-sig", "replace")
            records, problems = _csv(_lines(raw, meter), out, protector, delimiter_of(first, input_path))
        else:
            records, problems = _jsonl(_lines(raw, meter), out, protector)
    finally:
        raw.close()
        out.flush()
        if tmp:
            out.close()
        else:
            out.detach()  # standard output stays open for whoever runs us
    if tmp and target:
        tmp.replace(target)  # a reader never sees a half-written output under the final name
    meter.close()
    protected = ", ".join(f"{e} {n:,}" for e, n in sorted(protector.counts.items())) or "none found"
    malformed = f", {problems:,} malformed records anonymised as text, not dropped" if problems else ""
    click.echo(
        f"anonymize: {records:,} records for {purpose} written to {output or 'standard output'}{malformed}; "
        f"values protected: {protected}; {meter.timing(records, 'records')}",
        err=True,
    )


def _table(path: Path, settings: Settings, loaded: LoadedPolicy) -> tuple[Table, list[ColumnPlan]]:
    try:
        table = Table.open(path)
        classifier = FieldClassifier(settings.classifiers_dir)
        names = loaded.field_entities()
        return table, plan_table(table, classifier, classifier.taxonomy, lambda c: loaded.entity_of(c, names))
    except SourceError as exc:
        raise click.BadParameter(str(exc), param_hint="INPUT") from None


def _release(
    settings: Settings,
    loaded: LoadedPolicy,
    protector: Protector,
    path: Path,
    output: str | None,
    k: int,
    l_div: int,
    max_suppression: float,
) -> None:
    """Publish ``path`` by measured risk; the report goes beside the output (or to standard error)."""
    table, plans = _table(path, settings, loaded)
    generalizer = load_generalizer(settings.classifiers_dir)
    target = Path(output) if output else None
    tmp = target.with_name(target.name + ".partial") if target else None
    out: IO[str] = (
        tmp.open("w", encoding="utf-8", newline="")
        if tmp
        else io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=False)
    )
    try:
        report = release_file(
            table,
            out,
            plans,
            generalizer,
            k=k,
            l=l_div,
            max_suppression=max_suppression,
            protect=protector.protect_value,
            output_name=str(target) if target else None,
        )
    finally:
        out.flush()
        if tmp:
            out.close()
        else:
            out.detach()
    if tmp and target:
        tmp.replace(target)
        target.with_name(target.name + ".risk.json").write_bytes(
            orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"
        )
        target.with_name(target.name + ".risk.txt").write_text(report.text(), encoding="utf-8")
    click.echo(report.text(), err=True, nl=False)
    if not report.satisfied:
        raise SystemExit(1)


def _check(settings: Settings, loaded: LoadedPolicy, path: Path, k: int | None, report_fmt: str) -> None:
    """Print the risk of a table as it is; exit 1 when it fails k or holds direct identifiers."""
    spec = loaded.policy.purposes.get("open_data")
    target = k or (spec.release.k if spec is not None and spec.release is not None else 5)
    table, plans = _table(path, settings, loaded)
    result = check_file(table, plans, load_generalizer(settings.classifiers_dir), k=target)
    if report_fmt == "json":
        click.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(check_text(result), nl=False)
    if not result["passes"]:
        raise SystemExit(1)
