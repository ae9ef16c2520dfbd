"""``sentinel audit``: check and read the hash-chained audit trail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
import orjson

from sentinel.audit import AuditLog, Finding, Witness, check_objects, record_object
from sentinel.cli.common import existing_data_dir, settings_from, store_from
from sentinel.config import Settings


@click.group()
def audit() -> None:
    """The append-only, hash-chained audit trail."""


def _log(ctx: click.Context, path: str | None) -> AuditLog:
    """The audit log the reading commands (verify, head, show) read: never one they would create."""
    if path is None:
        return AuditLog(existing_data_dir(ctx).audit_path)
    if not Path(path).is_file():
        raise click.BadParameter(f"{path}: no such file", param_hint="--log")
    return AuditLog(path)


def _witnesses(ctx: click.Context, settings: Settings, kinds: set[str], stack: ExitStack) -> list[Witness]:
    """Readers for the kinds of object the chain names, over the databases that exist in the data folder."""

    def alerts() -> Witness:
        from sentinel.respond import AlertWitness

        return AlertWitness(store_from(ctx))

    def cases() -> Witness | None:
        from sentinel.respond import CaseStore, CaseWitness

        if not settings.cases_db_path.exists():
            return None
        store = CaseStore(settings.cases_db_path)
        stack.callback(store.close)
        return CaseWitness(store)

    def respond(kind: str) -> Witness | None:
        from sentinel.respond import ResponseDB, RunWitness, Suppressions, SuppressionWitness

        if not settings.respond_db_path.exists():
            return None
        db = ResponseDB(settings.respond_db_path)
        stack.callback(db.close)
        return SuppressionWitness(Suppressions(db)) if kind == "suppression" else RunWitness(db)

    def reviews() -> Witness | None:
        from sentinel.classify import ReviewWitness, load_taxonomy, open_classification_store

        if not settings.classify_db_path.exists():
            return None
        store = open_classification_store(settings.classify_db_path, load_taxonomy(settings.classifiers_dir))
        stack.callback(store.close)
        return ReviewWitness(store)

    makers: dict[str, Callable[[], Witness | None]] = {
        "alert": alerts,
        "case": cases,
        "suppression": lambda: respond("suppression"),
        "run": lambda: respond("run"),
        "review": reviews,
    }
    return [w for kind in sorted(kinds & set(makers)) if (w := makers[kind]()) is not None]


@audit.command()
@click.option("--log", "path", type=click.Path(dir_okay=False), help="Audit log (default: <data_dir>/audit.log).")
@click.option("--head", "head", help='Expected head as JSON {"seq": N, "hash": "..."} kept elsewhere.')
@click.option(
    "--chain-only", is_flag=True, help="Check the chain alone, not the alerts, cases, runs... it vouches for."
)
@click.pass_context
def verify(ctx: click.Context, path: str | None, head: str | None, chain_only: bool) -> None:
    """Exit 0 when the chain and the records it vouches for are intact; otherwise name what is wrong and exit 1.

    Beyond the chain itself, every alert, case, suppression, playbook run and DPO review the chain
    names is compared with it: a history row or an object rewritten outside Sentinel is named.
    """
    log = _log(ctx, path)
    expected = None
    if head:
        try:
            expected = orjson.loads(head)
        except orjson.JSONDecodeError:
            raise click.BadParameter('give the head as printed by "sentinel audit head"') from None
    result = log.verify(expected)
    if not result.ok:
        click.echo(
            f"audit log BROKEN at record {result.first_bad} (line {result.first_bad} of {log.path}): {result.reason}",
            err=True,
        )
        ctx.exit(1)
    findings: list[Finding] = []
    if not chain_only:
        kinds = {record_object(r).partition(":")[0] for r in log if "row" in r or "after" in r}
        with ExitStack() as stack:
            findings = check_objects(iter(log), _witnesses(ctx, settings_from(ctx), kinds, stack))
    if findings:
        for finding in findings:
            click.echo(f"audit check FAILED: {finding}", err=True)
        click.echo(f"{len(findings)} record(s) changed outside Sentinel; the chain itself is intact", err=True)
        ctx.exit(1)
    click.echo(f"audit log intact: {result.records} records")


@audit.command()
@click.option("--log", "path", type=click.Path(dir_okay=False))
@click.pass_context
def head(ctx: click.Context, path: str | None) -> None:
    """Print the head (last sequence number and hash), to keep off this machine."""
    h = _log(ctx, path).head()
    click.echo(orjson.dumps(h or {"seq": 0, "hash": None}).decode())


def _matching(
    records: Iterator[dict[str, Any]], actor: str | None, obj: str | None, action: str | None
) -> Iterator[dict[str, Any]]:
    for r in records:
        if actor and r.get("actor") != actor:
            continue
        if obj and not (record_object(r) == obj or record_object(r).startswith(obj.rstrip(":") + ":")):
            continue
        if action and not (r.get("action") == action or str(r.get("action", "")).startswith(action + ".")):
            continue
        yield r


@audit.command("show")
@click.option("--log", "path", type=click.Path(dir_okay=False))
@click.option("--last", type=click.IntRange(1), default=20, show_default=True)
@click.option("--actor", help="Only records by this actor (exact name, e.g. lan or cli:root).")
@click.option("--object", "obj", help="Only records about this object (alert:ID) or kind of object (alert).")
@click.option("--action", help="Only this action (alert.close) or family of actions (alert, login).")
@click.pass_context
def show(
    ctx: click.Context, path: str | None, last: int, actor: str | None, obj: str | None, action: str | None
) -> None:
    """Print the last matching records as JSON lines."""
    records = list(_matching(iter(_log(ctx, path)), actor, obj, action))[-last:]
    for r in records:
        click.echo(orjson.dumps(r).decode())
