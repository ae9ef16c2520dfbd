"""What a rule needs in an event before it can match: the literals the prefilter looks for.

A *need* is a set of alternatives ``(field, literal, ascii_only)``: if the rule
matches, at least one ``literal`` occurs in the lower-cased text of the event
(in ``field``; ``None`` for keyword detections that search every field). It is a
necessary condition, never a sufficient one. ``None`` means "no such literal is
known" and the rule is evaluated on every event of its log source.

``ascii_only`` marks literals taken from a regular expression: Python's
case-insensitive regex matching folds a few non-ASCII letters onto ASCII ones
(``ſ`` matches ``s``, ``İ`` matches ``i``) which ``str.lower`` does not, so such a
literal is only trusted when the event text is pure ASCII; otherwise the rule
is evaluated anyway.

Needs compose: an ``or`` needs one of its children's needs (the union, unknown
if any child's is unknown); an ``and`` needs any one child's, and the most
selective is kept; a ``not`` needs nothing known.
"""

from __future__ import annotations

import ipaddress
import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

Need = frozenset[tuple[str | None, str, bool]] | None

# Literals shorter than this filter almost nothing and make the multi-pattern scan report a hit
# at nearly every position, so a need made only of them counts as "no need".
MIN_LITERAL = 3


def literal_need(field: str | None, literals: list[str], ascii_only: bool = False) -> Need:
    """One of ``literals`` (already lower-cased) is needed; unknown if any is too short."""
    if not literals or any(len(lit) < MIN_LITERAL for lit in literals):
        return None
    return frozenset((field, lit, ascii_only) for lit in literals)


def any_of(needs: list[Need]) -> Need:
    """Need of an ``or``: one of the children's needs."""
    if any(n is None for n in needs):
        return None
    return frozenset().union(*needs)  # type: ignore[arg-type]


def best_of(needs: list[Need]) -> Need:
    """Need of an ``and``: any child's need holds; keep the most selective one."""
    known = [n for n in needs if n is not None]
    return max(known, key=_selectivity, default=None)


def _selectivity(need: frozenset[tuple[str | None, str, bool]]) -> tuple[int, int]:
    return min(len(lit) for _, lit, _ in need), -len(need)


def number_need(field: str, number: int | float) -> Need:
    """An integer is written with its digits in any text that equals it ("0404", "404.0", "-404")."""
    if isinstance(number, bool) or not isinstance(number, int):
        return None
    return literal_need(field, [str(abs(number))])


def cidr_need(field: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Need:
    """Leading octets every IPv4 address in ``network`` starts with ("10." for 10.0.0.0/8)."""
    if network.version != 4 or network.prefixlen < 8:
        return None
    octets = str(network.network_address).split(".")[: network.prefixlen // 8]
    return literal_need(field, [".".join(octets) + ("." if len(octets) < 4 else "")])


def regex_need(field: str | None, pattern: str, flags: int = 0) -> Need:
    """Literals a regular expression cannot match without (from its parse tree)."""
    try:
        tree = sre_parse.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError):
        return None
    alternatives = _sequence_need(list(tree))
    if alternatives is None:
        return None
    return literal_need(field, sorted(alternatives), ascii_only=True)


def _sequence_need(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """Alternatives (strings) one of which any match of this sequence contains; None if unknown."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []

    def close_run() -> None:
        if run:
            candidates.append(frozenset({"".join(run)}))
            run.clear()

    for op, av in items:
        if op is sre.LITERAL:
            run.append(chr(av).lower())
            continue
        if op is sre.AT:  # anchors take no characters: the run continues across them
            continue
        close_run()
        sub: frozenset[str] | None = None
        if op is sre.SUBPATTERN:
            sub = _sequence_need(list(av[-1]))
        elif op is sre.BRANCH:
            branches = [_sequence_need(list(b)) for b in av[1]]
            if all(b is not None for b in branches):
                sub = frozenset().union(*branches)  # type: ignore[arg-type]
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] >= 1:
            sub = _sequence_need(list(av[2]))
        elif op is sre.ATOMIC_GROUP:
            sub = _sequence_need(list(av))
        if sub is not None:
            candidates.append(sub)
    close_run()
    usable = [c for c in candidates if c and min(map(len, c)) >= MIN_LITERAL]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(map(len, c)), -len(c)))
