"""``sentinel demo``: a day of portal traffic through the whole pipeline, then the console."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import click

from sentinel.cli.common import settings_from, store_from, typed_command
from sentinel.config import Settings, env_name
from sentinel.demo import VN_TZ, generate
from sentinel.ingest import build_pipeline, ingest_streams
from sentinel.runtime import Runtime, settle_heap
from sentinel.store import AlertQuery, EventQuery, Store


@click.command()
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed and day, same traffic.")
@click.option(
    "--sessions",
    type=click.IntRange(10, 1_000_000),
    default=3000,
    show_default=True,
    help="Citizen sessions to generate (about 9 access-log lines each).",
)
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day to generate (default: yesterday, so the console's recent views show it).",
)
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve the API and console afterwards.")
@click.option("--host", help="Address to serve on (default from configuration: 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to serve on (default from configuration: 8080).")
@click.pass_context
def demo(
    ctx: click.Context, seed: int, sessions: int, day: datetime | None, serve: bool, host: str | None, port: int | None
) -> None:
    """Generate a realistic day of National Public Service Portal traffic, with attacks and
    citizens' personal data, run it through collection, detection and classification, and show
    what was found."""
    settings = settings_from(ctx)
    store = store_from(ctx)
    folder = settings.data_dir / "demo" / f"seed-{seed}"
    click.echo(f"Generating a day of portal traffic (seed {seed}, {sessions:,} citizen sessions) ...")
    when = (day or datetime.now(VN_TZ) - timedelta(days=1)).replace(tzinfo=VN_TZ)
    click.echo(f"  day {when:%Y-%m-%d} (Vietnam time)")
    traffic = generate(seed, day=when, sessions=sessions)
    paths = traffic.write(folder / f"{when:%Y-%m-%d}")
    click.echo(f"  {len(traffic.access_lines):,} access-log lines -> {paths['access']}")
    click.echo(f"  {len(traffic.app_lines):,} application-log lines -> {paths['app']}")

    click.echo("Ingesting through parse -> normalise -> store -> Sigma detection ...")
    # the generated day comes with its own address plan: the demo's runtime uses it
    runtime = Runtime(settings.model_copy(update={"address_plan": paths["address_plan"]}))
    pipeline = build_pipeline(runtime, store)
    settle_heap()
    with paths["access"].open("rb") as access, paths["app"].open("rb") as app:
        streams = [(str(paths["access"].resolve()), access), (str(paths["app"].resolve()), app)]
        counts = ingest_streams(pipeline, streams, batch_size=settings.batch_size)
    counts.add(pipeline.finish())
    click.echo("  " + ", ".join(f"{k} {v:,}" for k, v in counts.as_dict().items()))

    _show_alerts(store, traffic.attacks)
    total = store.count_events(EventQuery())
    errors = store.count_events(EventQuery(filters={"event.kind": ["pipeline_error"]}))
    click.echo(f"\nStore ({store.backend}, {settings.data_dir}): {total:,} events, {errors:,} kept as parse errors.")
    _show_classification(settings, paths["app"])

    host = host or settings.api.host
    port = port or settings.api.port
    click.echo("\nWhere to look:")
    click.echo(f"  console         http://{host}:{port}/console/")
    click.echo(f"  alerts (JSON)   http://{host}:{port}/api/alerts")
    click.echo(f"  events (JSON)   http://{host}:{port}/api/events?q=source.ip:{traffic.attacks['sql_injection'][0]}")
    click.echo(f"  API docs        http://{host}:{port}/docs")
    ip = traffic.attacks["sql_injection"][0]
    click.echo(f"  search          http://{host}:{port}/console/search?q=source.ip:{ip}&span=30d")
    click.echo(f"  one address     http://{host}:{port}/console/entities/ip/{ip}")
    # the demo's data directory and the command as this shell can run it: copied as printed, it works
    sentinel = f"{env_name('data_dir')}={settings.data_dir} {typed_command()}"
    next_step = f"{sentinel} search 'source.ip:{ip}'"
    if serve:
        click.echo(f"\nWhen you stop the console (Ctrl-C), search from the shell:\n  {next_step}\n")
        try:
            ctx.invoke(_serve_command(), host=host, port=port, demo=True)
        finally:
            click.echo(f"\nNext, search the demo's events from the shell:\n  {next_step}")
    else:
        click.echo(
            "\nThe console is not running (--no-serve). Start it with:\n"
            f"  {sentinel} serve --demo --host {host} --port {port}\n"
            f"then open http://{host}:{port}/console/. Or search from the shell:\n  {next_step}"
        )


def _show_alerts(store: Store, attacks: dict[str, list[str]]) -> None:
    alerts = store.list_alerts(AlertQuery(limit=1000))
    click.echo(f"\nAlerts: {len(alerts)} (grouped by rule and entity; count = matching events)")
    by_rule: Counter[tuple[str, str]] = Counter()
    sources: dict[tuple[str, str], set[str]] = {}
    for a in alerts:
        key = (a.severity, a.rule.title)
        by_rule[key] += a.count
        sources.setdefault(key, set()).add(a.group_key)
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}
    for (severity, title), count in sorted(by_rule.items(), key=lambda kv: (order[kv[0][0]], -kv[1])):
        ents = sorted(sources[(severity, title)])
        shown = ", ".join(ents[:3]) + (f" (+{len(ents) - 3})" if len(ents) > 3 else "")
        click.echo(f"  [{severity:<8}] {title:<60} x{count:<5} {shown}")
    # an alert names a source in its group or in its evidence (per-account rules group by user)
    named = {a.group_key for a in alerts} | {str(e.get("source", {}).get("ip")) for a in alerts for e in a.events}
    detected = {n.removeprefix("source.ip=") for n in named}
    click.echo("\nInjected attacks and whether an alert names their source:")
    for family, ips in attacks.items():
        hit = sum(1 for ip in ips if ip in detected)
        click.echo(f"  {family:<22} {hit}/{len(ips)} sources alerted")


def _show_classification(settings: Settings, app_log: Path) -> None:
    """Classify the fields of the raw application log (the dossier forms carry citizens' data) for DPO review."""
    from sentinel.classify import load_taxonomy, open_classification_store, scan_dataset

    click.echo(f"\nClassifying the fields of {app_log.name} (the raw log, before protection) ...")
    results = scan_dataset(str(app_log), classifiers_dir=settings.classifiers_dir)
    cstore = open_classification_store(settings.classify_db_path, load_taxonomy(settings.classifiers_dir))
    try:
        for result in results:
            cstore.save_scan(result)
    finally:
        cstore.close()
    for result in results:
        click.echo(f"  dataset {result.dataset}: {len(result.fields)} fields, {result.sampled} rows sampled")
        for f in sorted(result.fields, key=lambda f: (-f.sensitivity, f.field)):
            if f.category == "none":
                continue
            ents = ", ".join(e.type for e in f.entities)
            click.echo(f"    {f.field:<26} {f.category:<9} {f.sensitivity_name:<12} {ents:<28} {f.example or ''}")


def _serve_command() -> click.Command:
    from sentinel.cli.serve import serve

    return serve
