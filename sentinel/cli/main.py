"""The ``sentinel`` command. Each stage adds its commands from its own module.

Sub-commands are imported lazily so ``sentinel search`` does not pay for
loading Presidio or pySigma.
"""

from __future__ import annotations

import importlib
import sys

import click

from sentinel.content import ContentError
from sentinel.store.base import StoreError

# command name -> "module:attribute" of a click command or group
COMMANDS = {
    "ingest": "sentinel.cli.ingest:ingest",
    "search": "sentinel.cli.search:search",
    "serve": "sentinel.cli.serve:serve",
    "demo": "sentinel.cli.demo:demo",
    "users": "sentinel.cli.users:users",
    "tokens": "sentinel.cli.users:tokens",
    "audit": "sentinel.cli.audit:audit",
    "rules": "sentinel.cli.rules:rules",
    "detect": "sentinel.cli.detect:detect",
    "es": "sentinel.cli.es:es",
    "classify": "sentinel.cli.classify:classify",
    "collect": "sentinel.cli.collect:collect",
    "policy": "sentinel.cli.policy:policy",
    "anonymize": "sentinel.cli.anonymize:anonymize",
    "playbooks": "sentinel.cli.respond:playbooks",
    "escalate": "sentinel.cli.respond:escalate",
    "respond": "sentinel.cli.respond:respond",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SENTINEL_CONFIG",
    help="YAML configuration file (default: none; SENTINEL_* variables still apply).",
)
@click.version_option(package_name="sentinel-vn")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Sentinel: security monitoring and personal-data classification for e-government."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def main() -> None:
    """Entry point: turn expected errors into a one-line message and exit code 2."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (ContentError, StoreError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
