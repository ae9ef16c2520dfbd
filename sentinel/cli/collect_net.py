"""Network collector commands, mounted under ``sentinel collect``:

    sentinel collect pcap capture.pcapng [more.pcap ...] --once [--engine fast|scapy]
    sentinel collect netflow --listen udp://0.0.0.0:2055 [--listen udp://[::]:4739]
    sentinel collect live --iface eth0 --filter 'tcp port 443 or udp port 53'

Events (flows, DNS, HTTP request lines, TLS ClientHello) go through the
collector runner's disk queue into the configured store, like every other
collector. With an address plan the plan decides ``network.direction``;
without one it follows address scope (private -> public is outbound).
"""

from __future__ import annotations

import logging
import time

import click

from sentinel.cli.collect import _enricher, _quick_sink, _setup_logging, common_options, execute
from sentinel.cli.common import runtime_from, settings_from
from sentinel.collect import LiveSource, NetflowSource, PcapSource
from sentinel.errors import Unavailable

log = logging.getLogger("sentinel.collect.net")

_flow_options = [
    click.option("--idle-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True, help="seconds"),
    click.option("--active-timeout", type=click.FloatRange(min=1), default=300.0, show_default=True, help="seconds"),
    click.option("--max-flows", type=click.IntRange(min=1), default=100_000, show_default=True, help="flow table size"),
]


def flow_options(f):  # type: ignore[no-untyped-def]
    for option in reversed(_flow_options):
        f = option(f)
    return f


def _report_progress(src: PcapSource) -> None:
    elapsed = max(time.monotonic() - (src.started or time.monotonic()), 1e-9)
    share = src.bytes_read / src.size if src.size else 1.0
    log.info(
        "%s: %.0f%% (%.1f of %.1f MB), %d packets, %.0f packets/s%s",
        src.path,
        100 * share,
        src.bytes_read / 1e6,
        src.size / 1e6,
        src.counters.packets,
        src.counters.packets / elapsed,
        ", done" if src.done else "",
    )


@click.command("pcap")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--engine", type=click.Choice(["fast", "scapy"]), default="fast", show_default=True,
              help="fast struct decoding, or scapy's full dissection (~100x slower, more link types)")  # fmt: skip
@click.option("--once", is_flag=True, help="stop when the files have been read")
@flow_options
@common_options
@click.pass_context
def pcap(
    ctx: click.Context,
    files: tuple[str, ...],
    engine: str,
    once: bool,
    idle_timeout: float,
    active_timeout: float,
    max_flows: int,
    name: str | None,
    address_plan: str | None,
    to: str | None,
    token_env: str,
    no_detect: bool,
) -> None:
    """Read pcap/pcapng captures into flow, DNS, HTTP and TLS events (reading a file again stores nothing new)."""
    _setup_logging(ctx)
    settings = settings_from(ctx)
    once = once or bool(ctx.parent and ctx.parent.params.get("once"))
    plan = _enricher(address_plan, runtime_from(ctx))
    try:
        sources = [
            PcapSource(
                path,
                engine=engine,
                batch_size=settings.batch_size,
                idle_timeout=idle_timeout,
                active_timeout=max(active_timeout, idle_timeout),
                max_flows=max_flows,
                set_direction=plan is None,
                progress=_report_progress,
            )
            for path in files
        ]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    sink = _quick_sink(runtime_from(ctx), to, token_env, not no_detect)
    execute(runtime_from(ctx), name or "pcap", sources, once=once, sink=sink, plan=plan)
    failed = [f"{src.path}: {err}" for src in sources for err in src.errors]
    if failed:
        raise click.ClickException("some captures were not read to the end: " + "; ".join(failed))


@click.command("netflow")
@click.option("--listen", "listens", multiple=True, default=["udp://0.0.0.0:2055"], show_default=True,
              metavar="udp://HOST:PORT", help="repeat for several ports (2055 NetFlow, 4739 IPFIX)")  # fmt: skip
@common_options
@click.pass_context
def netflow(
    ctx: click.Context,
    listens: tuple[str, ...],
    name: str | None,
    address_plan: str | None,
    to: str | None,
    token_env: str,
    no_detect: bool,
) -> None:
    """Receive NetFlow v5/v9 and IPFIX exports over UDP; observer.ip is the exporter."""
    _setup_logging(ctx)
    settings = settings_from(ctx)
    plan = _enricher(address_plan, runtime_from(ctx))
    try:
        source = NetflowSource(list(listens), name=name, batch_size=settings.batch_size, set_direction=plan is None)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise Unavailable(f"cannot listen on {', '.join(listens)}: {exc}") from None
    sink = _quick_sink(runtime_from(ctx), to, token_env, not no_detect)
    execute(runtime_from(ctx), name or "netflow", [source], once=False, sink=sink, plan=plan)


@click.command("live")
@click.option("--iface", required=True, help="interface to capture on (ip link lists them)")
@click.option("--filter", "bpf", metavar="BPF", help="kernel capture filter, tcpdump syntax (needs libpcap)")
@click.option("--promisc", is_flag=True, help="also see traffic not addressed to this host (mirror/SPAN ports)")
@flow_options
@common_options
@click.pass_context
def live(
    ctx: click.Context,
    iface: str,
    bpf: str | None,
    promisc: bool,
    idle_timeout: float,
    active_timeout: float,
    max_flows: int,
    name: str | None,
    address_plan: str | None,
    to: str | None,
    token_env: str,
    no_detect: bool,
) -> None:
    """Capture live traffic into flow, DNS, HTTP and TLS events (needs root or CAP_NET_RAW)."""
    _setup_logging(ctx)
    settings = settings_from(ctx)
    plan = _enricher(address_plan, runtime_from(ctx))
    source = LiveSource(
        iface,
        bpf_filter=bpf,
        promisc=promisc,
        batch_size=settings.batch_size,
        idle_timeout=idle_timeout,
        active_timeout=max(active_timeout, idle_timeout),
        max_flows=max_flows,
        set_direction=plan is None,
    )
    sink = _quick_sink(runtime_from(ctx), to, token_env, not no_detect)
    execute(runtime_from(ctx), name or f"live-{iface}", [source], once=False, sink=sink, plan=plan)
