"""``sentinel es``: prepare an Elasticsearch cluster, export roles, inspect and replay the dead letter."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, ConfigDict, Field, RootModel

from sentinel.cli.common import runtime_from, settings_from
from sentinel.cli.progress import Meter, quiet_option
from sentinel.config import hint
from sentinel.content import load_model
from sentinel.store import StoreError
from sentinel.timefmt import show_time


def _es_store(ctx: click.Context) -> Any:
    from sentinel.store import ElasticsearchStore

    settings = settings_from(ctx)
    if not settings.uses_elasticsearch:
        offline = " (or use --print: it needs no cluster)" if "print_only" in ctx.params else ""
        raise click.UsageError(f"no Elasticsearch configured: set {hint('elasticsearch.url')} and credentials{offline}")
    store = ElasticsearchStore.from_settings(settings)
    ctx.call_on_close(store.close)
    return store


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


@click.group()
def es() -> None:
    """Elasticsearch backend: setup, roles, dead letter."""


def plan_options(f: Any) -> Any:
    """The options that shape what ``es setup`` installs (``es check`` compares against the same plan)."""
    options = [
        click.option(
            "--retention", default="180d", show_default=True, help="Delete event indices this long after rollover."
        ),
        click.option(
            "--warm-after", default="7d", show_default=True, help="Move indices to the warm phase after this."
        ),
        click.option(
            "--rollover-max-age", default="30d", show_default=True, help="Roll a stream over at least this often."
        ),
        click.option("--shards", default=1, show_default=True, help="Primary shards per backing index."),
        click.option("--replicas", default=1, show_default=True, help="Replicas per shard (0 on a single node)."),
        click.option(
            "--dataset", "datasets", multiple=True, help="Extra dataset to give its own template (repeatable)."
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _plan(
    retention: str, warm_after: str, rollover_max_age: str, shards: int, replicas: int, datasets: tuple[str, ...]
) -> dict[str, Any]:
    from sentinel.store import TemplateOptions, build_plan

    try:
        opts = TemplateOptions(
            retention=retention,
            warm_after=warm_after,
            rollover_max_age=rollover_max_age,
            shards=shards,
            replicas=replicas,
            extra_datasets=list(datasets),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return build_plan(opts)


@es.command()
@click.option("--print", "print_only", is_flag=True, help="Print what would be created, as JSON; needs no cluster.")
@plan_options
@click.pass_context
def setup(ctx: click.Context, print_only: bool, **plan_args: Any) -> None:
    """Create the ILM policy, component/index templates and alert indices (safe to run again)."""
    from sentinel.store import apply_plan

    plan = _plan(**plan_args)
    if print_only:
        _echo_json(plan)
        return
    store = _es_store(ctx)
    with store.errors():
        for kind, name, outcome in apply_plan(store.client, plan):
            click.echo(f"{kind:<20} {name:<45} {outcome}")


@es.command()
@plan_options
@click.option(
    "--policy", "policy_path", type=click.Path(dir_okay=False, exists=True), help="Data policy YAML for the roles."
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_context
def check(ctx: click.Context, policy_path: str | None, as_json: bool, **plan_args: Any) -> None:
    """Connect and report: version, licence features, templates and policies against `es setup`, roles.

    Exit status 0 when the cluster is ready, 1 when something is missing, differs or is refused.
    """
    from sentinel.store import check_cluster, service_roles

    plan = _plan(**plan_args)
    roles = {**_policy_roles(ctx, policy_path, None), **service_roles()}
    store = _es_store(ctx)
    info = store.connect()  # a client that does not fit the cluster stops here, saying what to install
    with store.errors():
        report = check_cluster(store.client, info, plan, roles)
    if as_json:
        _echo_json(report.as_dict())
    else:
        for f in report.findings:
            click.echo(f"{f.area:<20} {f.name:<45} {f.status:<8} {f.detail}".rstrip())
        click.echo("ready" if report.ok else "not ready: see the lines above that are not ok or warning")
    if not report.ok:
        sys.exit(1)


class RoleFields(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    grant: list[str] = Field(default_factory=list)
    except_: list[str] = Field(default_factory=list, alias="except")


class FieldAccessFile(RootModel[dict[str, RoleFields]]):
    """``{role: {grant: [...], except: [...]}}``: field access written by hand instead of from the policy."""


@es.command()
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, exists=True),
    help="Data policy YAML (default: classifiers/policy.yaml).",
)
@click.option(
    "--access",
    "access_path",
    type=click.Path(dir_okay=False, exists=True),
    help="A field-access YAML ({role: {grant: [...], except: [...]}}) instead of the policy.",
)
@click.option("--service/--no-service", default=True, show_default=True, help="Include sentinel_writer/_setup roles.")
@click.option("--apply", "apply_", is_flag=True, help="PUT the roles into the configured cluster.")
@click.pass_context
def roles(ctx: click.Context, policy_path: str | None, access_path: str | None, service: bool, apply_: bool) -> None:
    """Elasticsearch roles with field-level security, from the data policy (printed as JSON)."""
    from sentinel.store import apply_roles, service_roles

    bodies = _policy_roles(ctx, policy_path, access_path)
    if service:
        bodies.update(service_roles())
    if not apply_:
        _echo_json(bodies)
        return
    store = _es_store(ctx)
    with store.errors():
        for name in apply_roles(store.client, bodies):
            click.echo(f"role {name} applied")


def _policy_roles(ctx: click.Context, policy_path: str | None, access_path: str | None) -> dict[str, Any]:
    """The ``sentinel_<role>`` bodies from the data policy, or from a hand-written field-access file."""
    from sentinel.store import export_roles

    if policy_path and access_path:
        raise click.UsageError("give --policy or --access, not both")
    if access_path:
        parsed = load_model(access_path, FieldAccessFile).root
        access = {r: {"grant": f.grant, "except": f.except_} for r, f in parsed.items()}
        scopes: dict[str, str] = {}
    else:
        from sentinel.policy import field_access, load_policy

        settings = settings_from(ctx)
        path = Path(policy_path) if policy_path else settings.classifiers_dir / "policy.yaml"
        loaded = load_policy(path, classifiers_dir=settings.classifiers_dir)
        access = field_access(loaded)
        scopes = {name: role.scope for name, role in loaded.policy.access.roles.items()}
    return export_roles(access, scopes)


@es.group("dead-letter")
def dead_letter() -> None:
    """Events Elasticsearch refused, kept locally until replayed."""


@dead_letter.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, with the event.")
@click.pass_context
def dl_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Show dead-lettered events with why they were refused."""
    from sentinel.store import DeadLetter

    path = settings_from(ctx).dead_letter_path
    if not path.exists():
        click.echo(f"no dead letter at {path}: nothing was refused")
        return
    dl = DeadLetter(path)
    try:
        entries = dl.entries(limit=limit)
        if as_json:
            for e in entries:
                click.echo(json.dumps(e.__dict__, ensure_ascii=False))
            return
        click.echo(f"{dl.count()} event(s) in {path}")
        tz = settings_from(ctx).display_tz
        for e in entries:
            click.echo(
                f"{e.event_id}  {e.target}  status={e.status}  attempts={e.attempts}  "
                f"last={show_time(e.last_failed, tz)}\n"
                f"    {e.error_type}: {e.reason}"
            )
    finally:
        dl.close()


@dead_letter.command("replay")
@click.option("--limit", default=10_000, show_default=True, help="At most this many events per run.")
@click.option("--detect/--no-detect", default=True, show_default=True, help="Run detection on what gets stored.")
@quiet_option
@click.pass_context
def dl_replay(ctx: click.Context, limit: int, detect: bool, quiet: bool) -> None:
    """Send dead-lettered events again (after fixing the cause); stored ones leave the file."""
    store = _es_store(ctx)
    meter = Meter("dead-letter replay", None, "events", show=not quiet, forced=settings_from(ctx).progress)
    with meter:
        result = store.replay_dead_letter(limit=limit, progress=meter.update)
    alerts = 0
    if detect and result.stored:
        from sentinel.ingest import build_pipeline

        detector = build_pipeline(runtime_from(ctx), store).detector
        if detector is not None:
            for alert in [*detector.process(result.stored), *detector.flush()]:
                store.record_alert(alert)
                alerts += 1
    click.echo(
        f"read {meter.done:,}, stored {len(result.stored):,}, already present {result.duplicates:,}, "
        f"still failing {result.still_failing:,}, alerts {alerts:,}; {meter.timing(meter.done, 'events')}"
    )
    if result.still_failing:
        raise StoreError(f"{result.still_failing} event(s) still refused; see `sentinel es dead-letter list`")
