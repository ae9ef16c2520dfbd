"""Literal prefilter: find the few rules an event can possibly match without evaluating them all.

Each compiled rule carries a *need* (:mod:`sentinel.detect.needs`): literals one
of which must occur, lower-cased, in a given field for the rule to match. For a
set of rules the prefilter builds one Aho-Corasick automaton (pyahocorasick)
over every literal of every rule. Per event, the texts of all fields any rule
needs are joined (separated by NUL, so no literal spans two fields),
lower-cased once and scanned once: each literal found admits the rules that
need it. Only those rules, plus the rules with no known need (numeric
comparisons, negations, ...), are evaluated. The cost per event grows with the
size of the event and the number of literal hits, not with the number of rules.

A literal found in another field than the one it was indexed for only admits a
rule that then fails its evaluation: the need is a necessary condition, never a
sufficient one, and a rule that could match is never left out (the oracle tests
check this on every generated rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ahocorasick

from sentinel.detect.compile import CompiledRule
from sentinel.detect.values import text_of


class Prefilter:
    """Candidate rules (indexes into ``rules``) for an event, from one pass over its indexed fields."""

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self.always = frozenset(i for i, r in enumerate(rules) if r.need is None)
        by_literal: dict[str, set[int]] = {}
        fields: set[str] = set()
        ascii_only: set[int] = set()
        self.keywords = False  # some rule's literal may be in any field
        for i, rule in enumerate(rules):
            for fld, lit, needs_ascii in rule.need or ():
                by_literal.setdefault(lit, set()).add(i)
                if fld is None:
                    self.keywords = True
                else:
                    fields.add(fld)
                if needs_ascii:
                    ascii_only.add(i)
        self.fields = tuple(sorted(fields))
        self.ascii_only = frozenset(ascii_only)
        self.automaton: Any = None
        if by_literal:
            self.automaton = ahocorasick.Automaton()
            for lit, admitted in by_literal.items():
                self.automaton.add_word(lit, tuple(sorted(admitted)))
            self.automaton.make_automaton()

    def candidates(self, flat: Mapping[str, Any]) -> list[int]:
        """Indexes of the rules worth evaluating on the (flattened) event, in rule order."""
        if self.automaton is None:
            return sorted(self.always)
        texts: list[str] = []
        values = flat.values() if self.keywords else map(flat.get, self.fields)
        for value in values:
            if type(value) is str:
                texts.append(value)
            elif value is not None:
                text = text_of(value)
                if type(text) is str:
                    texts.append(text)
                elif text:
                    texts.extend(text)
        joined = "\0".join(texts).lower()
        hits = set(self.always)
        for _, admitted in self.automaton.iter(joined):
            hits.update(admitted)
        if self.ascii_only and not joined.isascii():
            hits |= self.ascii_only
        return sorted(hits)

    def stats(self) -> dict[str, int]:
        """Size of the index, for ``sentinel rules`` tooling and the benchmark."""
        return {
            "rules": len(self.rules),
            "indexed": len(self.rules) - len(self.always),
            "always": len(self.always),
            "literals": len(self.automaton) if self.automaton is not None else 0,
            "fields": len(self.fields),
        }
