"""Field-level classification of sampled records.

Presidio-structured tags a column as soon as one cell matches and ignores the
column name; a DPO needs a decision that holds for the whole field. Here every
sampled value is analysed with the field name as extra context, and an entity
is assigned to the field when enough of the values hold it (the thresholds are
in ``classifiers/field_names.yaml``): most values at a reporting score, nearly
all values at a weaker score (a column of valid tax codes), fewer when the
field name says so (``so_cccd``), or a few values of a free-text field. A free
text field where even one sampled value carries sensitive data with a confident
match is sensitive ("sparse"). Columns whose names say nothing are also judged
by the distribution of their values (:mod:`sentinel.classify.distribution`).
Every finding carries its evidence. The field's category and sensitivity are
the highest of its entities.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinel.classify.analyzer import Span, analyze_text
from sentinel.classify.catalog import FieldDecision, FieldHint, load_catalog
from sentinel.classify.distribution import ColumnProfiler
from sentinel.classify.masking import mask_text
from sentinel.classify.normalize import name_tokens
from sentinel.classify.readers import dumps_value
from sentinel.classify.taxonomy import Taxonomy, load_taxonomy

COMPACT_MIN_CHARS = 5


@dataclass
class EntityFinding:
    """That a field holds ``type``: mean score, share of sampled values, and the evidence behind the decision.

    ``evidence["method"]`` says how it was decided: ``values`` (enough values
    matched), ``sparse`` (free text with a few confident sensitive matches),
    ``distribution`` (the column's values as a whole) or ``name`` (the field
    name alone, for labels whose values have no shape).
    """

    type: str
    score: float
    ratio: float
    hinted: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def sparse(self) -> bool:
        return self.evidence.get("method") == "sparse"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "score": round(self.score, 3),
            "ratio": round(self.ratio, 3),
            "hinted": self.hinted,
            "sparse": self.sparse,
            "evidence": self.evidence,
        }


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
    free_text: bool = False

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
            "free_text": self.free_text,
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
                h.sufficient,
            )
            for h in hints
        ]
        self.sufficient = {h.entity for h in hints if h.sufficient}

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
        for entity, names, exact, exclude, _ in self._hints:
            if any(self._contains(spaced, compact, x) for x in exclude):
                continue
            if last in exact or spaced in exact or any(self._contains(spaced, compact, n) for n in names):
                found.append(entity)
        return found


class FieldClassifier:
    """Classifies fields from sampled values and names, using the catalog in ``classifiers_dir``."""

    def __init__(self, classifiers_dir: Path) -> None:
        catalog = load_catalog(classifiers_dir)
        self.classifiers_dir = classifiers_dir
        self.decision: FieldDecision = catalog.field_names.decision
        self.hints = NameHints(catalog.field_names.hints)
        self.taxonomy: Taxonomy = load_taxonomy(classifiers_dir)
        self.profiler = ColumnProfiler(catalog)
        # the checks a value passed to be reported at all (a span of a validated recognizer passed its validator)
        self.validators: dict[str, list[str]] = {}
        for spec in catalog.recognizers.recognizers:
            if spec.validator:
                self.validators.setdefault(spec.entity, []).append(spec.validator)

    def classify_records(
        self, records: Iterable[Mapping[str, Any]], progress: Callable[[int, int], Any] | None = None
    ) -> list[FieldReport]:
        """One report per field path seen in ``records``, in first-seen order.

        ``progress(fields_done, fields)`` is called after each field: a wide table takes a while.
        """
        values: dict[str, list[Any]] = {}
        count = 0
        for record in records:
            count += 1
            for path, value in iter_fields(record):
                values.setdefault(path, []).append(value)
        banks = [p for p, vals in values.items() if self.profiler.names_banks(_texts(vals, 200))]
        reports = []
        for path, vals in values.items():
            bank = next((b for b in banks if b != path), None)
            reports.append(self.classify_field(path, vals, sampled=count, bank_column=bank))
            if progress is not None:
                progress(len(reports), len(values))
        return reports

    def classify_field(
        self, name: str, values: list[Any], sampled: int | None = None, bank_column: str | None = None
    ) -> FieldReport:
        """Classify one field from its sampled ``values``; ``bank_column`` names a neighbour holding bank names."""
        d = self.decision
        texts = _texts(values, d.max_value_chars)
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
        prose = n > 0 and 2 * sum(1 for t in texts if " " in t.strip()) >= n  # notes, however short
        findings: dict[str, EntityFinding] = {}
        for entity, scores in found.items():
            ratio, mean = len(scores) / n, sum(scores) / len(scores)
            is_hinted = entity in hinted
            rule = self._rule(ratio, mean, is_hinted, free_text, len(scores))
            if rule is None and prose and self.taxonomy.category(entity) == "sensitive":
                confident = [sc for sc in scores if sc >= d.sparse_min_score]
                if confident:
                    evidence = {"method": "sparse", "values": len(confident), "share": round(ratio, 3)}
                    evidence["max_score"] = round(max(confident), 3)
                    findings[entity] = EntityFinding(entity, mean, ratio, is_hinted, evidence)
                continue
            if rule is not None:
                evidence = {"method": "values", "rule": rule, "share": round(ratio, 3), "mean_score": round(mean, 3)}
                if entity in self.validators:
                    evidence["validators"] = self.validators[entity]
                findings[entity] = EntityFinding(entity, mean, ratio, is_hinted, evidence)
        if not free_text:
            column = self.profiler.profile(texts, bank_column)
            if column is not None:
                findings[column.entity] = EntityFinding(
                    column.entity, 1.0, column.share, column.entity in hinted, column.to_dict()
                )
        for entity in hinted:
            if entity in self.hints.sufficient and entity not in findings and n > 0:
                findings[entity] = EntityFinding(entity, 0.0, 0.0, True, {"method": "name", "field": name})
        if n == 0:  # nothing to judge from the values: report what the name says, at ratio 0
            findings = {e: EntityFinding(e, 0.0, 0.0, True, {"method": "name", "field": name}) for e in hinted}
        ordered = sorted(findings.values(), key=lambda f: (-f.ratio * max(f.score, 0.01), f.type))
        category, level = self.taxonomy.combine(f.type for f in ordered)
        example = None
        if ordered and ordered[0].type in first_hit:
            text, spans = first_hit[ordered[0].type]
            example = mask_text(text, spans)
        elif ordered and ordered[0].evidence.get("method") == "distribution":
            example = mask_text(texts[0], [Span(ordered[0].type, 0, len(texts[0]), 1.0, texts[0])])
        return FieldReport(
            field=name,
            entities=ordered,
            category=category,
            sensitivity=level,
            sensitivity_name=self.taxonomy.level_name(level),
            example=example,
            sampled=sampled if sampled is not None else len(values),
            non_empty=n,
            hints=hinted,
            free_text=free_text,
        )

    def _rule(self, ratio: float, mean: float, hinted: bool, free_text: bool, hits: int) -> str | None:
        """Which acceptance rule the share and mean score of matching values meet, if any."""
        d = self.decision
        if ratio >= d.min_ratio and mean >= d.min_score:
            return "most values"
        if ratio >= d.consistent_ratio:
            return "nearly all values"
        if hinted and ratio >= d.hinted_min_ratio:
            return "field name and some values"
        if free_text and ratio >= d.free_text_min_ratio and hits >= 2 and mean >= d.min_score:
            return "free text"
        return None


def _texts(values: list[Any], limit: int) -> list[str]:
    """Non-empty values as text, cut at ``limit`` characters."""
    out = []
    for v in values:
        if v is None:
            continue
        text = dumps_value(v)
        if text.strip():
            out.append(text[:limit])
    return out
