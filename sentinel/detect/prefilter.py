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

from collections.abc import Sequence
from typing import Any

import ahocorasick

from sentinel.detect.compile import CompiledRule
from sentinel.detect.values import text_of
from sentinel.detect.view import EventView, FieldReader


class Prefilter:
    """Candidate rules (indexes into ``rules``) for an event, from one pass over its indexed fields."""

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self.always = frozenset(i for i, r in enumerate(rules) if r.need is None)
        self.always_list = sorted(self.always)
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
        self.reader = FieldReader(self.fields)
        self.ascii_only = frozenset(ascii_only)
        self.automaton: Any = None
        if by_literal:
            self.automaton = ahocorasick.Automaton()
            for lit, admitted in by_literal.items():
                self.automaton.add_word(lit, tuple(sorted(admitted)))
            self.automaton.make_automaton()

    def candidates(self, view: EventView, values: Sequence[Any] | None = None) -> list[int]:
        """Indexes of the rules worth evaluating on the event, in rule order.

        ``values`` are the event's values of :attr:`fields` when the caller has
        already read them (the engine reads all fields it needs in one pass).
        """
        if self.automaton is None:
            return self.always_list
        if self.keywords:
            values = list(view.values())
        elif values is None:
            values = self.reader.read(view)
        texts = [v for v in values if type(v) is str]
        if len(texts) < len(values):
            for value in values:
                if value is not None and type(value) is not str:
                    text = text_of(value)
                    if type(text) is str:
                        texts.append(text)
                    elif text:
                        texts.extend(text)
        joined = "\0".join(texts).lower()
        found = [admitted for _, admitted in self.automaton.iter(joined)]
        if self.ascii_only and not joined.isascii():
            found.append(self.ascii_only)
        if not found:
            return self.always_list
        hits = set(self.always)
        for admitted in found:
            hits.update(admitted)
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
