"""Reproducible row samples from the datasets a DPO needs classified.

Every reader returns at most ``size`` records (nested dicts allowed) chosen by a
seeded random generator, so two scans of unchanged data see the same rows,
and the cost depends on the sample size rather than the dataset size where
the format allows it:

- CSV / JSON lines: files up to ``EXACT_SAMPLE_BYTES`` are read whole with
  reservoir sampling; larger files are sampled by seeking to random offsets
  and reading the next whole line.
- JSON (one array or object): parsed whole (JSON cannot be read partially).
- Parquet: DuckDB's seeded reservoir sample.
- Database tables (SQLAlchemy URL): random rowids for SQLite, ``TABLESAMPLE
  SYSTEM ... REPEATABLE`` for PostgreSQL, the first rows elsewhere.
- Elasticsearch indices: ``random_score`` with the seed.
- Events in the Sentinel store: the most recent events (of one dataset).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

EXACT_SAMPLE_BYTES = 8 * 1024 * 1024
DEFAULT_SAMPLE = 200
DEFAULT_SEED = 20260101


class SourceError(Exception):
    """A dataset cannot be read; the message tells the user what to fix."""


@dataclass
class Sample:
    """Sampled records of one dataset, and how they were chosen."""

    source: str
    records: list[dict[str, Any]]
    total: int | None = None  # rows in the dataset, when known cheaply
    method: str = "all"
    skipped: int = 0  # malformed rows left out (reported, never silently dropped)
    notes: list[str] = field(default_factory=list)


def _reservoir(rows: Iterator[Any], size: int, rng: random.Random) -> tuple[list[Any], int]:
    chosen: list[Any] = []
    n = 0
    for n, row in enumerate(rows, start=1):
        if len(chosen) < size:
            chosen.append(row)
        else:
            j = rng.randrange(n)
            if j < size:
                chosen[j] = row
    return chosen, n


def _seek_lines(path: Path, size: int, rng: random.Random, skip_header: bool) -> list[bytes]:
    """``size`` distinct whole lines starting after random byte offsets (large files)."""
    length = path.stat().st_size
    lines: dict[int, bytes] = {}
    with path.open("rb") as fh:
        header_end = len(fh.readline()) if skip_header else 0
        attempts = 0
        while len(lines) < size and attempts < size * 4:
            attempts += 1
            offset = rng.randrange(header_end, length)
            fh.seek(offset)
            fh.readline()  # finish the line we landed in
            start = fh.tell()
            line = fh.readline()
            if line.strip() and start not in lines:
                lines[start] = line
    return [lines[k] for k in sorted(lines)]


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8-sig", errors="replace")


def read_csv(path: Path, size: int, seed: int) -> Sample:
    rng = random.Random(seed)
    with path.open("rb") as fh:
        sniff = _decode(fh.read(64 * 1024))
    try:
        dialect = csv.Sniffer().sniff(sniff.split("\n", 1)[0] + "\n", delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    header = next(csv.reader(io.StringIO(sniff), dialect), None)
    if not header:
        raise SourceError(f"{path}: empty CSV file (expected a header row with column names)")
    sample = Sample(source=str(path), records=[])
    if path.stat().st_size <= EXACT_SAMPLE_BYTES:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            reader = csv.reader(fh, dialect)
            next(reader, None)
            rows, total = _reservoir(reader, size, rng)
        sample.total, sample.method = total, "reservoir" if total > size else "all"
    else:
        rows = [next(csv.reader([_decode(line)], dialect), []) for line in _seek_lines(path, size, rng, True)]
        sample.method = "seek"
        sample.notes.append("large file: rows sampled at random byte offsets")
    for row in rows:
        if len(row) != len(header):
            sample.skipped += 1
            continue
        sample.records.append(dict(zip(header, row, strict=True)))
    if sample.skipped:
        sample.notes.append(f"{sample.skipped} rows with a column count other than the header's were skipped")
    return sample


def read_jsonl(path: Path, size: int, seed: int) -> Sample:
    rng = random.Random(seed)
    sample = Sample(source=str(path), records=[])
    if path.stat().st_size <= EXACT_SAMPLE_BYTES:
        with path.open("rb") as fh:
            lines, total = _reservoir((ln for ln in fh if ln.strip()), size, rng)
        sample.total, sample.method = total, "reservoir" if total > size else "all"
    else:
        lines = _seek_lines(path, size, rng, False)
        sample.method = "seek"
    for line in lines:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            sample.skipped += 1
            continue
        if isinstance(doc, dict):
            sample.records.append(doc)
        else:
            sample.skipped += 1
    if sample.skipped:
        sample.notes.append(f"{sample.skipped} lines that are not JSON objects were skipped")
    return sample


def read_json(path: Path, size: int, seed: int) -> Sample:
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        lines = read_jsonl(path, size, seed)  # JSON lines saved as .json
        if lines.records:
            return lines
        raise SourceError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        records = lists[0] if len(lists) == 1 else [doc]
    elif isinstance(doc, list):
        records = [r for r in doc if isinstance(r, dict)]
    else:
        raise SourceError(f"{path}: expected a JSON object or an array of objects")
    rng = random.Random(seed)
    chosen = rng.sample(records, size) if len(records) > size else records
    return Sample(str(path), list(chosen), total=len(records), method="random" if len(records) > size else "all")


def read_parquet(path: Path, size: int, seed: int) -> Sample:
    try:
        import duckdb
    except ImportError:
        raise SourceError("reading Parquet needs duckdb: pip install duckdb") from None
    con = duckdb.connect()
    try:
        total = con.execute("SELECT COUNT(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
        rel = con.execute(
            f"SELECT * FROM read_parquet(?) USING SAMPLE reservoir({int(size)} ROWS) REPEATABLE ({int(seed)})",
            [str(path)],
        )
        names = [d[0] for d in rel.description]
        rows = rel.fetchall()
    except duckdb.Error as exc:
        raise SourceError(f"{path}: cannot read Parquet: {exc}") from None
    finally:
        con.close()
    return Sample(str(path), [dict(zip(names, r, strict=True)) for r in rows], total, "reservoir")


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


def read_sql(url: str, table: str | None, size: int, seed: int) -> list[Sample]:
    """One sample per table (or for ``table`` only)."""
    import sqlalchemy as sa

    engine, names = _sql_tables(url, table)
    samples = []
    try:
        with engine.connect() as conn:
            for name in names:
                tbl = sa.Table(name, sa.MetaData(), autoload_with=conn)
                total = conn.execute(sa.select(sa.func.count()).select_from(tbl)).scalar_one()
                rows, method = _sql_sample(conn, tbl, total, size, seed)
                records = [dict(r._mapping) for r in rows]
                samples.append(Sample(f"{_redact(url)}#{name}", records, total, method))
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(f"cannot read {_redact(url)}: {exc}") from None
    finally:
        engine.dispose()
    return samples


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
    from sentinel.store.base import EventQuery

    filters = {"event.dataset": [dataset]} if dataset else {}
    page = store.search_events(EventQuery(filters=filters, limit=size))
    return Sample(f"events:{dataset or '*'}", page.events, None, "most recent")


FILE_READERS: dict[str, Callable[[Path, int, int], Sample]] = {
    ".csv": read_csv,
    ".tsv": read_csv,
    ".jsonl": read_jsonl,
    ".ndjson": read_jsonl,
    ".json": read_json,
    ".parquet": read_parquet,
}


def read_file(path: Path, size: int = DEFAULT_SAMPLE, seed: int = DEFAULT_SEED) -> Sample:
    """Sample a file, choosing the reader from its extension."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{path}: not readable")
    reader = FILE_READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(FILE_READERS))
        raise SourceError(f"{path}: unknown file type {path.suffix!r}; supported: {known}")
    return reader(path, size, seed)


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
