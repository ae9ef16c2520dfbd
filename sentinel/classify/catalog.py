"""The classifier content in ``classifiers/``: pydantic models and one loader.

Files (all validated, errors as ``file:line: reason``):

- ``recognizers.yaml``: analyzer settings and one entry per recognizer (regex
  patterns with an optional validator, a Presidio predefined recognizer, a term
  list, or a built-in recognizer such as person names and addresses), each with
  Vietnamese and English context words.
- ``terms.yaml``: value lists (the 54 ethnic groups, religions, health terms,
  surnames and name syllables, address keywords).
- ``field_names.yaml``: field-name hints (``so_cccd``, ``soDienThoai``) per entity.
- ``taxonomy.yaml``: entity -> category and sensitivity level.
- ``gazetteer.yaml`` (generated) and ``former_provinces.yaml``: places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sentinel.content import ContentError, load_model

ENTITY_NAME = r"^[A-Z][A-Z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PatternSpec(_Strict):
    name: str
    regex: str
    score: float = Field(ge=0, le=1)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"regex does not compile: {exc}") from None
        return v


BUILTINS = ("person_names", "crf_person_names", "addresses", "organizations")
PREDEFINED = ("EmailRecognizer", "IpRecognizer", "CreditCardRecognizer")


class RecognizerSpec(_Strict):
    """One recognizer. Exactly one of ``patterns``, ``predefined``, ``terms`` or ``builtin``."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    entity: str = Field(pattern=ENTITY_NAME)
    patterns: list[PatternSpec] = []
    predefined: Literal[PREDEFINED] | None = None  # type: ignore[valid-type]
    terms: str | None = None
    builtin: Literal[BUILTINS] | None = None  # type: ignore[valid-type]
    score: float = Field(0.5, ge=0, le=1, description="score of a term or builtin match before context")
    validator: str | None = None
    on_valid: Literal["keep", "certain"] = "keep"
    case_sensitive: bool = False
    context: list[str] = []
    context_boost: float | None = Field(None, ge=0, le=1)
    negative_context: bool = Field(True, description="apply the shared negative_context phrases (regex recognizers)")
    shadows: list[str] = Field(
        [],
        description="entities whose overlapping weaker matches a match of this recognizer removes; it runs whenever "
        "one of them is asked for (an office's name is not a person's address)",
    )
    free_text_only: bool = Field(
        False,
        description="reads only free text (messages, form fields, query words), never structured text such as user "
        "agents, URLs or the raw line of a parsed event (the name tagger: slow, and capitalised product names fool it)",
    )
    promote: dict[str, str] = Field(
        {},
        description="with a context word nearby or in the field name, a match of the key entity is reported as the "
        "value entity (a bare commune after 'thường trú' is a person's address)",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> RecognizerSpec:
        kinds = [k for k in ("patterns", "predefined", "terms", "builtin") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("give exactly one of patterns, predefined, terms or builtin")
        from sentinel.classify.validators import VALIDATORS

        if self.validator and self.validator not in VALIDATORS:
            raise ValueError(f"unknown validator {self.validator!r}; known: {', '.join(sorted(VALIDATORS))}")
        if self.validator and not self.patterns:
            raise ValueError("a validator applies to patterns only")
        return self


class AnalyzerSettings(_Strict):
    score_threshold: float = Field(0.4, ge=0, le=1, description="spans below this score are not reported")
    context_boost: float = Field(0.35, ge=0, le=1)
    min_score_with_context: float = Field(0.4, ge=0, le=1)
    context_window: int = Field(48, ge=0, le=500, description="characters searched before and after a match")
    priority: list[str] = Field([], description="entity order that breaks ties between overlapping spans")
    negative_context: list[str] = Field(
        [], description="phrases near a numeric match that mean it is not personal data"
    )


class StructuralToken(_Strict):
    """Text that has the shape of personal data but is protocol or format structure (a vendor's log code,
    an SSH algorithm name): blanked before any recogniser reads a text."""

    name: str
    literal: str = Field(min_length=1, description="text the regex can match only where this is (a cheap pre-check)")
    regex: str
    examples: list[str] = Field(min_length=1, description="real text the regex must find, each holding the literal")

    @model_validator(mode="after")
    def _examples_match(self) -> StructuralToken:
        try:
            compiled = re.compile(self.regex)
        except re.error as exc:
            raise ValueError(f"invalid regex: {exc}") from None
        for example in self.examples:
            if self.literal not in example or not compiled.search(example):
                raise ValueError(f"example {example!r} must contain {self.literal!r} and match the regex")
        return self


class RecognizersFile(_Strict):
    settings: AnalyzerSettings = AnalyzerSettings()
    structure: list[StructuralToken] = Field(
        [], description="protocol and format tokens no recogniser may read as personal data"
    )
    recognizers: list[RecognizerSpec]

    @model_validator(mode="after")
    def _unique(self) -> RecognizersFile:
        names = [r.name for r in self.recognizers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"recognizer names must be unique: {', '.join(sorted(dup))}")
        return self


class TermsFile(_Strict):
    terms: dict[str, list[str]]


class FieldHint(_Strict):
    entity: str = Field(pattern=ENTITY_NAME)
    names: list[str] = Field([], description="phrases found anywhere in a field name, any case and spelling")
    exact: list[str] = Field([], description="whole field names (short or ambiguous words such as 'name', 'sdt')")
    exclude: list[str] = Field([], description="phrases that cancel the hint (ten_thu_tuc is not a person's name)")
    sufficient: bool = Field(
        False, description="the name alone decides (labels whose values have no shape: a procedure, an occupation)"
    )

    @model_validator(mode="after")
    def _some(self) -> FieldHint:
        if not self.names and not self.exact:
            raise ValueError("give names or exact")
        return self


class FieldDecision(_Strict):
    """When the values (and the field name) of a sampled field make it hold an entity."""

    value_threshold: float = Field(0.3, ge=0, le=1, description="a value counts as a match at this score or above")
    min_ratio: float = Field(0.5, ge=0, le=1, description="share of matching values needed ...")
    min_score: float = Field(0.4, ge=0, le=1, description="... with at least this mean score")
    consistent_ratio: float = Field(0.8, ge=0, le=1, description="or this share at any counted score")
    hinted_min_ratio: float = Field(0.2, ge=0, le=1, description="share needed when the field name suggests the entity")
    free_text_min_chars: int = Field(40, ge=1, description="mean length from which a field is free text")
    free_text_min_ratio: float = Field(0.05, ge=0, le=1, description="share needed in free text (at least 2 values)")
    sparse_min_score: float = Field(
        0.45, ge=0, le=1, description="in text, one value with a sensitive entity at this score makes it sensitive"
    )
    max_value_chars: int = Field(4000, ge=16, description="longer values are cut before analysis")


class FieldNamesFile(_Strict):
    decision: FieldDecision = FieldDecision()
    hints: list[FieldHint]


ROLES = ("identifying", "quasi", "sensitive", "insensitive")


class TaxonomyEntry(_Strict):
    """An entity's legal category, sensitivity level and role in a data release.

    ``role`` is the attribute type of statistical disclosure control (ARX,
    sdcMicro): ``identifying`` values single a person out alone (removed from
    open data), ``quasi`` ones do in combination (generalised until k-anonymous),
    ``sensitive`` ones are what must not be learnt about a group (kept only with
    l-diversity), ``insensitive`` ones are released as they are.
    """

    category: Literal["sensitive", "basic", "none"]
    level: int = Field(ge=0, le=4)
    role: Literal[ROLES]  # type: ignore[valid-type]
    basis: str = ""


class LevelSpec(_Strict):
    level: int = Field(ge=0, le=4)
    name: str
    handling: str = ""


class TaxonomyFile(_Strict):
    levels: list[LevelSpec]
    entities: dict[str, TaxonomyEntry]


class FormerProvince(_Strict):
    name: str
    cccd: str = Field(pattern=r"^\d{3}$")
    area: str = Field(pattern=r"^\d{2,3}$")
    merged_into: str


class FormerProvincesFile(_Strict):
    former_provinces: list[FormerProvince]


class GazetteerProvince(_Strict):
    name: str
    type: str
    code: int
    communes: list[str]


class GazetteerFile(_Strict):
    source: str
    provinces: list[GazetteerProvince]


@dataclass(frozen=True)
class Catalog:
    """Everything in one ``classifiers/`` folder, validated."""

    folder: Path
    recognizers: RecognizersFile
    terms: dict[str, list[str]]
    field_names: FieldNamesFile
    taxonomy: TaxonomyFile
    former_provinces: list[FormerProvince]
    gazetteer: GazetteerFile

    def check(self) -> None:
        """Cross-file checks: term lists exist, every entity is in the taxonomy."""
        rec_file = self.folder / "recognizers.yaml"
        for spec in self.recognizers.recognizers:
            if spec.terms and spec.terms not in self.terms:
                raise ContentError(rec_file, None, f"recognizer {spec.name}: no term list {spec.terms!r} in terms.yaml")
            for entity in [spec.entity, *spec.shadows, *spec.promote, *spec.promote.values()]:
                if entity not in self.taxonomy.entities:
                    raise ContentError(
                        self.folder / "taxonomy.yaml", None, f"entity {entity} (recognizer {spec.name}) is missing"
                    )
        for hint in self.field_names.hints:
            if hint.entity not in self.taxonomy.entities:
                raise ContentError(self.folder / "taxonomy.yaml", None, f"entity {hint.entity} (field hint) is missing")


def load_catalog(folder: Path) -> Catalog:
    """Load and validate a ``classifiers/`` folder (cached per folder).

    The folder is always given: it comes from the settings (``classifiers_dir``), so
    the recognizers follow the configured content like every other stage.
    """
    return _load_catalog(Path(folder).resolve())


@lru_cache(maxsize=8)
def _load_catalog(root: Path) -> Catalog:
    catalog = Catalog(
        folder=root,
        recognizers=load_model(root / "recognizers.yaml", RecognizersFile),
        terms=load_model(root / "terms.yaml", TermsFile).terms,
        field_names=load_model(root / "field_names.yaml", FieldNamesFile),
        taxonomy=load_model(root / "taxonomy.yaml", TaxonomyFile),
        former_provinces=load_model(root / "former_provinces.yaml", FormerProvincesFile).former_provinces,
        gazetteer=load_model(root / "gazetteer.yaml", GazetteerFile),
    )
    catalog.check()
    return catalog
