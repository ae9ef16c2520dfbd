"""What a rule needs in an event before it can match: the literals the prefilter looks for.

A *need* is a conjunction of groups; a group is a set of alternatives
``(field, literal, ascii_only)``. If the rule matches, then for every group at
least one ``literal`` occurs in the lower-cased text of the event (in ``field``;
``None`` for keyword detections that search every field). It is a necessary
condition, never a sufficient one. ``None`` means "no such literal is known" and
the rule is evaluated on every event of its log source.

Literals may be anchored with NUL, the separator the prefilter puts around every
field value it scans: ``"\0get\0"`` is a whole value, ``".php\0"`` the end of
one, ``"\0/admin"`` the start of one. An anchored literal fires far less often
than the bare text (``.php`` inside a path versus a path that ends in ``.php``).

``ascii_only`` marks literals taken from a regular expression: Python's
case-insensitive regex matching folds a few non-ASCII letters onto ASCII ones
(``ſ`` matches ``s``, ``İ`` matches ``i``) which ``str.lower`` does not, and the
whitespace class matches non-ASCII spaces the literals list only as ASCII ones. An ASCII literal
is trusted on text without any of those characters (:func:`regex_may_fold`);
on text with one, or for a non-ASCII literal on any non-ASCII text, the rule is
evaluated anyway.

Needs compose: an ``and`` needs every child's groups (the most selective
:data:`MAX_GROUPS` are kept); an ``or`` needs one group made of one group of
each child (unknown if any child's is unknown); a ``not`` needs nothing known.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

Group = frozenset[tuple[str | None, str, bool]]
Need = tuple[Group, ...] | None

# Literals shorter than this filter almost nothing and make the multi-pattern scan report a hit
# at nearly every position, so a group made only of them counts as "no need".
MIN_LITERAL = 3
# Groups kept per rule: each one more costs the prefilter a little on events that hit the others.
MAX_GROUPS = 3
# Combinations an ``or`` of conjunctions may expand to before it settles for one group.
MAX_COMBINATIONS = 64
SEP = "\0"


def literal_need(field: str | None, literals: list[str], ascii_only: bool = False) -> Need:
    """One of ``literals`` (already lower-cased, maybe anchored) is needed; unknown if any is too short."""
    if not literals or any(len(lit.strip(SEP)) < MIN_LITERAL for lit in literals):
        return None
    return (frozenset((field, lit, ascii_only) for lit in literals),)


def any_of(needs: list[Need]) -> Need:
    """Need of an ``or``: ``(a1 and a2) or b`` needs ``(a1 or b) and (a2 or b)``.

    Each such combination is necessary on its own, so the most selective
    :data:`MAX_GROUPS` of them are kept; with too many combinations to list, one
    group made of the most selective group of each child.
    """
    if any(n is None for n in needs):
        return None
    known: list[tuple[Group, ...]] = needs  # type: ignore[assignment]
    if math.prod(len(n) for n in known) <= MAX_COMBINATIONS:
        return all_of([(frozenset().union(*combo),) for combo in itertools.product(*known)])
    return (frozenset().union(*(min(n, key=_selectivity) for n in known)),)


def all_of(needs: list[Need]) -> Need:
    """Need of an ``and``: every child's groups hold; keep the most selective few."""
    groups = sorted({g for n in needs if n is not None for g in n}, key=_selectivity)
    return tuple(groups[:MAX_GROUPS]) or None


def literals_of(need: Need) -> list[str]:
    """Every literal of a need (for tooling and tests)."""
    return sorted({lit for group in need or () for _, lit, _ in group})


def _selectivity(group: Group) -> tuple[int, float, int, str]:
    """Sort key, most selective first: the shortest literal long, then literals long on average, then few.

    A literal anchored at one end counts four characters more (``.php`` ending a
    value is far rarer than ``.php`` anywhere in it); a whole-value literal counts
    two less: short whole values are enumerations most events carry one of (an
    HTTP method: ``POST`` alone admitted a fifth of all access events to the
    login rules, where the status ``401`` admits a few in a hundred).
    """
    weights = [_weight(lit) for _, lit, _ in group]
    return -min(weights), -sum(weights) / len(weights), len(group), min(lit for _, lit, _ in group)


def _weight(literal: str) -> int:
    core = literal.strip(SEP)
    anchors = len(literal) - len(core)
    return len(core) + (4 if anchors == 1 else -2 if anchors == 2 else 0)


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
    """Literals a regular expression cannot match without (from its parse tree).

    Finite pieces are expanded into the few exact strings they can match
    (``(?:page_?size|limit)=`` -> ``page_size=``, ``pagesize=``, ``limit=``), and
    every such run of the top-level sequence is a group of the need.
    """
    try:
        tree = sre_parse.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError):
        return None
    needs = [literal_need(field, sorted(part), ascii_only=True) for part in _required(list(tree))]
    return all_of(needs)


# Exact strings a regex piece may expand to before it counts as "too many to list".
MAX_EXACT = 32


def _exact(items: list[tuple[Any, Any]]) -> set[str] | None:
    """Every string this sequence can match (lower-cased), if they are few; None otherwise."""
    out = {""}
    for op, av in items:
        alt = _exact_item(op, av)
        if alt is None:
            return None
        out = {a + b for a in out for b in alt}
        if len(out) > MAX_EXACT:
            return None
    return out


def _exact_item(op: Any, av: Any) -> set[str] | None:
    if op is sre.LITERAL:
        return {chr(av).lower()}
    if op is sre.AT:  # anchors take no characters
        return {""}
    if op is sre.SUBPATTERN:
        return _exact(list(av[-1]))
    if op is sre.ATOMIC_GROUP:
        return _exact(list(av))
    if op is sre.BRANCH:
        out: set[str] = set()
        for branch in av[1]:
            sub = _exact(list(branch))
            if sub is None:
                return None
            out |= sub
        return out if len(out) <= MAX_EXACT else None
    if op is sre.IN and len(av) <= 4 and all(o is sre.LITERAL for o, _ in av):  # [sS], [-_]
        return {chr(c).lower() for _, c in av}
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[1] is not sre.MAXREPEAT and av[1] <= 2:
        once = _exact(list(av[2]))
        if once is None:
            return None
        out, power = set(), {""}
        for count in range(av[1] + 1):
            if count >= av[0]:
                out |= power
            power = {a + b for a in power for b in once}
        return out if len(out) <= MAX_EXACT else None
    return None


# The ASCII characters of ``\s`` (the gap between words an injection pattern allows anywhere); its other,
# non-ASCII characters need no listing: text holding one is evaluated anyway (regex_may_fold).
_SPACE = frozenset(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")
# What lower-cased text may hold where a case-insensitive regex sees one of an ASCII literal's characters:
# the dotless i and the long s (``İ`` lowers to ``i`` and a combining dot, the Kelvin sign to ``k``), and
# the non-ASCII characters of ``\s``. Checked against both regex engines in the tests.
_FOLDS_TO_ASCII = re.compile("[\u0131\u017f\u0307\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def regex_may_fold(lowered: str) -> bool:
    """Whether a regex could match ``lowered`` text where its ASCII literals are not (see the module docstring)."""
    return not lowered.isascii() and _FOLDS_TO_ASCII.search(lowered) is not None


def _gap(op: Any, av: Any) -> frozenset[str] | None:
    r"""The characters of an optional run of few characters (``\s*``, ``[ +]*``), or None."""
    if op not in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) or av[0] != 0 or len(av[2]) != 1:
        return None
    ((inner, arg),) = list(av[2])
    if inner is sre.IN and all(o is sre.LITERAL or (o is sre.CATEGORY and a is sre.CATEGORY_SPACE) for o, a in arg):
        chars = {chr(a).lower() for o, a in arg if o is sre.LITERAL}
        return frozenset(chars | (_SPACE if any(o is sre.CATEGORY for o, _ in arg) else set()))
    if inner is sre.CATEGORY and arg is sre.CATEGORY_SPACE:
        return _SPACE
    return frozenset({chr(arg).lower()}) if inner is sre.LITERAL else None


def _required(items: list[tuple[Any, Any]]) -> list[frozenset[str]]:
    r"""Sets of strings such that any match of this sequence contains one string of each set.

    An optional gap of few characters (``'\s*or``) does not end a run: what follows it is preceded
    either by the run itself (an empty gap) or by one of the gap's characters, so ``['"]\s*or``
    needs one of ``'or``, ``"or``, `` or``, ``\tor``...
    """
    found: list[frozenset[str]] = []
    run: set[str] = {""}
    gap: frozenset[str] = frozenset()

    def close() -> None:
        if "" not in run:  # a run that may match nothing requires nothing
            found.append(frozenset(s for s in run if not any(t != s and t in s for t in run)))

    for op, av in items:
        alt = _exact_item(op, av)
        if alt is not None:
            longer = {a + b for a in run | gap for b in alt}
            gap = frozenset()
            if len(longer) <= MAX_EXACT:
                run = longer
            else:
                close()
                run = alt
            continue
        close()
        chars = _gap(op, av)
        if chars is not None and "" not in run and not gap and len(run) + len(chars) <= MAX_EXACT:
            gap = chars  # the run goes on across the gap
            continue
        run, gap = {""}, frozenset()
        if op is sre.SUBPATTERN:
            found.extend(_required(list(av[-1])))
        elif op is sre.ATOMIC_GROUP:
            found.extend(_required(list(av)))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] >= 1:
            found.extend(_required(list(av[2])))
        elif op is sre.BRANCH:
            best = [_best(_required(list(b))) for b in av[1]]
            if all(b is not None for b in best):
                found.append(frozenset().union(*best))  # type: ignore[arg-type]
    close()
    return [c for c in found if c and min(map(len, c)) >= MIN_LITERAL]


def _best(parts: list[frozenset[str]]) -> frozenset[str] | None:
    return max(parts, key=lambda c: (min(map(len, c)), -len(c)), default=None)
