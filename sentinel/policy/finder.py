"""Finding personal data in text, for the policy: the classifier's recognisers, minus our own tokens.

Recognition belongs to :mod:`sentinel.classify`; this adapter restricts it to
the entities a caller acts on and that the cheap prefilter says could
be in the text at all (most log lines: none), drops low-score hits, and ignores hits inside
pseudonyms or encrypted tokens the policy wrote, so protecting a value twice
is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sentinel.policy.candidates import prefilter_for
from sentinel.policy.operators import TOKEN


@dataclass(frozen=True)
class Hit:
    entity: str
    start: int
    end: int
    score: float


class Finder(Protocol):
    """Personal data in ``text``; ``free_text=False`` for structure (user agents, URLs): no name tagger there."""

    def __call__(self, text: str, free_text: bool = True) -> list[Hit]: ...


def classifier_finder(entities: Iterable[str], min_score: float, classifiers_dir: Path) -> Finder:
    """A finder over the analyzer built from ``classifiers_dir`` for ``entities`` with score >= ``min_score``."""
    from sentinel.classify import analyze_text, supported_entities

    wanted = sorted(set(entities) & set(supported_entities(classifiers_dir)))
    prefilter = prefilter_for(frozenset(wanted), classifiers_dir)

    def find(text: str, free_text: bool = True) -> list[Hit]:
        possible = sorted(prefilter.entities_in(text)) if wanted and text else []
        if not possible:
            return []
        hits = [
            Hit(s.type, s.start, s.end, s.score)
            for s in analyze_text(
                text, entities=possible, score_threshold=min_score, classifiers_dir=classifiers_dir, free_text=free_text
            )
            if s.type in wanted
        ]
        if hits and ("pz-" in text or "pe-" in text):
            tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
            hits = [h for h in hits if not any(a <= h.start and h.end <= b for a, b in tokens)]
        return hits

    find.prefilter = prefilter  # type: ignore[attr-defined]  # what decides whether the analyzer runs at all
    return find
