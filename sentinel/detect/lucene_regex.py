"""Translate Sigma regular expressions (PCRE-like, unanchored search) into Lucene regular expressions.

Elasticsearch matches ``RLIKE`` (ES|QL) and ``regexp`` queries with Lucene's
regex dialect, which differs from Sigma's in ways that silently change results:
a Lucene pattern must match the *whole* value (Sigma searches anywhere), there
are no anchors, no non-capturing groups, no lazy quantifiers and no inline
flags, and ``@ & ~ < > # "`` are operators. :func:`to_lucene` rewrites a pattern so
the match set stays the same, or raises :class:`UnsupportedRegex` saying why
(look-arounds, back-references, word boundaries have no Lucene equivalent), so a
rule is reported as not convertible instead of being converted wrongly.
"""

from __future__ import annotations

from sentinel.errors import Invalid

_LUCENE_OPERATORS = set('@&~<>#"')
_CLASS_ESCAPES = set("dDsSwW")
_UNSUPPORTED_ESCAPES = {
    "b": "word boundary \\b",
    "B": "\\B",
    "A": "\\A",
    "Z": "\\Z",
    "z": "\\z",
    "G": "\\G",
    "K": "\\K",
}


class UnsupportedRegex(Invalid):
    """The pattern uses a construct Lucene regular expressions cannot express."""


def to_lucene(pattern: str, ignore_case: bool = False) -> str:
    """A Lucene regex matching a whole value exactly when ``pattern`` matches somewhere in it."""
    if pattern.startswith("(?i)"):
        pattern, ignore_case = pattern[4:], True
    alternatives = _alternatives(pattern)
    if len(alternatives) > 1:  # a|b matches somewhere when one of them does, each with its own anchors
        return "|".join("(" + to_lucene(a, ignore_case) + ")" for a in alternatives)
    head, body, tail = _split_anchor_groups(pattern)
    core = _translate(body, ignore_case)
    if head is None:
        prefix = "" if body.startswith("^") else ".*"
    else:
        prefix = "(" + "|".join("()" if a == "^" else ".*" + _translate(a, ignore_case) for a in head) + ")"
    if tail is None:
        suffix = "" if _ends_with_anchor(body) else ".*"
    else:
        suffix = "(" + "|".join("()" if a == "$" else _translate(a, ignore_case) + ".*" for a in tail) + ")"
    return prefix + core + suffix


def _ends_with_anchor(body: str) -> bool:
    return body.endswith("$") and not body.endswith("\\$")


def _split_anchor_groups(pattern: str) -> tuple[list[str] | None, str, list[str] | None]:
    """Peel a leading ``(?:^|...)`` and a trailing ``(?:...|$)`` group off ``pattern``.

    These are the only places an anchor may appear other than the very start
    and end: Lucene has no anchors, so each alternative gets the ``.*`` the
    unanchored side needs, and the anchored alternative gets none.
    """
    head = tail = None
    if pattern.startswith("(?:"):
        end = _group_end(pattern, 0)
        alts = _alternatives(pattern[3:end])
        if "^" in alts and end < len(pattern) - 1:
            head, pattern = alts, pattern[end + 1 :]
    if pattern.endswith(")"):
        start = _group_start(pattern)
        if start is not None and pattern.startswith("(?:", start):
            alts = _alternatives(pattern[start + 3 : -1])
            if "$" in alts and start > 0:
                tail, pattern = alts, pattern[:start]
    return head, pattern, tail


def _group_end(p: str, start: int) -> int:
    """Index of the ``)`` closing the group opened at ``start``."""
    depth, i, in_class = 0, start, False
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise UnsupportedRegex(f"unbalanced parentheses in {p!r}")


def _group_start(p: str) -> int | None:
    """Start of the top-level group that ends at the last character, if the pattern ends with one."""
    i = 0
    last = None
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(p, i) + 1
            continue
        if c == "(":
            end = _group_end(p, i)
            if end == len(p) - 1:
                last = i
            i = end + 1
            continue
        i += 1
    return last


def _class_end(p: str, start: int) -> int:
    i = start + 1
    if i < len(p) and p[i] == "^":
        i += 1
    if i < len(p) and p[i] == "]":
        i += 1
    while i < len(p):
        if p[i] == "\\":
            i += 2
            continue
        if p[i] == "]":
            return i
        i += 1
    raise UnsupportedRegex(f"unterminated character class in {p!r}")


def _alternatives(inner: str) -> list[str]:
    """Split a group body at its top-level ``|``."""
    alts, depth, i, cur, in_class = [], 0, 0, [], False
    while i < len(inner):
        c = inner[i]
        if c == "\\":
            cur.append(inner[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            alts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    alts.append("".join(cur))
    return alts


def _translate(p: str, ignore_case: bool) -> str:
    out: list[str] = []
    i = 0
    n = len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            if i + 1 >= n:
                raise UnsupportedRegex("pattern ends with a lone backslash")
            nxt = p[i + 1]
            if nxt in _UNSUPPORTED_ESCAPES:
                raise UnsupportedRegex(f"{_UNSUPPORTED_ESCAPES[nxt]} has no Lucene equivalent")
            if nxt.isdigit():
                raise UnsupportedRegex("back-references have no Lucene equivalent")
            if nxt in _CLASS_ESCAPES:
                out.append("\\" + nxt)
            elif nxt in "nrtfv":
                out.append({"n": "\n", "r": "\r", "t": "\t", "f": "\f", "v": "\v"}[nxt])
            else:
                out.append(_literal(nxt, ignore_case))
            i += 2
        elif c == "[":
            end = _class_end(p, i)
            out.append(_translate_class(p[i + 1 : end], ignore_case))
            i = end + 1
        elif c == "(":
            if p.startswith("(?:", i):
                out.append("(")
                i += 3
            elif p.startswith("(?P<", i):
                close = p.index(">", i)
                out.append("(")
                i = close + 1
            elif p.startswith("(?", i):
                raise UnsupportedRegex(f"{p[i : i + 4]}... (look-around or inline flag) has no Lucene equivalent")
            else:
                out.append("(")
                i += 1
        elif c in "*+?}" and i + 1 < n and p[i + 1] == "?":
            out.append(c)  # lazy and greedy quantifiers match the same set of values
            i += 2
        elif c == "^":
            if i != 0:
                raise UnsupportedRegex(
                    "'^' inside the pattern (only at the start, or as an alternative of a leading group)"
                )
            i += 1
        elif c == "$":
            if i != n - 1:
                raise UnsupportedRegex(
                    "'$' inside the pattern (only at the end, or as an alternative of a trailing group)"
                )
            i += 1
        elif c in _LUCENE_OPERATORS:
            out.append("\\" + c)
            i += 1
        elif c.isalpha() and ignore_case and c.lower() != c.upper():
            out.append(f"[{c.lower()}{c.upper()}]")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _literal(c: str, ignore_case: bool) -> str:
    if ignore_case and c.isalpha() and c.lower() != c.upper():
        return f"[{c.lower()}{c.upper()}]"
    return c if c.isalnum() else "\\" + c


def _translate_class(body: str, ignore_case: bool) -> str:
    """A character class, with both cases of its letters when ``ignore_case``."""
    negated = body.startswith("^")
    if negated:
        body = body[1:]
    items: list[str] = []
    extra: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\":
            esc = body[i + 1]
            items.append("\\" + esc)
            if ignore_case and esc.isalpha() and esc not in _CLASS_ESCAPES:
                extra.append(esc.swapcase())
            i += 2
            continue
        c = body[i]
        if i + 2 < len(body) and body[i + 1] == "-" and body[i + 2] != "]":
            lo, hi = c, body[i + 2]
            items.append(f"{_class_char(lo)}-{_class_char(hi)}")
            if ignore_case and lo.isalpha() and hi.isalpha() and lo.islower() == hi.islower():
                extra.append(f"{lo.swapcase()}-{hi.swapcase()}")
            i += 3
            continue
        items.append(_class_char(c))
        if ignore_case and c.isalpha() and c.lower() != c.upper():
            extra.append(c.swapcase())
        i += 1
    return "[" + ("^" if negated else "") + "".join(items + extra) + "]"


def _class_char(c: str) -> str:
    return "\\" + c if c in _LUCENE_OPERATORS or c in "[]\\-" else c
