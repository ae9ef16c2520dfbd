"""Literal prefilter: find the few rules an event can possibly match without evaluating them all.

Each compiled rule carries a *need*: a set of (field, literal) pairs one of which
must occur in the event (lower-cased) for the rule to match. The prefilter
indexes every literal of every rule per field and scans each field's text once
with an Aho-Corasick automaton (pyahocorasick) for all of them at the same time.
Only rules whose literal was found, plus the rules with no need (regex-only,
numeric comparisons, negations...), are then evaluated. The cost per event thus
grows with the number of literal hits, not with the number of rules.

The need is a necessary condition, never a sufficient one: a false hit only
costs an evaluation, a missed rule would be a bug, which the oracle tests guard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ahocorasick

from sentinel.detect.compile import CompiledRule
from sentinel.detect.values import MISSING, all_lowered, lowered

# Below this many literals on a field, plain ``in`` tests beat building an automaton.
AUTOMATON_MIN_LITERALS = 4


class _FieldScan:
    """All literals wanted in one field (None: in any field) and the rules each one admits."""

    def __init__(self, field: str | None, literals: dict[str, set[int]]) -> None:
        self.field = field
        self.small: list[tuple[str, tuple[int, ...]]] | None = None
        self.automaton: Any = None
        if len(literals) < AUTOMATON_MIN_LITERALS:
            self.small = [(lit, tuple(sorted(rules))) for lit, rules in literals.items()]
        else:
            automaton = ahocorasick.Automaton()
            for lit, rules in literals.items():
                automaton.add_word(lit, tuple(sorted(rules)))
            automaton.make_automaton()
            self.automaton = automaton

    def scan(self, text: str, hits: set[int]) -> None:
        if self.small is not None:
            for lit, rules in self.small:
                if lit in text:
                    hits.update(rules)
        else:
            for _, rules in self.automaton.iter(text):
                hits.update(rules)


class Prefilter:
    """Candidate rules (indexes into ``rules``) for an event, from one pass over its fields."""

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self.always = frozenset(i for i, r in enumerate(rules) if r.need is None)
        per_field: dict[str | None, dict[str, set[int]]] = {}
        for i, rule in enumerate(rules):
            for fld, lit in rule.need or ():
                per_field.setdefault(fld, {}).setdefault(lit, set()).add(i)
        self.scans = [_FieldScan(f, lits) for f, lits in per_field.items() if f is not None]
        self.keyword_scan = _FieldScan(None, per_field[None]) if None in per_field else None
        self.indexed = len(rules) - len(self.always)

    def candidates(self, flat: Mapping[str, Any], low: dict[str, Any]) -> list[int]:
        """Indexes of rules worth evaluating on the event, in rule order.

        Fills ``low`` with the lowered text of every scanned field so the rule
        matchers do not lower the same text again.
        """
        hits: set[int] = set(self.always)
        for scan in self.scans:
            fld = scan.field
            text = low.get(fld, MISSING)  # type: ignore[arg-type]
            if text is MISSING:
                text = low[fld] = lowered(flat.get(fld))  # type: ignore[index,arg-type]
            if text is None:
                continue
            if type(text) is str:
                scan.scan(text, hits)
            else:
                for t in text:
                    scan.scan(t, hits)
        if self.keyword_scan is not None:
            for t in all_lowered(flat, low):
                self.keyword_scan.scan(t, hits)
        return sorted(hits)
