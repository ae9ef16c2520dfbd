"""The ``sentinel`` command. Each stage adds its commands from its own module.

Sub-commands are imported lazily so ``sentinel search`` does not pay for
loading Presidio or pySigma.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

import click

from sentinel.config import CONFIG_ENV
from sentinel.errors import Conflict, Denied, Invalid, NotFound, SentinelError, Unavailable

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
    envvar=CONFIG_ENV,
    help=f"YAML configuration file (default: ${CONFIG_ENV}; environment variables still apply).",
)
@click.version_option(package_name="sentinel-vn")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Sentinel: security monitoring and personal-data classification for e-government."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


# What each kind of error means to a shell: 2 = fix the input or the environment and run again.
# (1 is kept for findings that should fail a CI job: a broken audit chain, a policy violation.)
EXIT_CODES: dict[type[SentinelError], int] = {Invalid: 2, NotFound: 2, Conflict: 2, Denied: 2, Unavailable: 2}
EXIT_BUG = 70  # EX_SOFTWARE: not the user's mistake


def exit_code_for(exc: SentinelError) -> int:
    return next((code for kind, code in EXIT_CODES.items() if isinstance(exc, kind)), 2)


def main() -> None:
    """Entry point: the command's own exit code; expected errors as one line; a bug as one line and a report."""
    try:
        code = cli(standalone_mode=False)  # returns ctx.exit()'s code, e.g. 1 from `audit verify`
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SentinelError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exit_code_for(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        report = _write_bug_report()
        click.echo(f"internal error: {type(exc).__name__}: {exc} (details in {report}; please report it)", err=True)
        sys.exit(EXIT_BUG)
    sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)


def _write_bug_report() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    fd, name = tempfile.mkstemp(prefix=f"sentinel-crash-{stamp}-", suffix=".txt")
    with open(fd, "w", encoding="utf-8") as f:
        f.write(" ".join(sys.argv) + "\n\n" + traceback.format_exc())
    return Path(name)


if __name__ == "__main__":
    main()
