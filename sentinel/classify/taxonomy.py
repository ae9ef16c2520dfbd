"""The sensitivity taxonomy: which entities are basic or sensitive personal data, and how sensitive.

Loaded from ``classifiers/taxonomy.yaml``. The policy stage uses it to decide
what to pseudonymise; field classification uses it to give each field a
category and level (the highest of the entities found in it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sentinel.classify.catalog import LevelSpec, TaxonomyEntry, load_catalog

CATEGORY_RANK = {"none": 0, "basic": 1, "sensitive": 2}


@dataclass(frozen=True)
class Taxonomy:
    """Entity -> category ('sensitive' | 'basic' | 'none') and level (0..4)."""

    entities: dict[str, TaxonomyEntry]
    levels: dict[int, LevelSpec]

    def category(self, entity: str) -> str:
        """Category of ``entity``; unknown entities are 'none'."""
        entry = self.entities.get(entity)
        return entry.category if entry else "none"

    def level(self, entity: str) -> int:
        entry = self.entities.get(entity)
        return entry.level if entry else 0

    def role(self, entity: str) -> str:
        """Role in a release: identifying, quasi, sensitive or insensitive (unknown entities: insensitive)."""
        entry = self.entities.get(entity)
        return entry.role if entry else "insensitive"

    def level_name(self, level: int) -> str:
        spec = self.levels.get(level)
        return spec.name if spec else str(level)

    def personal_entities(self) -> list[str]:
        """Entities that are personal data (basic or sensitive), most sensitive first."""
        personal = [e for e, v in self.entities.items() if v.category != "none"]
        return sorted(personal, key=lambda e: (-self.entities[e].level, e))

    def combine(self, entities: Iterable[str]) -> tuple[str, int]:
        """Category and level of a field holding all of ``entities`` (the highest of each)."""
        category, level = "none", 0
        for entity in entities:
            if CATEGORY_RANK[self.category(entity)] > CATEGORY_RANK[category]:
                category = self.category(entity)
            level = max(level, self.level(entity))
        return category, level


def load_taxonomy(classifiers_dir: Path) -> Taxonomy:
    """The taxonomy from ``classifiers_dir``."""
    spec = load_catalog(classifiers_dir).taxonomy
    return Taxonomy(entities=dict(spec.entities), levels={lv.level: lv for lv in spec.levels})
