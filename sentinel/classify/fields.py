"""Field-level classification of sampled records.

Presidio-structured tags a column as soon as one cell matches and ignores the
column name; a DPO needs a decision that holds for the whole field. Here every
sampled value is analysed with the field name as extra context, and an entity
is assigned to the field when enough of the values hold it (the thresholds are
in ``classifiers/field_names.yaml``): most values at a reporting score, nearly
all values at a weaker score (a column of valid tax codes), fewer when the
field name says so (``so_cccd``), or a few values of a free-text field. The
field's category and sensitivity are the highest of its entities.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinel.classify.analyzer import Span, analyze_text
from sentinel.classify.catalog import FieldDecision, FieldHint, load_catalog
from sentinel.classify.masking import mask_text
from sentinel.classify.normalize import name_tokens
from sentinel.classify.readers import dumps_value
from sentinel.classify.taxonomy import Taxonomy, load_taxonomy

COMPACT_MIN_CHARS = 5


@dataclass
class EntityFinding:
    """Evidence that a field holds ``type``: mean score and share of sampled values."""

    type: str
    score: float
    ratio: float
    hinted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "score": round(self.score, 3), "ratio": round(self.ratio, 3), "hinted": self.hinted}


@dataclass
class FieldReport:
    """The classification of one field (dotted path for nested data)."""

    field: str
    entities: list[EntityFinding]
    category: str
    sensitivity: int
    sensitivity_name: str
    example: str | None
    sampled: int
    non_empty: int
    hints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "entities": [e.to_dict() for e in self.entities],
            "category": self.category,
            "sensitivity": self.sensitivity,
            "sensitivity_name": self.sensitivity_name,
            "example": self.example,
            "sampled": self.sampled,
            "non_empty": self.non_empty,
            "hints": self.hints,
        }


def iter_fields(doc: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, scalar value) pairs; list elements share their parent's path."""
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from iter_fields(value, path + ".")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from iter_fields(item, path + ".")
                else:
                    yield path, item
        else:
            yield path, value


class NameHints:
    """Entities suggested by a field name (``soDienThoai`` -> VN_PHONE)."""

    def __init__(self, hints: list[FieldHint]) -> None:
        self._hints = [
            (
                h.entity,
                [" ".join(name_tokens(n)) for n in h.names],
                {" ".join(name_tokens(n)) for n in h.exact},
                [" ".join(name_tokens(n)) for n in h.exclude],
            )
            for h in hints
        ]

    @staticmethod
    def _contains(spaced: str, compact: str, phrase: str) -> bool:
        if f" {phrase} " in f" {spaced} ":
            return True
        squeezed = phrase.replace(" ", "")
        return len(squeezed) >= COMPACT_MIN_CHARS and " " not in spaced and squeezed in compact

    def entities(self, field_name: str) -> list[str]:
        spaced = " ".join(name_tokens(field_name))
        last = " ".join(name_tokens(field_name.rsplit(".", 1)[-1]))
        compact = spaced.replace(" ", "")
        found = []
        for entity, names, exact, exclude in self._hints:
            if any(self._contains(spaced, compact, x) for x in exclude):
                continue
            if last in exact or spaced in exact or any(self._contains(spaced, compact, n) for n in names):
                found.append(entity)
        return found


class FieldClassifier:
    """Classifies fields from sampled values and names, using the catalog in ``classifiers_dir``."""

    def __init__(self, classifiers_dir: Path | None = None) -> None:
        catalog = load_catalog(classifiers_dir)
        self.classifiers_dir = classifiers_dir
        self.decision: FieldDecision = catalog.field_names.decision
        self.hints = NameHints(catalog.field_names.hints)
        self.taxonomy: Taxonomy = load_taxonomy(classifiers_dir)

    def classify_records(self, records: Iterable[Mapping[str, Any]]) -> list[FieldReport]:
        """One report per field path seen in ``records``, in first-seen order."""
        values: dict[str, list[Any]] = {}
        count = 0
        for record in records:
            count += 1
            for path, value in iter_fields(record):
                values.setdefault(path, []).append(value)
        return [self.classify_field(path, vals, sampled=count) for path, vals in values.items()]

    def classify_field(self, name: str, values: list[Any], sampled: int | None = None) -> FieldReport:
        d = self.decision
        texts = [dumps_value(v)[: d.max_value_chars] for v in values if v is not None and dumps_value(v).strip()]
        hinted = self.hints.entities(name)
        context = [" ".join(name_tokens(name))]
        found: dict[str, list[float]] = defaultdict(list)
        first_hit: dict[str, tuple[str, list[Span]]] = {}
        cache: dict[str, list[Span]] = {}
        for text in texts:
            spans = cache.get(text)
            if spans is None:
                spans = cache[text] = analyze_text(
                    text, context=context, score_threshold=d.value_threshold, classifiers_dir=self.classifiers_dir
                )
            best: dict[str, float] = {}
            for span in spans:
                best[span.type] = max(best.get(span.type, 0.0), span.score)
            for entity, score in best.items():
                found[entity].append(score)
                first_hit.setdefault(entity, (text, spans))
        n = len(texts)
        free_text = n > 0 and sum(len(t) for t in texts) / n >= d.free_text_min_chars and any(" " in t for t in texts)
        findings: list[EntityFinding] = []
        for entity, scores in found.items():
            ratio, mean = len(scores) / n, sum(scores) / len(scores)
            is_hinted = entity in hinted
            accepted = (
                (ratio >= d.min_ratio and mean >= d.min_score)
                or ratio >= d.consistent_ratio
                or (is_hinted and ratio >= d.hinted_min_ratio)
                or (free_text and ratio >= d.free_text_min_ratio and len(scores) >= 2 and mean >= d.min_score)
            )
            if accepted:
                findings.append(EntityFinding(entity, mean, ratio, is_hinted))
        if n == 0:  # nothing to judge from the values: report what the name says, at ratio 0
            findings = [EntityFinding(e, 0.0, 0.0, True) for e in hinted]
        findings.sort(key=lambda f: (-f.ratio * max(f.score, 0.01), f.type))
        category, level = self.taxonomy.combine(f.type for f in findings)
        example = None
        if findings and findings[0].type in first_hit:
            text, spans = first_hit[findings[0].type]
            example = mask_text(text, spans)
        return FieldReport(
            field=name,
            entities=findings,
            category=category,
            sensitivity=level,
            sensitivity_name=self.taxonomy.level_name(level),
            example=example,
            sampled=sampled if sampled is not None else len(values),
            non_empty=n,
            hints=hinted,
        )
