"""Literal prefilter: find the few rules an event can possibly match without evaluating them all.

Each compiled rule carries a *need* (:mod:`sentinel.detect.needs`): groups of
literals, where for every group one literal must occur, lower-cased, in the
event for the rule to match. For a set of rules the prefilter builds one
Aho-Corasick automaton (pyahocorasick) over every literal of every rule. Per
event, the texts of all fields any rule needs are joined (each value between
NULs, so no literal spans two fields and anchored literals see where a value
starts and ends), lower-cased once and scanned once: each literal found marks
its group, and a rule whose groups are all marked is a candidate. Only those
rules, plus the rules with no known need (numeric comparisons, negations, ...),
are evaluated. The cost per event grows with the size of the event and the
number of literal hits, not with the number of rules.

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
    """Candidate rules (indexes into ``rules``) for an event, from one pass over its indexed fields.

    The automaton reports keys: a rule's index for a rule with one group, and
    ``index + n * (group + 1)`` for each group of a rule with several (``n`` rules).
    """

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        n = self.n = len(rules)
        self.always = frozenset(i for i, r in enumerate(rules) if r.need is None)
        self.always_list = sorted(self.always)
        by_literal: dict[str, set[int]] = {}
        fields: set[str] = set()
        ascii_only: set[int] = set()
        self.groups: dict[int, tuple[int, ...]] = {}  # rule with several groups -> the keys of its groups
        self.keywords = False  # some rule's literal may be in any field
        for i, rule in enumerate(rules):
            need = rule.need or ()
            keys = tuple(i + n * (g + 1) for g in range(len(need))) if len(need) > 1 else (i,) * len(need)
            if len(need) > 1:
                self.groups[i] = keys
            for key, group in zip(keys, need, strict=True):
                for fld, lit, needs_ascii in group:
                    by_literal.setdefault(lit, set()).add(key)
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
        return self.candidates_in(values)

    def candidates_in(self, values: Sequence[Any]) -> list[int]:
        """:meth:`candidates` from the values of the indexed fields (all of them, for keyword rules)."""
        if self.automaton is None:
            return self.always_list
        texts = [v for v in values if type(v) is str]
        if len(texts) < len(values):
            for value in values:
                if value is not None and type(value) is not str:
                    text = text_of(value)
                    if type(text) is str:
                        texts.append(text)
                    elif text:
                        texts.extend(text)
        joined = ("\0" + "\0".join(texts) + "\0").lower()
        hits = {key for _, keys in self.automaton.iter(joined) for key in keys}
        if self.ascii_only and not joined.isascii():
            hits.update(self.ascii_only)
        if not hits:
            return self.always_list
        if self.groups and max(hits) >= self.n:
            n = self.n
            found = hits
            hits = {k for k in found if k < n}
            for key in found:
                rule = key % n
                if key >= n and rule not in hits and all(k in found for k in self.groups[rule]):
                    hits.add(rule)
            if not hits:
                return self.always_list
        return sorted(hits.union(self.always))

    def stats(self) -> dict[str, int]:
        """Size of the index, for ``sentinel rules`` tooling and the benchmark."""
        return {
            "rules": len(self.rules),
            "indexed": len(self.rules) - len(self.always),
            "always": len(self.always),
            "literals": len(self.automaton) if self.automaton is not None else 0,
            "fields": len(self.fields),
        }
