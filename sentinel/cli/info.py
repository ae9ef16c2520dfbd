"""``sentinel info``: where this installation keeps things, before anything is opened or created."""

from __future__ import annotations

import click

from sentinel import __version__
from sentinel.cli.common import settings_from
from sentinel.config import env_name
from sentinel.timefmt import zone_label


@click.command("info")
@click.pass_context
def info(ctx: click.Context) -> None:
    """Show version, data directory, store, content folders, key and accounts.

    Reads nothing it would have to create: a missing data directory is reported, not made.
    """
    settings = settings_from(ctx)
    data = settings.data_dir
    rows = [
        ("version", __version__),
        ("data directory", f"{data}" + ("" if data.is_dir() else "  (does not exist yet)")),
        ("  set by", f"{env_name('data_dir')} or data_dir in the configuration file"),
    ]
    if settings.uses_elasticsearch:
        rows.append(("store", f"Elasticsearch at {settings.elasticsearch.url}"))
    else:
        state = "exists" if settings.sqlite_path.exists() else "not created yet"
        rows.append(("store", f"embedded SQLite {settings.sqlite_path} ({state})"))
    rows += [
        ("content folder", str(settings.content_dir)),
        ("  rules", str(settings.rules_dir)),
        ("  classifiers", str(settings.classifiers_dir)),
        ("  collectors", str(settings.collectors_dir)),
        ("  playbooks", str(settings.playbooks_dir)),
        ("address plan", str(settings.address_plan_path or "none")),
    ]
    if settings.policy_key is not None:
        rows.append(("policy key", f"from {env_name('policy_key')} (not shown)"))
    else:
        state = "exists" if settings.policy_key_path.exists() else "created on first use"
        rows.append(("policy key", f"{settings.policy_key_path} ({state}; back it up)"))
    rows.append(("accounts", _accounts(settings.accounts_path)))
    rows.append(("API", f"http://{settings.api.host}:{settings.api.port}/"))
    rows.append(("times shown in", f"{zone_label(settings.display_tz)}  (set by {env_name('display_timezone')})"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {value}")


def _accounts(path) -> str:  # type: ignore[no-untyped-def]
    """How many users and tokens exist, read without creating the file."""
    import sqlite3

    if not path.exists():
        return "none (no accounts file yet)"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        try:
            users = conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
            tokens = conn.execute("SELECT COUNT(*) FROM tokens WHERE revoked = 0").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            return f"unreadable ({exc})"
    return f"{users} users, {tokens} active tokens"
