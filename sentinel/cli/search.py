"""``sentinel search``: events from the store, as JSON lines or a table."""

from __future__ import annotations

import click
import orjson

from sentinel.cli.common import parse_time, settings_from, store_from
from sentinel.ecs import get_field
from sentinel.store import InvalidQuery, QuerySyntaxError, parse_query
from sentinel.timefmt import show_time

TABLE_FIELDS = (
    "@timestamp",
    "event.dataset",
    "source.ip",
    "user.name",
    "http.request.method",
    "http.response.status_code",
    "url.original",
)


@click.command()
@click.argument("query", required=False, default="")
@click.option("--since", help="From this time: ISO 8601 or a span back from now (15m, 24h, 7d).")
@click.option("--until", help="Before this time: ISO 8601 or a span back from now.")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--count", is_flag=True, help="Print only the number of matching events.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="table", show_default=True)
@click.pass_context
def search(
    ctx: click.Context, query: str, since: str | None, until: str | None, limit: int, count: bool, fmt: str
) -> None:
    """Search stored events.

    QUERY is field:value terms, words and "phrases" with AND, OR, NOT and
    parentheses, ranges ([500 TO 599], >=400) and wildcards (url.original:/wp-*),
    e.g. 'source.ip:203.0.113.7 AND http.response.status_code:500'
    (docs/query-language.md). A malformed query exits with status 2.
    """
    try:
        q = parse_query(query)
    except QuerySyntaxError as exc:
        raise click.BadParameter(exc.pointer(), param_hint="QUERY") from None
    q.since, q.until, q.limit = parse_time(since), parse_time(until), limit
    store = store_from(ctx, read_only=True)
    try:
        if count:
            click.echo(store.count_events(q))
            return
        page = store.search_events(q)
    except InvalidQuery as exc:  # a term the store cannot evaluate (a word as a number range, a bad time)
        raise click.BadParameter(str(exc), param_hint="QUERY") from None
    if fmt == "jsonl":
        for event in page.events:
            click.echo(orjson.dumps(event).decode())
        return
    tz = settings_from(ctx).display_tz  # the table is for people: times in the display zone, with it
    rows = [
        [show_time(e.get("@timestamp"), tz)] + [_cell(get_field(e, f)) for f in TABLE_FIELDS[1:]] for e in page.events
    ]
    widths = [max([len(f)] + [len(r[i]) for r in rows]) for i, f in enumerate(TABLE_FIELDS)]
    widths[-1] = min(widths[-1], 80)
    click.echo("  ".join(f.ljust(w) for f, w in zip(TABLE_FIELDS, widths, strict=True)))
    for r in rows:
        click.echo("  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=True)))
    if page.next_cursor:
        click.echo(f"... more: narrow the query or raise --limit (shown {len(rows)})", err=True)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    # control characters from attacker-supplied log text must not drive the terminal
    return "".join(c if c.isprintable() else "\ufffd" for c in str(value))
