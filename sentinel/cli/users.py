"""``sentinel users`` and ``sentinel tokens``: local accounts and API tokens for the API and console."""

from __future__ import annotations

import sys

import click

from sentinel.api import Accounts
from sentinel.audit import AuditLog
from sentinel.cli.common import cli_actor, existing_data_dir, settings_from
from sentinel.identity import ROLES
from sentinel.places import check_scope


def _accounts(ctx: click.Context) -> tuple[Accounts, AuditLog]:
    s = settings_from(ctx)
    return Accounts(s.accounts_path), AuditLog(s.audit_path)


scope_options = [
    click.option("--role", type=click.Choice(ROLES), required=True),
    click.option("--province", help="Limit to this province (commune engineers, provincial staff)."),
    click.option("--commune", help="Limit to this commune."),
]


def with_scope(f):  # type: ignore[no-untyped-def]
    for option in reversed(scope_options):
        f = option(f)
    return f


@click.group()
def users() -> None:
    """Local user accounts (console and API logins)."""


@users.command("add")
@click.argument("name")
@with_scope
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.pass_context
def add_user(
    ctx: click.Context, name: str, role: str, province: str | None, commune: str | None, password_stdin: bool
) -> None:
    """Create user NAME; the password is asked for (or read from standard input)."""
    check_scope(province, commune)  # a misspelt place would give a user who silently sees nothing
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    accounts, audit = _accounts(ctx)
    accounts.add_user(name, password, role, province, commune)
    audit.record(cli_actor(), "user.add", name, role=role, province=province, commune=commune)
    click.echo(f"user {name} created ({role})")


@users.command("list")
@click.pass_context
def list_users(ctx: click.Context) -> None:
    existing_data_dir(ctx)
    for u in _accounts(ctx)[0].list_users():
        scope = "/".join(x for x in (u["province"], u["commune"]) if x) or "all"
        state = "disabled" if u["disabled"] else "locked" if u["locked"] else "active"
        click.echo(f"{u['name']:<24} {u['role']:<18} {scope:<30} {state}")


@users.command("disable")
@click.argument("name")
@click.pass_context
def disable_user(ctx: click.Context, name: str) -> None:
    """Disable user NAME and end their sessions."""
    accounts, audit = _accounts(ctx)
    accounts.disable_user(name)
    audit.record(cli_actor(), "user.disable", name)
    click.echo(f"user {name} disabled")


@click.group()
def tokens() -> None:
    """API tokens for machines (edge collectors, CI pipelines)."""


@tokens.command("create")
@click.argument("name")
@with_scope
@click.option("--days", type=click.FloatRange(min=0, min_open=True), help="Expire after this many days.")
@click.pass_context
def create_token(
    ctx: click.Context, name: str, role: str, province: str | None, commune: str | None, days: float | None
) -> None:
    """Create token NAME and print it once (store it in the collector's or CI's secrets)."""
    check_scope(province, commune)
    accounts, audit = _accounts(ctx)
    token = accounts.create_token(name, role, province, commune, days)
    audit.record(cli_actor(), "token.create", name, role=role, province=province, commune=commune)
    click.echo(token)


@tokens.command("list")
@click.pass_context
def list_tokens(ctx: click.Context) -> None:
    existing_data_dir(ctx)
    for t in _accounts(ctx)[0].list_tokens():
        click.echo(f"{t['name']:<24} {t['role']:<18} {'revoked' if t['revoked'] else 'active'}")


@tokens.command("revoke")
@click.argument("name")
@click.pass_context
def revoke_token(ctx: click.Context, name: str) -> None:
    accounts, audit = _accounts(ctx)
    accounts.revoke_token(name)
    audit.record(cli_actor(), "token.revoke", name)
    click.echo(f"token {name} revoked")
