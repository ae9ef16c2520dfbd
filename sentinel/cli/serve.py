"""``sentinel serve``: the API and console."""

from __future__ import annotations

import click

from sentinel.cli.common import settings_from


@click.command()
@click.option("--host", help="Address to listen on (default from configuration: 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default from configuration: 8080).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the JSON API (/api, /docs) and the web console."""
    import uvicorn

    from sentinel.api.app import create_app

    settings = settings_from(ctx)
    app = create_app(settings)
    host = host or settings.api.host
    port = port or settings.api.port
    click.echo(f"Sentinel API on http://{host}:{port}/  (OpenAPI: /docs, store: {app.state.store.backend})")
    uvicorn.run(app, host=host, port=port, log_level="warning")
