"""``sentinel serve``: the API and console."""

from __future__ import annotations

import threading

import click

from sentinel.cli.common import settings_from
from sentinel.runtime import settle_heap


@click.command()
@click.option("--host", help="Address to listen on (default from configuration: 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default from configuration: 8080).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the JSON API (/api, /docs) and the web console, and run alert escalation."""
    import uvicorn

    from sentinel.api.app import create_app
    from sentinel.api.auth import LocalOperator

    settings = settings_from(ctx)
    host = host or settings.api.host
    port = port or settings.api.port
    # the host decides whether the no-account demo mode is allowed (loopback only)
    settings = settings.model_copy(update={"api": settings.api.model_copy(update={"host": host, "port": port})})
    app = create_app(settings)
    click.echo(f"Sentinel API on http://{host}:{port}/  (OpenAPI: /docs, store: {app.state.store.backend})")
    if isinstance(app.state.authenticator, LocalOperator):
        click.echo(
            "  no accounts yet: every caller on this machine acts as the local SOC lead "
            "(create one with 'sentinel users add' to require logins)"
        )
    # the response stage's scheduler (escalation, re-notification, housekeeping) runs beside the API
    from sentinel.respond.service import ResponseService

    app.state.response = ResponseService.build(settings, app.state.store, address_plan=app.state.runtime.address_plan)
    settle_heap()
    stop = threading.Event()
    scheduler = threading.Thread(target=app.state.response.run, args=(stop,), name="escalation", daemon=True)
    scheduler.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        stop.set()
        scheduler.join(timeout=5)
