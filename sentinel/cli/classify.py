"""``sentinel classify``: find personal data in datasets and free text.

``sentinel classify scan SOURCE`` samples a file, database, index or the
stored events and prints each field's entities, category, sensitivity and a
masked example (review decisions recorded through the API take precedence).
``sentinel classify text [FILE|-]`` prints the personal-data spans of a text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from sentinel.cli.common import settings_from, store_from
from sentinel.cli.progress import Meter, quiet_option


def _dump(obj: Any) -> None:
    click.echo(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode())


@click.group()
def classify() -> None:
    """Personal-data classification (Law 91/2025/QH15, Decree 356/2025/ND-CP)."""


@classify.command("scan")
@click.argument("source")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@click.option("--sample", "size", type=click.IntRange(1, 100_000), default=200, show_default=True, help="rows sampled")
@click.option("--seed", type=int, default=20260101, show_default=True, help="sampling seed (same seed, same rows)")
@click.option("--table", default=None, help="one table of a database URL (default: every table)")
@click.option("--save/--no-save", default=True, show_default=True, help="record the result for review in classify.db")
@quiet_option
@click.pass_context
def scan_cmd(
    ctx: click.Context, source: str, fmt: str, size: int, seed: int, table: str | None, save: bool, quiet: bool
) -> None:
    """Classify the fields of SOURCE.

    SOURCE is a file (.csv .tsv .json .jsonl .parquet), an SQLAlchemy URL
    (sqlite:///file.db, postgresql://user@host/db), es:INDEX for an
    Elasticsearch index, or events:[DATASET] for events in the Sentinel store.
    """
    from sentinel.classify import load_taxonomy, open_classification_store, scan_dataset

    settings = settings_from(ctx)
    es_client = None
    if source.startswith("es:"):
        from sentinel.store import ElasticsearchStore

        es_client = ElasticsearchStore.from_settings(settings).client
    store = store_from(ctx, read_only=True) if source.startswith("events:") else None
    classifiers_dir = settings.classifiers_dir
    with Meter("classify scan", None, "fields", show=not quiet, forced=settings.progress) as meter:
        results = scan_dataset(
            source,
            size=size,
            seed=seed,
            table=table,
            classifiers_dir=classifiers_dir,
            es_client=es_client,
            store=store,
            progress=lambda done, known, dataset: meter.update(done, known, f"classify scan {_short(dataset)}"),
        )
    if save:
        cstore = open_classification_store(settings.classify_db_path, load_taxonomy(classifiers_dir))
        try:
            for r in results:
                cstore.save_scan(r)
            views = [cstore.dataset_view(r.dataset) for r in results]
        finally:
            cstore.close()
    else:
        views = [r.to_dict() for r in results]
    if len(views) == 1:
        out = {**views[0], "source": source}
    else:
        fields = [{**f, "field": f"{v['source'].rsplit('#', 1)[-1]}.{f['field']}"} for v in views for f in v["fields"]]
        out = {"source": source, "fields": fields, "datasets": views}
    if fmt == "json":
        _dump(out)
    else:
        _print_table(out)
    fields = sum(len(r.fields) for r in results)
    personal = sum(1 for r in results for f in r.fields if f.category != "none")
    datasets = f"{len(results):,} dataset{'' if len(results) == 1 else 's'}"
    click.echo(
        f"classify scan: {datasets}, {sum(r.sampled for r in results):,} rows sampled "
        f"({sum(r.skipped for r in results):,} malformed skipped), {fields:,} fields, {personal:,} with personal data"
        f"{', saved for review' if save else ''}; {meter.timing(fields, 'fields')}",
        err=True,
    )


def _short(dataset: str) -> str:
    """A database's table or a file's name, for the progress line (a whole URL would crowd out the bar)."""
    name = dataset.rsplit("#", 1)[-1] if "#" in dataset else Path(dataset).name
    return name if len(name) <= 24 else name[:23] + "…"


def _entity_label(e: dict[str, Any]) -> str:
    """``HEALTH(4%, sparse)``: the share of values and, unless values decided, how it was decided."""
    if e.get("ratio") is None:
        return e["type"]
    method = (e.get("evidence") or {}).get("method", "values")
    return f"{e['type']}({e['ratio']:.0%})" if method == "values" else f"{e['type']}({e['ratio']:.0%}, {method})"


def _print_table(out: dict[str, Any]) -> None:
    rows = [("FIELD", "CATEGORY", "LEVEL", "ENTITIES", "EXAMPLE")]
    for f in out["fields"]:
        ents = ", ".join(_entity_label(e) for e in f["entities"])
        reviewed = " [reviewed]" if f.get("review") else ""
        rows.append((f["field"], f["category"] + reviewed, str(f["sensitivity"]), ents or "-", f.get("example") or ""))
    widths = [min(max(len(r[i]) for r in rows), 48) for i in range(4)]
    click.echo(f"source: {out['source']}")
    for r in rows:
        click.echo("  ".join(r[i][:48].ljust(widths[i]) for i in range(4)) + "  " + r[4][:60])


@classify.command("text")
@click.argument("file", default="-", type=click.File("r", encoding="utf-8", errors="replace"))
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="json", show_default=True)
@click.option("--entities", default=None, help="comma-separated entity types (default: all)")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None, help="minimum score (default from YAML)")
@click.option("--show-text", is_flag=True, help="include the matched text (it is personal data)")
@click.pass_context
def text_cmd(
    ctx: click.Context, file: Any, fmt: str, entities: str | None, threshold: float | None, show_text: bool
) -> None:
    """Personal-data spans in FILE (or standard input), with character offsets."""
    from sentinel.classify import analyze_text

    settings = settings_from(ctx)
    text = file.read()
    wanted = [e.strip() for e in entities.split(",") if e.strip()] if entities else None
    try:
        spans = analyze_text(text, wanted, score_threshold=threshold, classifiers_dir=settings.classifiers_dir)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--entities") from None
    if fmt == "json":
        _dump({"spans": [s.to_dict(with_text=show_text) for s in spans]})
        return
    for s in spans:
        shown = s.text if show_text else ""
        click.echo(f"{s.start:>7} {s.end:>7}  {s.type:<18} {s.score:.2f}  {shown}")


@classify.command("entities")
@click.pass_context
def entities_cmd(ctx: click.Context) -> None:
    """The entity types, their category, sensitivity level and role in an open-data release."""
    from sentinel.classify import load_taxonomy

    taxonomy = load_taxonomy(settings_from(ctx).classifiers_dir)
    for name, entry in sorted(taxonomy.entities.items()):
        click.echo(f"{name:<18} {entry.category:<10} {entry.level}  {entry.role:<12} {entry.basis}")
