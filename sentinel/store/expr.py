"""The expression tree of a search query: what the parser produces and each store translates.

Kept apart from the parser (``sentinel.store.query``) so the store interface can
name it without importing the parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Term:
    """``field:value`` (``field`` None: a free-text word or phrase).

    ``kind``: ``exact`` (a whole value; a quoted text is a phrase), ``wildcard``
    (``value`` uses ``*`` and ``?``, with ``\\`` escaping a literal one, as
    Elasticsearch's wildcard query does) or ``exists`` (``field:*``).
    """

    field: str | None
    value: str
    kind: Literal["exact", "wildcard", "exists"] = "exact"
    phrase: bool = False


@dataclass(frozen=True)
class Range:
    """``field:[low TO high]``, ``{...}`` for exclusive bounds, ``field:>=x`` and friends; None is unbounded."""

    field: str
    low: str | None
    high: str | None
    include_low: bool = True
    include_high: bool = True

    def text(self) -> str:
        left = "[" if self.include_low else "{"
        right = "]" if self.include_high else "}"
        return f"{left}{self.low or '*'} TO {self.high or '*'}{right}"


@dataclass(frozen=True)
class And:
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    part: Expr


Expr = Term | Range | And | Or | Not


def leaves(expr: Expr | None) -> Iterator[Term | Range]:
    """Every term and range in the tree (what access checks look at)."""
    if expr is None:
        return
    if isinstance(expr, Term | Range):
        yield expr
    elif isinstance(expr, Not):
        yield from leaves(expr.part)
    else:
        for part in expr.parts:
            yield from leaves(part)
