"""``sentinel audit``: check and read the hash-chained audit trail."""

from __future__ import annotations

import click
import orjson

from sentinel.audit import AuditLog
from sentinel.cli.common import settings_from


@click.group()
def audit() -> None:
    """The append-only, hash-chained audit trail."""


def _log(ctx: click.Context, path: str | None) -> AuditLog:
    return AuditLog(path or settings_from(ctx).audit_path)


@audit.command()
@click.option("--log", "path", type=click.Path(dir_okay=False), help="Audit log (default: <data_dir>/audit.log).")
@click.option("--head", "head", help='Expected head as JSON {"seq": N, "hash": "..."} kept elsewhere.')
@click.pass_context
def verify(ctx: click.Context, path: str | None, head: str | None) -> None:
    """Exit 0 when the chain is intact; otherwise name the first bad record and exit 1."""
    log = _log(ctx, path)
    expected = None
    if head:
        try:
            expected = orjson.loads(head)
        except orjson.JSONDecodeError:
            raise click.BadParameter('give the head as printed by "sentinel audit head"') from None
    result = log.verify(expected)
    if result.ok:
        click.echo(f"audit log intact: {result.records} records")
        return
    click.echo(
        f"audit log BROKEN at record {result.first_bad} (line {result.first_bad} of {log.path}): {result.reason}",
        err=True,
    )
    ctx.exit(1)


@audit.command()
@click.option("--log", "path", type=click.Path(dir_okay=False))
@click.pass_context
def head(ctx: click.Context, path: str | None) -> None:
    """Print the head (last sequence number and hash), to keep off this machine."""
    h = _log(ctx, path).head()
    click.echo(orjson.dumps(h or {"seq": 0, "hash": None}).decode())


@audit.command("show")
@click.option("--log", "path", type=click.Path(dir_okay=False))
@click.option("--last", type=click.IntRange(1), default=20, show_default=True)
@click.pass_context
def show(ctx: click.Context, path: str | None, last: int) -> None:
    """Print the last records as JSON lines."""
    records = list(_log(ctx, path))[-last:]
    for r in records:
        click.echo(orjson.dumps(r).decode())
