"""Reading data files as records: one way to tell a file's format, stream its rows and sample them.

``sentinel classify scan`` samples a file, ``sentinel policy check`` reads the
head, middle and tail of large files, ``sentinel anonymize`` streams every row
in constant memory and measures re-identification risk; all of them read CSV,
TSV, JSON lines and JSON here:

- :func:`format_of`: the format from the name, else from the first bytes;
- :class:`RowReader`: rows of a CSV or JSON-lines stream with their line
  numbers; a line that is not a record (bad JSON, a ragged CSV row) comes back
  as a :class:`Row` with its ``problem``, never dropped silently;
- :func:`json_records`: the records of a whole JSON document;
- :func:`sample_file`: a reproducible sample of at most ``size`` records
  (reservoir over small files, random byte offsets in large ones, DuckDB for Parquet);
- :func:`read_segments`: a large file's head, middle and tail cut at line boundaries.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sentinel.errors import Invalid

EXACT_SAMPLE_BYTES = 8 * 1024 * 1024  # files up to this size are sampled exactly (reservoir over every row)
DEFAULT_SAMPLE = 200
DEFAULT_SEED = 20260101
SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".sql": "sql",
}
RECORD_FORMATS = ("csv", "jsonl", "json", "parquet")
_DELIMITERS = ",;\t|"


class SourceError(Invalid):
    """A dataset cannot be read; the message tells the user what to fix."""


def format_of(name: str, head: bytes = b"") -> str:
    """``csv``, ``jsonl``, ``json``, ``parquet``, ``sql`` or ``text``: by suffix, else by the first bytes."""
    fmt = SUFFIXES.get(Path(name).suffix.lower())
    if fmt is not None:
        return fmt
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"{":
        return "jsonl"
    if start == b"[":
        return "json"
    return "text"


def delimiter_of(header_line: str, name: str = "") -> str:
    """The CSV delimiter: tab for ``.tsv``, else the one of ``,;<tab>|`` the header line is split by."""
    if name.lower().endswith(".tsv"):
        return "\t"
    try:
        return csv.Sniffer().sniff(header_line.rstrip("\r\n") + "\n", delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


@dataclass
class Row:
    """One row of a stream: a record, or a line that is not one (``problem`` says why)."""

    line: int | None  # 1-based line number where the row starts (None in a sampled part of unknown position)
    record: dict[str, Any] | None
    cells: list[str] | None = None  # CSV cells as read (more or fewer than the header when ``problem``)
    text: str = ""  # the raw line of a JSON-lines row that is not a record
    problem: str | None = None


class RowReader:
    """Rows of a CSV or JSON-lines stream of text lines.

    For CSV the first row read is the header (unless one is given, for the
    later parts of a sampled file); quoted cells may span lines.
    """

    def __init__(self, fmt: str, delimiter: str = ",", header: list[str] | None = None) -> None:
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"rows are read from csv or jsonl, not {fmt}")
        self.fmt, self.delimiter, self.header = fmt, delimiter, header

    def rows(self, lines: Iterable[str], first_line: int | None = 1) -> Iterator[Row]:
        """Rows of ``lines``; ``first_line`` is the number of the first of them (None: unknown)."""
        if self.fmt == "csv":
            yield from self._csv(lines, first_line)
        else:
            yield from self._jsonl(lines, first_line)

    def _csv(self, lines: Iterable[str], first_line: int | None) -> Iterator[Row]:
        reader = csv.reader(lines, delimiter=self.delimiter)
        if self.header is None:
            self.header = next(reader, None)
            if self.header is None:
                return
            if self.header and self.header[0].startswith("\ufeff"):
                self.header[0] = self.header[0][1:]
        header = self.header
        start = reader.line_num + 1
        for cells in reader:
            line = first_line + start - 1 if first_line is not None else None
            start = reader.line_num + 1
            if not cells:
                continue
            problem = None if len(cells) == len(header) else f"{len(cells)} cells, the header has {len(header)}"
            yield Row(line, dict(zip(header, cells, strict=False)), cells, problem=problem)

    @staticmethod
    def _jsonl(lines: Iterable[str], first_line: int | None) -> Iterator[Row]:
        for offset, raw in enumerate(lines):
            line = first_line + offset if first_line is not None else None
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                obj = orjson.loads(text)
            except orjson.JSONDecodeError:
                obj = None
            if isinstance(obj, dict):
                yield Row(line, obj, text=text)
            else:
                yield Row(line, None, text=text, problem="not a JSON object")


def json_records(doc: Any) -> list[dict[str, Any]]:
    """The records of a JSON document: an array of objects, an object's one list of objects, or the object itself."""
    if isinstance(doc, list):
        return [r for r in doc if isinstance(r, dict)]
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        return lists[0] if len(lists) == 1 else [doc]
    return []


# -- sampling ------------------------------------------------------------------------------
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


def _seek_lines(path: Path, size: int, rng: random.Random, skip_header: bool) -> list[str]:
    """``size`` distinct whole lines starting after random byte offsets (large files)."""
    length = path.stat().st_size
    lines: dict[int, bytes] = {}
    with path.open("rb") as fh:
        header_end = len(fh.readline()) if skip_header else 0
        attempts = 0
        while len(lines) < size and attempts < size * 4:
            attempts += 1
            fh.seek(rng.randrange(header_end, length))
            fh.readline()  # finish the line we landed in
            start = fh.tell()
            line = fh.readline()
            if line.strip() and start not in lines:
                lines[start] = line
    return [lines[k].decode("utf-8", errors="replace") for k in sorted(lines)]


def _sample_rows(path: Path, fmt: str, size: int, seed: int) -> Sample:
    """CSV and JSON lines: a reservoir over every row of a small file, random offsets in a large one."""
    rng = random.Random(seed)
    with path.open("rb") as fh:
        head = fh.readline().decode("utf-8-sig", errors="replace")
    if fmt == "csv" and not head.strip():
        raise SourceError(f"{path}: empty CSV file (expected a header row with column names)")
    reader = RowReader(fmt, delimiter_of(head, path.name) if fmt == "csv" else ",")
    sample = Sample(source=str(path), records=[])
    if path.stat().st_size <= EXACT_SAMPLE_BYTES:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            rows, total = _reservoir(reader.rows(fh), size, rng)
        sample.total, sample.method = total, "reservoir" if total > size else "all"
    else:
        if fmt == "csv":
            next(reader.rows([head]), None)  # the header
        rows = list(reader.rows(_seek_lines(path, size, rng, fmt == "csv"), None))
        sample.method = "seek"
        sample.notes.append("large file: rows sampled at random byte offsets")
    for row in rows:
        if row.problem is not None or row.record is None:
            sample.skipped += 1
        else:
            sample.records.append(row.record)
    if sample.skipped:
        what = "rows with a column count other than the header's" if fmt == "csv" else "lines that are not JSON objects"
        sample.notes.append(f"{sample.skipped} {what} were skipped")
    return sample


def _sample_json(path: Path, size: int, seed: int) -> Sample:
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        lines = _sample_rows(path, "jsonl", size, seed)  # JSON lines saved as .json
        if lines.records:
            return lines
        raise SourceError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict | list):
        raise SourceError(f"{path}: expected a JSON object or an array of objects")
    records = json_records(doc)
    rng = random.Random(seed)
    chosen = rng.sample(records, size) if len(records) > size else records
    return Sample(str(path), list(chosen), total=len(records), method="random" if len(records) > size else "all")


def _sample_parquet(path: Path, size: int, seed: int) -> Sample:
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


def sample_file(path: Path, size: int = DEFAULT_SAMPLE, seed: int = DEFAULT_SEED) -> Sample:
    """A reproducible sample of at most ``size`` records of a data file, its format told by :func:`format_of`."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{path}: not readable")
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt not in RECORD_FORMATS:
        known = ", ".join(sorted(s for s, f in SUFFIXES.items() if f in RECORD_FORMATS))
        raise SourceError(f"{path}: unknown file type {path.suffix!r}; supported: {known}")
    if fmt == "json":
        return _sample_json(path, size, seed)
    if fmt == "parquet":
        return _sample_parquet(path, size, seed)
    return _sample_rows(path, fmt, size, seed)


# -- head, middle and tail ---------------------------------------------------------------------
@dataclass
class Segment:
    data: bytes
    first_line: int | None  # 1-based line number of the segment's first line, when known


def read_segments(path: Path, budget: int) -> tuple[list[Segment], int, bool]:
    """The file, or for a large one its head, middle and tail cut at line boundaries; bytes read; sampled."""
    size = path.stat().st_size
    with path.open("rb") as f:
        if size <= budget:
            data = f.read()
            return [Segment(data, 1)], len(data), False
        head = f.read(budget // 2)
        head = head[: head.rfind(b"\n") + 1] or head
        segments, total = [Segment(head, 1)], len(head)
        for offset in (size // 2, size - budget // 4):
            f.seek(offset - 1)  # one byte early: a segment starting on a line start keeps that line
            chunk = f.read(budget // 4 + 1)
            start = chunk.find(b"\n") + 1
            end = len(chunk) if offset - 1 + len(chunk) >= size else chunk.rfind(b"\n") + 1
            if 0 < start < end:
                segments.append(Segment(chunk[start:end], None))
                total += len(chunk)
        return segments, total, True
