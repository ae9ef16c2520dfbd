"""Scanning a dataset: source string -> sample -> field reports.

Source strings (the CLI's ``SOURCE``):

- a file path: ``.csv``, ``.tsv``, ``.json``, ``.jsonl`` / ``.ndjson``, ``.parquet``;
- an SQLAlchemy URL: ``sqlite:///portal.db``, ``postgresql://user@host/db``
  (every table, or one with ``table=``);
- ``es:INDEX`` for an Elasticsearch index or pattern (the configured cluster);
- ``events:`` or ``events:DATASET`` for ECS events in the Sentinel store.

Each table or file is one dataset; its name is the stable key that review
decisions attach to.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinel import ecs
from sentinel.classify.fields import FieldClassifier, FieldReport
from sentinel.classify.readers import read_elasticsearch, read_sql, read_store_events
from sentinel.config import hint
from sentinel.records import DEFAULT_SAMPLE, DEFAULT_SEED, Sample, SourceError, sample_file


@dataclass
class ScanResult:
    """The classification of one dataset."""

    dataset: str
    source: str
    fields: list[FieldReport]
    scanned_at: str
    sample_method: str
    sampled: int
    total_rows: int | None
    skipped: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "source": self.source,
            "scanned_at": self.scanned_at,
            "sample": {
                "method": self.sample_method,
                "rows": self.sampled,
                "total_rows": self.total_rows,
                "skipped": self.skipped,
            },
            "seconds": round(self.seconds, 3),
            "notes": self.notes,
            "fields": [f.to_dict() for f in self.fields],
        }


def is_sql_url(source: str) -> bool:
    return "://" in source and not source.startswith(("http://", "https://"))


def sample_source(
    source: str,
    *,
    size: int = DEFAULT_SAMPLE,
    seed: int = DEFAULT_SEED,
    table: str | None = None,
    es_client: Any = None,
    store: Any = None,
) -> Iterator[Sample]:
    """Samples for every dataset named by ``source`` (several for a database without ``table``), one at a time."""
    if size < 1:
        raise SourceError("the sample size must be at least 1")
    if source.startswith("events:"):
        if store is None:
            raise SourceError("scanning stored events needs the Sentinel store (run through `sentinel classify`)")
        yield read_store_events(store, source.removeprefix("events:") or None, size)
    elif source.startswith("es:"):
        if es_client is None:
            raise SourceError(f"scanning an Elasticsearch index needs {hint('elasticsearch.url')} set")
        yield read_elasticsearch(es_client, source.removeprefix("es:"), size, seed)
    elif is_sql_url(source):
        yield from read_sql(source, table, size, seed)
    elif table is not None:
        raise SourceError("--table applies to database URLs only")
    else:
        yield sample_file(Path(source), size, seed)


def dataset_name(sample: Sample) -> str:
    """Stable dataset key: the absolute path of a file, else the source label of the sample."""
    path = Path(sample.source)
    return str(path.resolve()) if path.exists() else sample.source


def classify_sample(
    sample: Sample, classifier: FieldClassifier, progress: Callable[[int, int], Any] | None = None
) -> ScanResult:
    """``progress(fields_done, fields)`` is called as each field of the sample is classified."""
    started = time.perf_counter()
    reports = classifier.classify_records(sample.records, progress)
    return ScanResult(
        dataset=dataset_name(sample),
        source=sample.source,
        fields=reports,
        scanned_at=ecs.now_ts(),
        sample_method=sample.method,
        sampled=len(sample.records),
        total_rows=sample.total,
        skipped=sample.skipped,
        seconds=time.perf_counter() - started,
        notes=list(sample.notes),
    )


def scan_dataset(
    source: str,
    *,
    size: int = DEFAULT_SAMPLE,
    seed: int = DEFAULT_SEED,
    table: str | None = None,
    classifiers_dir: Path,
    es_client: Any = None,
    store: Any = None,
    progress: Callable[[int, int, str], Any] | None = None,
) -> list[ScanResult]:
    """Sample and classify every dataset named by ``source``, one dataset after the other.

    ``progress(fields_done, fields_known, dataset)`` follows the classification, the slow part;
    the fields of a database's next table are known once that table is sampled.
    """
    classifier = FieldClassifier(classifiers_dir)
    results: list[ScanResult] = []
    done = 0
    for sample in sample_source(source, size=size, seed=seed, table=table, es_client=es_client, store=store):
        on_field = None
        if progress is not None:

            def on_field(n: int, fields: int, base: int = done, label: str = sample.source) -> None:
                progress(base + n, base + fields, label)

        result = classify_sample(sample, classifier, on_field)
        results.append(result)
        done += len(result.fields)
    return results
