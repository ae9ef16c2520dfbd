"""``sentinel playbooks``, ``sentinel escalate`` and ``sentinel respond``: the response stage from a shell.

The CLI acts with the store and ``respond.db`` directly, as the operator of the
installation; ``--actor`` names who is acting in the audit trail.
"""

from __future__ import annotations

import getpass
import json
import threading
from datetime import UTC, datetime, timedelta

import click

from sentinel.cli.common import existing_data_dir, runtime_from, settings_from, store_from
from sentinel.errors import Invalid, NotFound
from sentinel.respond import PlaybookLibrary, ResponseService, Run, load_respond_config, parse_suppression, shift_report
from sentinel.timefmt import show_time, zone_label


def _actor(value: str | None) -> str:
    return value or f"cli:{getpass.getuser()}"


def _stage(ctx: click.Context) -> ResponseService:
    obj = ctx.find_root().obj
    if "response" not in obj:
        runtime = runtime_from(ctx)
        obj["response"] = ResponseService.build(runtime.settings, store_from(ctx), address_plan=runtime.address_plan)
        ctx.find_root().call_on_close(obj["response"].close)
    return obj["response"]


def _echo_run(run: Run) -> None:
    mode = "dry run" if run.dry_run else "LIVE"
    click.echo(
        f"run {run.id} ({mode}) of {run.playbook_id} on alert {run.alert_id}: {run.status}, version {run.version}"
    )
    for n, step in enumerate(run.steps, 1):
        who = f" by {step.approver}" if step.approver else ""
        click.echo(f"  {n:2d}. {step.step_id:<32} {step.action or step.type:<16} {step.status}{who}")
        if step.error:
            click.echo(f"      error: {step.error}")
        if step.action == "block_address" and step.outputs.get("argv"):
            click.echo(f"      command: {' '.join(step.outputs['argv'])}")
    if run.pending_step:
        click.echo(
            f"waiting on {run.pending_step}: sentinel playbooks decide {run.id} --version {run.version} --approve"
        )


@click.group()
def playbooks() -> None:
    """Response playbooks (CACAO-style YAML in playbooks/)."""


@playbooks.command("validate")
@click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False))
@click.pass_context
def validate(ctx: click.Context, folder: str | None) -> None:
    """Check every playbook: structure, steps, actions, variables, translations (errors as file:line: reason).

    Exits 1 when a playbook has no translation table for one of the console's languages.
    """
    where = folder or settings_from(ctx).playbooks_dir
    lib = PlaybookLibrary.load(where)
    missing = lib.untranslated()
    for line in missing:
        click.echo(line, err=True)
    if missing:
        ctx.exit(1)
    click.echo(f"{len(lib)} playbooks valid in {where}")


@playbooks.command("list")
@click.pass_context
def list_playbooks(ctx: click.Context) -> None:
    """Playbooks with what triggers them."""
    for pb in PlaybookLibrary.load(settings_from(ctx).playbooks_dir).by_id.values():
        t = pb.x_sentinel_triggers
        triggers = ", ".join([*t.rule_ids, *t.tags])
        click.echo(f"{pb.id:<32} {len(pb.workflow):>3} steps  {pb.name}\n{'':<32}      triggers: {triggers}")


@playbooks.command("run")
@click.argument("playbook_id")
@click.argument("alert_id")
@click.option("--live", is_flag=True, help="really act (block, disable, send); the default is a dry run")
@click.option("--actor", help="who starts the run (default cli:<login>)")
@click.pass_context
def run_playbook(ctx: click.Context, playbook_id: str, alert_id: str, live: bool, actor: str | None) -> None:
    """Start PLAYBOOK_ID on ALERT_ID; it stops at the first step needing approval."""
    run = _stage(ctx).runner.start(playbook_id, alert_id, _actor(actor), dry_run=not live)
    _echo_run(run)


@playbooks.command("decide")
@click.argument("run_id")
@click.option("--version", "version", type=int, required=True, help="the run version you looked at")
@click.option("--approve/--reject", required=True)
@click.option("--comment", default="")
@click.option("--actor", help="who decides (default cli:<login>)")
@click.pass_context
def decide(ctx: click.Context, run_id: str, version: int, approve: bool, comment: str, actor: str | None) -> None:
    """Approve (and execute) or reject the step RUN_ID waits on."""
    run = _stage(ctx).runner.decide(run_id, version, _actor(actor), approve, comment)
    _echo_run(run)


@playbooks.command("show-run")
@click.argument("run_id")
@click.pass_context
def show_run(ctx: click.Context, run_id: str) -> None:
    existing_data_dir(ctx)
    run = _stage(ctx).runner.get(run_id)
    if run is None:
        raise NotFound(f"no playbook run with id {run_id}")
    _echo_run(run)


@click.command()
@click.option("--once", is_flag=True, help="one pass, then exit (for cron or a systemd timer)")
@click.option("--interval", type=click.FloatRange(1, 3600), default=30.0, show_default=True, help="seconds")
@click.pass_context
def escalate(ctx: click.Context, once: bool, interval: float) -> None:
    """Notify new alerts and escalate unacknowledged ones (routes and deadlines from respond.yml)."""
    stage = _stage(ctx)
    if once:
        stage.housekeeping()
        sent = stage.escalator.tick()
        failed = sum(1 for s in sent if not s.ok)
        click.echo(f"{len(sent)} notifications ({failed} failed)")
        for s in sent:
            click.echo(f"  {s.alert_id} level {s.level} via {s.channel}: {'ok' if s.ok else 'FAILED'} {s.detail}")
        return
    stop = threading.Event()
    click.echo(f"escalating every {interval:.0f}s; Ctrl-C to stop")
    try:
        stage.run(stop, interval)
    except KeyboardInterrupt:
        stop.set()


@click.group()
def respond() -> None:
    """Response settings, suppressions and shift reports."""


@respond.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate respond.yml (the respond_config setting, else <data_dir>/respond.yml)."""
    cfg = load_respond_config(settings_from(ctx))
    click.echo(
        f"{len(cfg.channels)} channels, {len(cfg.routes)} routes, {len(cfg.escalation.chain)} escalation levels; "
        f"firewall {cfg.firewall.backend}, execute={'on' if cfg.firewall.execute else 'off'}"
    )


@respond.command("report")
@click.option("--days", type=click.IntRange(1, 90), default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def report(ctx: click.Context, days: int, as_json: bool) -> None:
    """Time to acknowledge and time to close per shift."""
    existing_data_dir(ctx)
    stage = _stage(ctx)
    rows = shift_report(store_from(ctx), stage.config, datetime.now(UTC) - timedelta(days=days))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"days and shifts in {zone_label(stage.config.tz)}")
    click.echo(
        f"{'day':<11} {'shift':<8} {'alerts':>6} {'acked':>6} {'closed':>6} {'late':>5} "
        f"{'TTA p50':>8} {'TTA p90':>8} {'TTC p50':>8}"
    )
    for r in rows:
        cells = [_dur(r["tta_median_s"]), _dur(r["tta_p90_s"]), _dur(r["ttc_median_s"])]
        click.echo(
            f"{r['day']:<11} {r['shift']:<8} {r['alerts']:>6} {r['acknowledged']:>6} {r['closed']:>6} "
            f"{r['late_ack']:>5} {cells[0]:>8} {cells[1]:>8} {cells[2]:>8}"
        )


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f}m" if seconds < 3600 else f"{seconds / 3600:.1f}h"


@respond.command("suppress")
@click.option("--rule", "rule_id", help="rule id (omit for every rule)")
@click.option("--match", "matches", multiple=True, metavar="FIELD=VALUE[,VALUE]", help="repeatable")
@click.option("--window", is_flag=True, help="a maintenance window rather than an exception")
@click.option("--hours", type=click.IntRange(1, 24 * 366), required=True)
@click.option("--reason", required=True)
@click.option("--actor")
@click.pass_context
def suppress(
    ctx: click.Context,
    rule_id: str | None,
    matches: tuple[str, ...],
    window: bool,
    hours: int,
    reason: str,
    actor: str | None,
) -> None:
    """Create a suppression (audited; expires after --hours)."""
    match: dict[str, list[str]] = {}
    for m in matches:
        field, sep, values = m.partition("=")
        if not sep or not values:
            raise click.BadParameter(f"{m!r}: write FIELD=VALUE (comma-separated values)", param_hint="--match")
        match.setdefault(field.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    try:
        spec = parse_suppression(
            {
                "kind": "window" if window else "exception",
                "rule_id": rule_id,
                "match": match,
                "reason": reason,
                "expires": datetime.now(UTC) + timedelta(hours=hours),
            }
        )
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    item = _stage(ctx).suppressions.create(spec, _actor(actor))
    click.echo(f"suppression {item.id} until {show_time(item.expires, settings_from(ctx).display_tz)}")


@respond.command("suppressions")
@click.option("--all", "include_expired", is_flag=True, help="include expired and ended ones")
@click.pass_context
def suppressions(ctx: click.Context, include_expired: bool) -> None:
    existing_data_dir(ctx)
    tz = settings_from(ctx).display_tz
    for s in _stage(ctx).suppressions.list(include_expired=include_expired):
        match = "; ".join(f"{k}={','.join(v)}" for k, v in s.match.items()) or "-"
        click.echo(
            f"{s.id} {s.kind:<9} rule={s.rule_id or '*'} {match} until {show_time(s.expires, tz)} hits={s.hits} "
            f"by {s.created_by}: {s.reason}"
        )
