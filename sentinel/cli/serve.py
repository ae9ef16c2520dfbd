"""``sentinel serve``: the API and console.

Secure by default: every route needs credentials. On the first start without any account,
token or OIDC issuer, an administrator ``admin`` is created with a generated password printed
once (as Elasticsearch 8 prints the ``elastic`` password). The anonymous single-user demo is
only for ``--demo`` (and ``sentinel demo``), and only on a loopback address.
"""

from __future__ import annotations

import secrets
import sys
import threading

import click

from sentinel.api import Accounts
from sentinel.cli.common import audit_from, cli_actor, settings_from
from sentinel.config import Settings
from sentinel.ingest import worker_count
from sentinel.runtime import settle_heap

FIRST_ADMIN = "admin"
SWITCH_INTERVAL = 0.001  # seconds


def first_admin(settings: Settings, accounts: Accounts, ctx: click.Context) -> str | None:
    """Create the first administrator when nobody could log in otherwise; returns its password (shown once)."""
    if settings.auth.mode != "accounts" or settings.auth.oidc is not None or not accounts.is_empty():
        return None
    password = secrets.token_urlsafe(18)
    accounts.add_user(FIRST_ADMIN, password, "admin")
    audit_from(ctx).record(cli_actor(), "user.add", FIRST_ADMIN, role="admin", generated=True)
    return password


@click.command()
@click.option("--host", help="Address to listen on (default from configuration: 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default from configuration: 8080).")
@click.option(
    "--demo",
    is_flag=True,
    help="No logins: every caller on this machine is the SOC lead (loopback only; for trying Sentinel out).",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, demo: bool) -> None:
    """Serve the JSON API (/api, /docs) and the web console, and run alert escalation."""
    import uvicorn

    from sentinel.api import create_app

    settings = settings_from(ctx)
    host = host or settings.api.host
    port = port or settings.api.port
    update = {"api": settings.api.model_copy(update={"host": host, "port": port})}
    if demo:
        update["auth"] = settings.auth.model_copy(update={"mode": "demo"})
    settings = settings.model_copy(update=update)
    app = create_app(settings)
    app.state.ingest_workers = worker_count(settings)  # the writer process's, started on the first ingest batch
    click.echo(f"Sentinel API on http://{host}:{port}/  (OpenAPI: /docs, store: {app.state.store.backend})")
    if settings.auth.mode == "demo":
        click.echo("  demo mode: no logins, every caller on this machine acts as the local SOC lead")
    elif password := first_admin(settings, app.state.accounts, ctx):
        click.echo(
            "\n  No account existed, so one administrator was created. Its password is shown only now:\n\n"
            f"    user name  {FIRST_ADMIN}\n    password   {password}\n\n"
            f"  Log in at http://{host}:{port}/auth/login, then add named accounts ('sentinel users add')\n"
            f"  and disable this one ('sentinel users disable {FIRST_ADMIN}').\n"
        )
    # the response stage's scheduler (escalation, re-notification, housekeeping) runs beside the API
    from sentinel.respond import ResponseService

    app.state.response = ResponseService.build(settings, app.state.store, address_plan=app.state.runtime.address_plan)
    settle_heap()
    # reads run on threads beside the event loop (ingest batches are the writer process's work): hand the
    # interpreter to a waiting one every millisecond instead of every five
    sys.setswitchinterval(SWITCH_INTERVAL)
    stop = threading.Event()
    scheduler = threading.Thread(target=app.state.response.run, args=(stop,), name="escalation", daemon=True)
    scheduler.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        stop.set()
        scheduler.join(timeout=5)
