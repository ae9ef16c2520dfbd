"""``sentinel detect INPUT...``: run Sigma rules over raw log files and print the alerts.

Nothing is stored: this is the rule author's and the analyst's quick loop (and
the contract for differential tests against other Sigma implementations).
With ``--pipeline ecs`` each line goes through the ingest parsers (access logs,
JSON application logs, ECS lines, syslog with auth and firewall content, bare
firewall lines; ``--input-format``) and rules are routed by log source, exactly
as in ``sentinel ingest``. With ``--pipeline none`` a JSON line is evaluated
with its field names exactly as written and every rule applies to every event.
"""

from __future__ import annotations

import contextlib
import gzip
import heapq
import sys
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path
from typing import Any, BinaryIO

import click
import orjson

from sentinel import ecs
from sentinel.cli.common import format_options, portal_profile_option, settings_from, timezone_option
from sentinel.models import Alert
from sentinel.timefmt import show_time

BATCH = 2000


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(exists=True),
    help="Rule folder or file (repeatable; default: the configured rules/ folder).",
)
@click.option(
    "--pipeline",
    type=click.Choice(["ecs", "none"]),
    default="ecs",
    show_default=True,
    help="ecs: parse lines to ECS, map rule fields, route by log source. none: JSON fields as-is, every rule applies.",
)
@click.option("--format", "out", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True)
@format_options("--input-format")
@click.option("--lateness", default=60.0, show_default=True, help="Seconds correlation windows wait for late events.")
@click.pass_context
def detect(
    ctx: click.Context,
    inputs: tuple[str, ...],
    rule_paths: tuple[str, ...],
    pipeline: str,
    out: str,
    fmt: str,
    tz_name: str | None,
    year: int | None,
    profile_path: str | None,
    lateness: float,
) -> None:
    """Evaluate Sigma rules over log INPUT files (or - for standard input) and print one alert per line.

    Each JSON alert carries rule.id, rule.title, rule.level, rule.tags,
    @timestamp and the matched events in full. Lines that cannot be parsed are
    reported on standard error with their file and line number.
    """
    from sentinel.detect import Engine

    paths = list(rule_paths) or [str(settings_from(ctx).rules_dir)]
    try:
        engine = Engine.from_paths(paths, pipeline=pipeline, lateness_seconds=lateness)
    except FileNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="--rules") from None
    if engine.problems:
        click.echo(
            f"warning: {len(engine.problems)} rules cannot be evaluated (see `sentinel rules check`): "
            + "; ".join(str(p) for p in engine.problems[:3]),
            err=True,
        )
    if not engine.rules:
        raise click.UsageError(f"no evaluable rules under {', '.join(paths)}")
    counts = {"events": 0, "errors": 0, "alerts": 0}
    table = out == "table"
    reading = {
        "fmt": fmt,
        "tz": timezone_option(tz_name, settings_from(ctx)),
        "year": year,
        "profile": portal_profile_option(profile_path),
    }
    tz = settings_from(ctx).display_tz if table else None
    if table:
        click.echo(f"{'@timestamp':26} {'level':13} {'count':>5}  {'entity':28} rule")
    batch: list[dict[str, Any]] = []
    for event in _events(inputs, pipeline, counts, reading):
        batch.append(event)
        if len(batch) >= BATCH:
            _emit(engine.process(batch), tz, counts)
            batch = []
    if batch:
        _emit(engine.process(batch), tz, counts)
    _emit(engine.flush(), tz, counts)
    click.echo(
        f"{counts['events']:,} events, {counts['errors']:,} unparsable lines, {counts['alerts']:,} alerts",
        err=True,
    )
    late = engine.correlations.stats.get("late", 0)
    if late:
        click.echo(
            f"warning: {late:,} rule matches came more than {lateness:g}s behind the newest event and were not counted "
            "by correlation rules; raise --lateness or sort the input by time",
            err=True,
        )


def _emit(alerts: list[Alert], table_tz: tzinfo | None, counts: dict[str, int]) -> None:
    """Alerts as table rows (times in ``table_tz``, the display zone) or, without one, as JSON lines."""
    counts["alerts"] += len(alerts)
    for alert in alerts:
        if table_tz is not None:
            entity = ",".join(f"{v}" for v in alert.entity.values()) or "-"
            when = show_time(alert.timestamp, table_tz)
            click.echo(f"{when:26} {alert.rule.level:13} {alert.count:>5}  {entity[:28]:28} {alert.rule.title}")
        else:
            sys.stdout.buffer.write(orjson.dumps(alert.to_doc(), option=orjson.OPT_APPEND_NEWLINE))
    if table_tz is None:
        sys.stdout.buffer.flush()


def _events(
    inputs: tuple[str, ...], pipeline: str, counts: dict[str, int], reading: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Events of all inputs merged by event time.

    Correlation windows follow event time with a bounded lateness, so reading
    one whole file after another would make the second file's events "late"
    and uncounted; each file is read lazily and the streams are merged (each
    file is assumed roughly in time order, as logs are). An event without a
    readable ``@timestamp`` keeps its place after the previous event of its file.
    """
    streams = [_file_events(name, i, pipeline, counts, reading) for i, name in enumerate(inputs)]
    for _key, event in heapq.merge(*streams, key=lambda item: item[0]):
        yield event


def _file_events(
    name: str, index: int, pipeline: str, counts: dict[str, int], reading: dict[str, Any]
) -> Iterator[tuple[tuple[float, int, int, int], dict[str, Any]]]:
    from sentinel.collect import LineReader, stream_anchor
    from sentinel.ingest import iter_lines

    last = float("-inf")
    with _open(name) as (source, f):
        reader = LineReader(
            reading["fmt"], tz=reading["tz"], anchor=stream_anchor(f), year=reading["year"], profile=reading["profile"]
        )
        for number, (offset, line) in enumerate(iter_lines(f), start=1):
            if not line.strip():
                continue
            if pipeline == "none" and line.lstrip()[:1] in (b"{", b"["):
                raw = _raw_json(line, name, number, counts)
                events = [raw] if raw is not None else []
            else:
                events = []
                for event in reader.parse(line, source=source, position=offset):
                    if event.get("event", {}).get("kind") == "pipeline_error":
                        _report(name, number, event.get("error", {}).get("message", "unparsable line"), counts)
                    else:
                        events.append(event)
            for k, event in enumerate(events):
                counts["events"] += 1
                last = _time_of(event, last)
                yield (last, index, number, k), event


def _time_of(event: dict[str, Any], previous: float) -> float:
    value = event.get("@timestamp")
    if value is None:
        return previous
    try:
        return ecs.parse_ts(value).timestamp()
    except (ValueError, OverflowError, OSError):
        return previous


def _raw_json(line: bytes, name: str, number: int, counts: dict[str, int]) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        _report(name, number, f"invalid JSON: {exc}", counts)
        return None
    if not isinstance(obj, dict):
        _report(name, number, f"expected a JSON object, got {type(obj).__name__}", counts)
        return None
    return obj


def _report(name: str, number: int, reason: str, counts: dict[str, int]) -> None:
    counts["errors"] += 1
    click.echo(f"{name}:{number}: skipped: {reason}", err=True)


@contextlib.contextmanager
def _open(name: str) -> Iterator[tuple[str, BinaryIO]]:
    """``(source identity, binary stream)`` for a path, a ``.gz`` file or ``-`` (standard input)."""
    if name == "-":
        yield "stdin", sys.stdin.buffer
        return
    path = Path(name)
    try:
        f: BinaryIO = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # type: ignore[assignment]  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise click.BadParameter(f"{name}: no such file", param_hint="INPUT") from None
    except IsADirectoryError:
        raise click.BadParameter(f"{name}: is a folder; pass files, e.g. {name}/*.log", param_hint="INPUT") from None
    except PermissionError:
        raise click.BadParameter(f"{name}: permission denied", param_hint="INPUT") from None
    with f:
        yield str(path.resolve()), f
