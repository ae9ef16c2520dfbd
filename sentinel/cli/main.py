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

from sentinel.errors import Conflict, Denied, Invalid, NotFound, SentinelError, Unavailable

# command name -> ("module:attribute" of a click command or group, its one-line help).
# `sentinel --help` prints the help lines from here, so it imports no command module; a test
# checks that every entry resolves to a command.
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("sentinel.cli.info:info", "Show version, data directory, store, content folders, key and accounts."),
    "ingest": ("sentinel.cli.ingest:ingest", "Parse log files, store the events and run detection."),
    "search": ("sentinel.cli.search:search", "Search stored events."),
    "serve": ("sentinel.cli.serve:serve", "Serve the JSON API and the web console, and run alert escalation."),
    "demo": ("sentinel.cli.demo:demo", "Run a generated day of portal traffic through the pipeline."),
    "users": ("sentinel.cli.users:users", "Local user accounts (console and API logins)."),
    "tokens": ("sentinel.cli.users:tokens", "API tokens for machines (edge collectors, CI pipelines)."),
    "audit": ("sentinel.cli.audit:audit", "The append-only, hash-chained audit trail."),
    "rules": ("sentinel.cli.rules:rules", "Test, lint, check and convert Sigma rules."),
    "detect": ("sentinel.cli.detect:detect", "Evaluate Sigma rules over log files and print alerts."),
    "es": ("sentinel.cli.es:es", "Elasticsearch backend: setup, check, roles, dead letter."),
    "classify": ("sentinel.cli.classify:classify", "Personal-data classification (Law 91/2025/QH15, Decree 356/2025)."),
    "collect": ("sentinel.cli.collect:collect", "Collect logs, syslog and network data (durable queue)."),
    "policy": ("sentinel.cli.policy:policy", "The data-protection policy: access, anonymisation and repository rules."),
    "anonymize": ("sentinel.cli.anonymize:anonymize", "Anonymise a table or JSON lines for one purpose of the policy."),
    "playbooks": ("sentinel.cli.respond:playbooks", "Response playbooks (CACAO-style YAML in playbooks/)."),
    "escalate": ("sentinel.cli.respond:escalate", "Notify new alerts and escalate unacknowledged ones."),
    "respond": ("sentinel.cli.respond:respond", "Response settings, suppressions and shift reports."),
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or its own help is asked for)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target[0].partition(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="YAML configuration file (default: the one the environment names; see `sentinel info`).",
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
        code = cli(prog_name="sentinel", standalone_mode=False)  # returns ctx.exit()'s code, e.g. 1 from `audit verify`
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # one line: what was wrong, and where the command's options are listed
        where = exc.ctx.command_path if exc.ctx is not None else "sentinel"
        first, _, pointer = exc.format_message().partition("\n")  # a query's error points at the spot below
        click.echo(f"error: {first} (see '{where} --help')" + (f"\n{pointer}" if pointer else ""), err=True)
        sys.exit(exc.exit_code)
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
