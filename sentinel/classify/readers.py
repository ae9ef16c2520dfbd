"""Reproducible row samples from the databases, indices and stored events a DPO needs classified.

Files are sampled by :func:`sentinel.records.sample_file` (the one reader of
data files); this module adds the sources that are not files, each returning
at most ``size`` records chosen reproducibly where the source allows it:

- Database tables (SQLAlchemy URL): random rowids for SQLite, ``TABLESAMPLE
  SYSTEM ... REPEATABLE`` for PostgreSQL, the first rows elsewhere.
- Elasticsearch indices: ``random_score`` with the seed.
- Events in the Sentinel store: the most recent events (of one dataset).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from sentinel.records import Sample, SourceError


def _sql_tables(url: str, table: str | None) -> tuple[Any, list[str]]:
    try:
        import sqlalchemy as sa
    except ImportError:
        raise SourceError("reading databases needs SQLAlchemy: pip install sqlalchemy") from None
    try:
        engine = sa.create_engine(url)
        names = sa.inspect(engine).get_table_names()
    except Exception as exc:  # driver missing, bad URL, server down: all user-fixable
        raise SourceError(f"cannot open database {_redact(url)}: {exc}") from None
    if table is not None:
        if table not in names:
            raise SourceError(f"no table {table!r} in {_redact(url)}; tables: {', '.join(names) or '(none)'}")
        names = [table]
    return engine, names


def _redact(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def read_sql(url: str, table: str | None, size: int, seed: int) -> Iterator[Sample]:
    """One sample per table (or for ``table`` only), read as the caller asks for the next one.

    A database of many tables is sampled table by table, so the caller can classify each
    and report progress while it holds only one sample.
    """
    import sqlalchemy as sa

    engine, names = _sql_tables(url, table)
    try:
        with engine.connect() as conn:
            for name in names:
                tbl = sa.Table(name, sa.MetaData(), autoload_with=conn)
                total = conn.execute(sa.select(sa.func.count()).select_from(tbl)).scalar_one()
                rows, method = _sql_sample(conn, tbl, total, size, seed)
                records = [dict(r._mapping) for r in rows]
                yield Sample(f"{_redact(url)}#{name}", records, total, method)
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(f"cannot read {_redact(url)}: {exc}") from None
    finally:
        engine.dispose()


def _sql_sample(conn: Any, tbl: Any, total: int, size: int, seed: int) -> tuple[list[Any], str]:
    import sqlalchemy as sa

    if total <= size:
        return list(conn.execute(sa.select(tbl))), "all"
    dialect = conn.dialect.name
    if dialect == "sqlite":
        lo, hi = conn.execute(sa.text(f'SELECT MIN(rowid), MAX(rowid) FROM "{tbl.name}"')).one()
        if lo is not None:
            rng = random.Random(seed)
            picked = sorted(rng.sample(range(lo, hi + 1), min(size * 2, hi - lo + 1)))
            sql = sa.text(f'SELECT * FROM "{tbl.name}" WHERE rowid IN :ids').bindparams(
                sa.bindparam("ids", expanding=True)
            )
            rows = list(conn.execute(sql, {"ids": picked}))[:size]
            return rows, "random rowids"
    if dialect == "postgresql":
        percent = min(100.0, 100.0 * size * 2 / total)
        sampled = sa.tablesample(tbl, sa.func.system(percent), seed=sa.literal(seed))
        rows = list(conn.execute(sa.select(sampled).limit(size)))
        if rows:
            return rows, "tablesample system"
    return list(conn.execute(sa.select(tbl).limit(size))), "first rows"


def read_elasticsearch(client: Any, index: str, size: int, seed: int) -> Sample:
    """A seeded random sample of an index (or pattern) through the official client."""
    try:
        resp = client.search(
            index=index,
            size=size,
            query={"function_score": {"query": {"match_all": {}}, "random_score": {"seed": seed, "field": "_seq_no"}}},
            track_total_hits=True,
        )
    except Exception as exc:
        raise SourceError(f"cannot search Elasticsearch index {index!r}: {exc}") from None
    hits = resp["hits"]["hits"]
    total = resp["hits"]["total"]["value"]
    return Sample(f"es:{index}", [h["_source"] for h in hits], total, "random_score")


def read_store_events(store: Any, dataset: str | None, size: int) -> Sample:
    """The most recent stored ECS events, optionally of one ``event.dataset``."""
    from sentinel.store import EventQuery

    filters = {"event.dataset": [dataset]} if dataset else {}
    page = store.search_events(EventQuery(filters=filters, limit=size))
    return Sample(f"events:{dataset or '*'}", page.events, None, "most recent")


def dumps_value(value: Any) -> str:
    """A sampled value as text for the analyzer (JSON for structures, ISO for dates)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
