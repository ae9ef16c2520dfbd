"""Literal prefilter: find the few rules an event can possibly match without evaluating them all.

Each compiled rule carries a *need* (:mod:`sentinel.detect.needs`): groups of
literals, where for every group one literal must occur, lower-cased, in the
event for the rule to match. For a set of rules the prefilter builds one
Aho-Corasick automaton (ahocorasick-rs) over the literals of the rules. Per
event, the texts of all fields any rule needs are joined (each value between
NULs, so no literal spans two fields and anchored literals see where a value
starts and ends), lower-cased once and scanned once for the rules' first
groups; a rule found there whose other groups also hit is a candidate. Only those
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

import ahocorasick_rs

from sentinel.detect.compile import CompiledRule
from sentinel.detect.needs import SEP, regex_may_fold
from sentinel.detect.values import text_of
from sentinel.detect.view import EventView, FieldReader
from sentinel.ecs import compile_reader


class Prefilter:
    """Candidate rules (indexes into ``rules``) for an event, from one pass over its indexed fields.

    The automaton holds the literals of each rule's first (most selective)
    group; a rule it reports is then checked for its other groups with plain
    substring tests, so literals common in traffic (``GET``, ``200``) that only
    narrow a rule down cost nothing on the events that lack its rare one.
    """

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self.always = frozenset(i for i, r in enumerate(rules) if r.need is None)
        self.always_list = sorted(self.always)
        by_literal: dict[str, set[int]] = {}
        fields: set[str] = set()
        ascii_only: set[int] = set()  # a regex literal not in ASCII: evaluated on any non-ASCII text
        folded: set[int] = set()  # ASCII regex literals: evaluated on text a regex may fold onto them
        self.rest: dict[int, tuple[tuple[str, ...], ...]] = {}  # rule -> its other groups' literals
        self.keywords = False  # some rule's literal may be in any field
        for i, rule in enumerate(rules):
            need = rule.need or ()
            for g, group in enumerate(need):
                for fld, lit, needs_ascii in group:
                    if g == 0:
                        by_literal.setdefault(lit, set()).add(i)
                    if fld is None:
                        self.keywords = True
                    else:
                        fields.add(fld)
                    if needs_ascii:
                        (folded if lit.isascii() else ascii_only).add(i)
            if len(need) > 1:
                self.rest[i] = tuple(tuple(sorted(lit for _, lit, _ in group)) for group in need[1:])
        self.fields = tuple(sorted(fields))
        self.reader = FieldReader(self.fields)
        self.ascii_only = frozenset(ascii_only)
        self.folded = frozenset(folded - ascii_only)
        self._literals = list(by_literal)
        self._rules_of = [tuple(sorted(by_literal[lit])) for lit in self._literals]
        self.automaton: Any = None
        if by_literal:
            self.automaton = ahocorasick_rs.AhoCorasick(self._literals, matchkind=ahocorasick_rs.MATCHKIND_STANDARD)
        self._plain_text = None if self.keywords else compile_reader(self.fields, _joined, {"_text": _text, "SEP": SEP})

    def candidates(self, view: EventView) -> list[int]:
        """Indexes of the rules worth evaluating on the event, in rule order."""
        if self.automaton is None:
            return self.always_list
        values = view.values() if self.keywords else self.reader.read(view)
        return self._admit(SEP + SEP.join(map(_text, values)) + SEP)

    def candidates_plain(self, doc: dict[str, Any]) -> list[int] | None:
        """:meth:`candidates` of a plain event (:meth:`sentinel.detect.view.EventView.plain`) without a view.

        None when the event needs the general path (a dotted key on the way, keyword rules).
        """
        if self.automaton is None:
            return self.always_list
        if self._plain_text is None:
            return None
        text = self._plain_text(doc)
        return None if text is None else self._admit(text)

    def _admit(self, joined: str) -> list[int]:
        joined = joined.lower()
        found = self.automaton.find_matches_as_indexes(joined, overlapping=True)
        hits = None
        if found:
            rules_of, rest = self._rules_of, self.rest
            hits = {i for match in found for i in rules_of[match[0]]}
            if rest:
                hits = {i for i in hits if i not in rest or all(any(lit in joined for lit in g) for g in rest[i])}
        if self.ascii_only and not joined.isascii():
            hits = (hits or set()) | self.ascii_only
        if self.folded and regex_may_fold(joined):
            hits = (hits or set()) | self.folded
        if not hits:
            return self.always_list
        return sorted(hits.union(self.always))

    def stats(self) -> dict[str, int]:
        """Size of the index, for ``sentinel rules`` tooling and the benchmark."""
        return {
            "rules": len(self.rules),
            "indexed": len(self.rules) - len(self.always),
            "always": len(self.always),
            "literals": len(self._literals),
            "fields": len(self.fields),
        }


def _text(value: Any) -> str:
    """What the scan sees of one field value: its text, list items NUL-separated, "" for null."""
    if type(value) is str:
        return value
    text = text_of(value)
    if text is None:
        return ""
    return text if type(text) is str else SEP.join(text)


def _joined(names: Sequence[str]) -> str:
    """Generated-reader result: the values each between NULs (strings and integers without a call)."""
    parts = [
        f"{v} if type({v}) is str else '' if {v} is None else str({v}) if type({v}) is int else _text({v})"
        for v in names
    ]
    return f"SEP + SEP.join(({', '.join(parts)},)) + SEP" if parts else "SEP + SEP"
