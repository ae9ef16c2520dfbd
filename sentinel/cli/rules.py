"""``sentinel rules test|lint|check|convert``: tooling for Sigma rule authors."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from sentinel.cli.common import settings_from
from sentinel.cli.progress import Meter, quiet_option
from sentinel.config import hint

FORMATS = ("table", "jsonl")


def _paths(ctx: click.Context, paths: tuple[str, ...]) -> list[Path]:
    """The folders or files given, or the configured rule pack."""
    return [Path(p) for p in paths] if paths else [settings_from(ctx).rules_dir]


def _jsonl(obj: dict) -> None:
    click.echo(orjson.dumps(obj).decode())


@click.group()
def rules() -> None:
    """Test, lint, check and convert Sigma rules."""


@rules.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--verbose", "-v", is_flag=True, help="List passing cases too.")
@click.option(
    "--only",
    metavar="TEXT",
    help="Test only rules whose file, title or id contains TEXT (the rest of the pack still resolves correlations).",
)
@click.pass_context
def test_cmd(ctx: click.Context, paths: tuple[str, ...], fmt: str, verbose: bool, only: str | None) -> None:
    """Run each rule's match / no_match test events through the streaming engine.

    PATHS are rule folders or files (default: the configured rules/ folder).
    Exits 1 if a case fails or a rule file does not load.
    """
    from sentinel.detect import load_pack, run_tests

    pack = load_pack(_paths(ctx, paths))
    chosen = pack.rules
    if only:
        needle = only.lower()
        chosen = [r for r in pack.rules if needle in f"{r.path} {r.title} {r.id}".lower()]
        if not chosen:
            raise click.UsageError(f"no rule's file, title or id contains {only!r}")
    results = run_tests(pack, chosen)
    failed = [r for r in results if not r.passed]
    for err in pack.errors:
        if fmt == "jsonl":
            _jsonl({"where": str(err), "passed": False, "detail": "load error"})
        else:
            click.echo(f"ERROR {err}")
    for r in results:
        if fmt == "jsonl":
            _jsonl(
                {
                    "where": r.where,
                    "rule.id": r.rule.id,
                    "rule.title": r.rule.title,
                    "case": f"{r.kind}[{r.index}]",
                    "passed": r.passed,
                    "detail": r.detail,
                }
            )
        elif verbose or not r.passed:
            mark = "ok  " if r.passed else "FAIL"
            click.echo(f"{mark} {r.where}  {r.rule.title}  {r.kind}[{r.index}]: {r.detail}")
    rules_tested = len({r.rule.id for r in results})
    click.echo(
        f"{rules_tested} rules, {len(results)} cases: {len(results) - len(failed)} passed, {len(failed)} failed"
        + (f", {len(pack.errors)} files not loaded" if pack.errors else ""),
        err=fmt == "jsonl",
    )
    if failed or pack.errors:
        sys.exit(1)


@rules.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.pass_context
def lint_cmd(ctx: click.Context, paths: tuple[str, ...], strict: bool) -> None:
    """Validate a rule pack: pySigma's validators (what `sigma check` runs, offline) plus Sentinel's checks.

    Sentinel's checks: required metadata, ATT&CK tags valid against the shipped
    ATT&CK data, unique ids and names, match and no_match tests present and
    passing, every rule evaluable by the streaming engine. Exits 1 on errors
    (and on warnings with --strict).
    """
    from sentinel.detect import lint, load_pack

    pack = load_pack(_paths(ctx, paths))
    issues = lint(pack)
    for issue in issues:
        click.echo(str(issue))
    errors = sum(1 for i in issues if i.severity == "error")
    warnings = len(issues) - errors
    click.echo(f"{len(pack.rules)} rules: {errors} errors, {warnings} warnings")
    if errors or (strict and warnings):
        sys.exit(1)


@rules.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--pipeline",
    type=click.Choice(["ecs", "none"]),
    default="ecs",
    show_default=True,
    help="Field mapping the rules are compiled with.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--problems-only", is_flag=True, help="List only the rules that cannot be evaluated.")
@quiet_option
@click.pass_context
def check_cmd(
    ctx: click.Context, paths: tuple[str, ...], pipeline: str, fmt: str, problems_only: bool, quiet: bool
) -> None:
    """Report, for every Sigma rule under PATHS (e.g. a SigmaHQ checkout), whether the engine can evaluate it.

    Rules that cannot be evaluated are listed with the reason; the command
    itself succeeds unless nothing at all could be loaded.
    """
    from sentinel.detect import Engine

    with Meter("rules check", None, "files", show=not quiet, forced=settings_from(ctx).progress) as meter:
        engine = Engine.from_paths(list(paths), pipeline=pipeline, progress=meter.update)
    rows: list[dict] = []
    if not problems_only:
        rows += [
            {"path": r.source_path, "rule.id": r.id, "rule.title": r.title, "evaluable": True, "reason": None}
            for r in engine.rules
        ]
        rows += [
            {"path": c.source_path, "rule.id": c.id, "rule.title": c.title, "evaluable": True, "reason": None}
            for c in engine.correlations.correlations
        ]
    rows += [
        {"path": p.path, "rule.id": p.rule_id, "rule.title": p.title, "evaluable": False, "reason": p.reason}
        for p in engine.problems
    ]
    rows.sort(key=lambda r: (r["path"] or "", r["rule.title"] or ""))
    for row in rows:
        if fmt == "jsonl":
            _jsonl(row)
        else:
            status = "ok" if row["evaluable"] else "NOT EVALUABLE"
            reason = f": {row['reason']}" if row["reason"] else ""
            click.echo(f"{status:13} {row['path'] or '-'}  {row['rule.title'] or row['rule.id']}{reason}")
    ok = len(engine.rules) + len(engine.correlations.correlations)
    total = ok + len(engine.problems)
    click.echo(
        f"{total} rules: {ok} evaluable, {len(engine.problems)} not evaluable; "
        f"{meter.done:,} files {meter.timing(meter.done, 'files')}",
        err=fmt == "jsonl",
    )
    if total == 0:
        click.echo("error: no Sigma rules found under the given paths", err=True)
        sys.exit(1)


@rules.command("convert")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--target",
    type=click.Choice(["lucene", "esql", "eql", "kibana-ndjson"]),
    required=True,
    help="esql also converts correlation rules; it is what the scheduler runs.",
)
@click.option("--index", default=None, help="Index pattern the queries search (default: logs-sentinel.*).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write queries to this file.")
@click.pass_context
def convert_cmd(ctx: click.Context, paths: tuple[str, ...], target: str, index: str | None, output: str | None) -> None:
    """Convert rules to Elasticsearch queries with pySigma's Elasticsearch backend and Sentinel's ECS mapping.

    Rules that cannot be converted to the target are listed on standard error
    with the reason (e.g. correlations need esql). Exits 1 if none converted.
    """
    from sentinel.detect import DEFAULT_INDEX, convert_rules, converted_lines, install_offline, load_pack

    install_offline()
    pack = load_pack(_paths(ctx, paths))
    for err in pack.errors:
        click.echo(f"error: {err}", err=True)
    results = convert_rules([r.rule for r in pack.rules], target, index or DEFAULT_INDEX)
    failed = [r for r in results if r.error]
    for r in failed:
        where = r.rule.source.path if r.rule.source else r.rule_id
        click.echo(f"not converted: {where}: {r.rule.title}: {r.error}", err=True)
    text = "\n".join(converted_lines(results)) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    done = len(results) - len(failed)
    click.echo(f"{done} of {len(results)} rules converted to {target}", err=True)
    if done == 0:
        sys.exit(1)


@rules.command("schedule")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--once", is_flag=True, help="Run one pass over the windows due now, then exit.")
@click.option("--interval", default=60.0, show_default=True, help="Seconds between passes.")
@click.option("--settle", default=60.0, show_default=True, help="Seconds an event needs to become searchable.")
@click.option("--lookback", default=3600.0, show_default=True, help="Seconds the first pass looks back.")
@click.option("--index", default=None, help="Index pattern to search (default: logs-sentinel.*).")
@click.pass_context
def schedule_cmd(
    ctx: click.Context,
    paths: tuple[str, ...],
    once: bool,
    interval: float,
    settle: float,
    lookback: float,
    index: str | None,
) -> None:
    """Run the rules as ES|QL against the configured Elasticsearch and record the alerts in the store.

    Needs Elasticsearch configured (elasticsearch.url and credentials): the events must be in it.
    """
    import threading

    from sentinel.cli.common import store_from
    from sentinel.detect import DEFAULT_INDEX, Scheduler

    settings = settings_from(ctx)
    if not settings.uses_elasticsearch:
        raise click.UsageError(f"the scheduler runs rules inside Elasticsearch: set {hint('elasticsearch.url')} first")
    store = store_from(ctx)
    scheduler, skipped = Scheduler.from_paths(
        store.client,  # type: ignore[attr-defined]
        store,
        _paths(ctx, paths),
        index=index or DEFAULT_INDEX,
        interval=interval,
        settle=settle,
        lookback=lookback,
    )
    for reason in skipped:
        click.echo(f"not scheduled: {reason}", err=True)
    click.echo(f"scheduling {len(scheduler.rules)} rules every {interval:g}s", err=True)
    if once:
        alerts = scheduler.run_once()
        for rid, err in scheduler.errors.items():
            click.echo(f"rule {rid} failed: {err}", err=True)
        click.echo(f"{len(alerts)} alerts recorded")
        return
    stop = threading.Event()
    try:
        scheduler.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
