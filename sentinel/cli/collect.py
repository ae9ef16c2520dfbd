"""``sentinel collect``: run collectors from a definition file, or quick forms without one.

    sentinel collect --config collectors/commune-edge.yaml
    sentinel collect file '/var/log/nginx/access.log*' [--once]
    sentinel collect syslog --listen udp://0.0.0.0:514 --listen tcp://0.0.0.0:514
    sentinel collect pcap FILE --once          (network collector)
    sentinel collect netflow --listen udp://0.0.0.0:2055

Events go through the disk queue into the configured store, or to a central
Sentinel with ``--to URL`` (token in the variable ``--token-env`` names). Progress and
status are logged every few seconds and written for ``GET /api/collect/status``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import signal
import threading
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import click

from sentinel.cli.common import runtime_from, settings_from
from sentinel.collect import (
    FILE_FORMATS,
    AddressPlan,
    FileOptions,
    FileSource,
    Listen,
    Source,
    SyslogOptions,
    SyslogSource,
    build_source,
    parse_offset,
    parse_size,
)
from sentinel.config import INGEST_TOKEN_ENV, Settings, read_secret
from sentinel.ingest import (
    CollectorFile,
    HttpOutput,
    HttpSink,
    MakeReady,
    RunOptions,
    RunStats,
    Sink,
    StoreSink,
    TransformWorkers,
    collector_dir,
    edge_stages,
    load_collector,
    run_sources,
    worker_count,
)
from sentinel.runtime import Runtime, settle_heap
from sentinel.timefmt import show_time


class _ZonedFormatter(logging.Formatter):
    """A collector's log lines carry their time in the display zone, with the zone, like every time shown."""

    def __init__(self, tz: tzinfo) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return show_time(datetime.fromtimestamp(record.created, UTC), self.tz)


def _setup_logging(ctx: click.Context) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_ZonedFormatter(settings_from(ctx).display_tz))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def _enricher(plan_path: str | None, runtime: Runtime) -> AddressPlan | None:
    """The address plan: the given file, else the configured one."""
    return AddressPlan.load(plan_path) if plan_path else runtime.address_plan


def _http_sink(url: str, token_env: str, *, timeout: float = 30.0, verify: bool | str = True) -> HttpSink:
    token = read_secret(token_env, f"sending to {url} needs the ingest token")
    return HttpSink(url, token or "", timeout=timeout, verify=verify)


def execute(
    runtime: Runtime,
    name: str,
    sources: list[Source],
    *,
    once: bool,
    sink: Sink,
    plan: AddressPlan | None = None,
    options: RunOptions | None = None,
) -> RunStats:
    """Run sources into ``sink`` until done (``once``) or until SIGINT/SIGTERM; print a summary line.

    Takes ownership of ``sink`` and the sources: all are closed when the run ends.
    """
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        logging.getLogger("sentinel.collect").info("stopping (signal %d); queued events stay on disk", signum)
        stop.set()

    stages = edge_stages(runtime, plan)  # enrichment and protection, before the disk queue
    settle_heap()  # the pipeline (rules, policy, classifier) is loaded: keep the collector from re-scanning it
    count = worker_count(runtime.settings)
    edge = MakeReady(stages, None, None)
    workers = TransformWorkers(runtime.settings, count, edge, plan) if count > 1 else None
    if workers is not None:
        workers.start(wait=True)  # forked now, before the sources' threads start, sharing the loaded stages
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stats = run_sources(
            sources,
            runtime.settings,
            once=once,
            sink=sink,
            name=name,
            enrich=workers.transform if workers is not None else edge.transform,
            options=options,
            stop=stop,
        )
    finally:
        if workers is not None:
            workers.close()
        sink.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for src in sources:
            close = getattr(src, "close", None)
            if close is not None:
                close()
    click.echo(
        f"{name}: read {stats.read}, stored {stats.stored}, duplicates {stats.duplicates}, "
        f"parse errors {stats.parse_errors}, dropped {stats.dropped}, dead-lettered {stats.dead_lettered}, "
        f"still queued {stats.queue_depth}" + (f", alerts {stats.alerts}" if stats.alerts else ""),
        err=True,
    )
    if stats.source_failures:
        raise click.ClickException("sources failed: " + "; ".join(stats.source_failures))
    return stats


def _quick_sink(runtime: Runtime, to: str | None, token_env: str, detect: bool) -> Sink:
    """Ship to a central Sentinel, or into the configured store (the runner enriches, the pipeline does not)."""
    return _http_sink(to, token_env) if to else StoreSink.configured(runtime, detect=detect, at_edge=True)


_common = [
    click.option("--name", help="collector name: its queue and offsets live in <data_dir>/collect/NAME"),
    click.option("--address-plan", type=click.Path(exists=True, dir_okay=False), help="CIDR -> province/commune"),
    click.option("--to", "to", metavar="URL", help="send to a central Sentinel instead of the configured store"),
    click.option("--token-env", default=INGEST_TOKEN_ENV, show_default=True, help="variable holding the token"),
    click.option("--no-detect", is_flag=True, help="store only; do not run the detection rules"),
]


def common_options(f):  # type: ignore[no-untyped-def]
    for option in reversed(_common):
        f = option(f)
    return f


# The network collector's commands live in its own module, loaded when used.
NETWORK_COMMANDS = {
    "pcap": "sentinel.cli.collect_net:pcap",
    "netflow": "sentinel.cli.collect_net:netflow",
    "live": "sentinel.cli.collect_net:live",
}


def _network_available(name: str) -> bool:
    module = NETWORK_COMMANDS[name].partition(":")[0]
    return importlib.util.find_spec(module) is not None


class CollectGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *(n for n in NETWORK_COMMANDS if _network_available(n))})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands or name not in NETWORK_COMMANDS or not _network_available(name):
            return self.commands.get(name)
        module, _, attr = NETWORK_COMMANDS[name].partition(":")
        return getattr(importlib.import_module(module), attr)


@click.group("collect", cls=CollectGroup, invoke_without_command=True)
@click.option(
    "--config",
    "definition",
    type=click.Path(exists=True, dir_okay=False),
    help="collector definition (collectors/*.yaml)",
)
@click.option("--once", is_flag=True, help="stop at the end of finite input (files, pcap)")
@click.pass_context
def collect(ctx: click.Context, definition: str | None, once: bool) -> None:
    """Collect logs, syslog and network data into Sentinel (durable queue, at-least-once)."""
    if ctx.invoked_subcommand is not None:
        return
    if not definition:
        raise click.UsageError("give --config collectors/NAME.yaml, or a quick form: file, syslog, pcap, netflow")
    _setup_logging(ctx)
    defn = load_collector(definition)
    run_definition(runtime_from(ctx), defn, once=once)


def run_definition(runtime: Runtime, defn: CollectorFile, *, once: bool) -> RunStats:
    """Run a validated collector definition (its own address plan, else the configured one)."""
    settings = runtime.settings
    state = collector_dir(settings, defn.name)
    sources = [build_source(s, state, once=once) for s in defn.sources]
    plan = _enricher(defn.enrichment.address_plan, runtime)
    out = defn.output
    if isinstance(out, HttpOutput):
        sink: Sink = _http_sink(out.url, out.token_env, timeout=out.timeout, verify=out.ca_certs or out.verify)
    else:
        sink = StoreSink.configured(runtime, detect=out.detect, at_edge=True)  # the runner enriches and protects
    options = RunOptions(
        ship_batch=defn.ship_batch,
        ship_linger=defn.ship_linger,
        full_wait=defn.queue.full_wait,
        retry_initial=defn.retry.initial,
        retry_max=defn.retry.max,
        status_interval=defn.status_interval,
        max_queue_events=defn.queue.max_events,
        max_queue_bytes=int(defn.queue.max_bytes),
        queue_sync=defn.queue.sync,
    )
    return execute(runtime, defn.name, sources, once=once, sink=sink, plan=plan, options=options)


@collect.command("file")
@click.argument("patterns", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(FILE_FORMATS), default="auto", show_default=True)
@click.option("--dataset", help="event.dataset (default from the format)")
@click.option("--multiline-start", metavar="REGEX", help="a line matching REGEX starts a new record")
@click.option("--multiline-json", is_flag=True, help="JSON documents may span lines")
@click.option("--start-at", type=click.Choice(["beginning", "end"]), default="beginning", show_default=True)
@click.option("--once", is_flag=True, help="stop at the end of the files instead of following them")
@common_options
@click.pass_context
def collect_file(
    ctx: click.Context,
    patterns: tuple[str, ...],
    fmt: str,
    dataset: str | None,
    multiline_start: str | None,
    multiline_json: bool,
    start_at: str,
    once: bool,
    name: str | None,
    address_plan: str | None,
    to: str | None,
    token_env: str,
    no_detect: bool,
) -> None:
    """Tail files and globs (quote globs so the shell leaves them to the collector)."""
    _setup_logging(ctx)
    settings = settings_from(ctx)
    once = once or bool(ctx.parent and ctx.parent.params.get("once"))
    name = name or "file"
    multiline = None
    if multiline_start and multiline_json:
        raise click.UsageError("use either --multiline-start or --multiline-json")
    if multiline_start:
        multiline = {"mode": "pattern", "start": multiline_start}
    elif multiline_json:
        multiline = {"mode": "json"}
    options = FileOptions(fmt=fmt, dataset=dataset, multiline=multiline, start_at=start_at)
    source = FileSource(name, [os.path.expanduser(p) for p in patterns], _offsets(settings, name), options)
    source.once = once
    sink = _quick_sink(runtime_from(ctx), to, token_env, not no_detect)
    execute(runtime_from(ctx), name, [source], once=once, sink=sink, plan=_enricher(address_plan, runtime_from(ctx)))


def _offsets(settings: Settings, name: str) -> Path:
    return collector_dir(settings, name) / f"{name}.offsets.json"


@collect.command("syslog")
@click.option("--listen", "listens", multiple=True, required=True, metavar="udp|tcp|tls://HOST:PORT")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False))
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False))
@click.option("--timezone", "tz", default="+07:00", show_default=True, help="for RFC 3164 timestamps")
@click.option("--max-message", default="64KiB", show_default=True)
@common_options
@click.pass_context
def collect_syslog(
    ctx: click.Context,
    listens: tuple[str, ...],
    tls_cert: str | None,
    tls_key: str | None,
    tz: str,
    max_message: str,
    name: str | None,
    address_plan: str | None,
    to: str | None,
    token_env: str,
    no_detect: bool,
) -> None:
    """Receive syslog (RFC 3164/5424, FortiGate, pfSense, iptables/nftables) over UDP, TCP or TLS."""
    _setup_logging(ctx)
    try:
        addrs = [Listen.parse(s) for s in listens]
        options = SyslogOptions(
            timezone=parse_offset(tz), tls_cert=tls_cert, tls_key=tls_key, max_message=parse_size(max_message)
        )
        source = SyslogSource(name or "syslog", addrs, options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    sink = _quick_sink(runtime_from(ctx), to, token_env, not no_detect)
    plan = _enricher(address_plan, runtime_from(ctx))
    execute(runtime_from(ctx), name or "syslog", [source], once=False, sink=sink, plan=plan)
