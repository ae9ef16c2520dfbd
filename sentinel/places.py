"""The places a person may be limited to: the 34 provinces and 3,321 communes of the 2025 gazetteer.

A scope is compared with alert and event labels (which the address plan fills
with the gazetteer's names), so a user created with ``Ha Noi`` or a token
claiming ``Hà Nội`` would silently see nothing. Every way a scope enters
Sentinel -- ``sentinel users add``, ``sentinel tokens create``, OIDC claims --
checks it here and is refused with the nearest official names.
"""

from __future__ import annotations

import difflib
from functools import lru_cache

from sentinel.classify import fold
from sentinel.errors import Invalid

_PREFIXES = ("thanh pho ", "tinh ", "phuong ", "xa ", "dac khu ", "thi tran ")


class UnknownPlace(Invalid):
    """A province or commune that is not in the 2025 gazetteer (the message suggests the nearest names)."""


@lru_cache(maxsize=1)
def gazetteer() -> dict[str, frozenset[str]]:
    """Province name -> the names of its communes (wards, communes, special zones), from vietnam-provinces."""
    import vietnam_provinces as vp

    provinces = {p.code.value: p.name for p in vp.Province.iter_all()}
    communes: dict[str, set[str]] = {name: set() for name in provinces.values()}
    for ward in vp.Ward.iter_all():
        communes[provinces[ward.province_code.value]].add(ward.name)
    return {p: frozenset(c) for p, c in communes.items()}


def _key(name: str) -> str:
    folded = " ".join(fold(name).replace("-", " ").split())
    for prefix in _PREFIXES:
        if folded.startswith(prefix):
            return folded[len(prefix) :]
    return folded


def _suggest(name: str, choices: frozenset[str] | list[str]) -> list[str]:
    """Official names for a near miss: the same name without diacritics, case or prefix, else the closest."""
    same = sorted(c for c in choices if _key(c) == _key(name))
    if same:
        return same
    keyed = {_key(c): c for c in choices}
    return [keyed[k] for k in difflib.get_close_matches(_key(name), list(keyed), n=3, cutoff=0.75)]


def check_scope(province: str | None, commune: str | None) -> None:
    """Raise :class:`UnknownPlace` unless ``province`` (and ``commune``, inside it) are gazetteer names."""
    if commune and not province:
        raise UnknownPlace("a commune scope needs its province too (--province)")
    if not province:
        return
    places = gazetteer()
    if province not in places:
        hint = _suggest(province, list(places))
        raise UnknownPlace(
            f"{province!r} is not one of the 34 provinces of the 2025 gazetteer"
            + (f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else "")
        )
    if commune and commune not in places[province]:
        hint = _suggest(commune, places[province])
        elsewhere = sorted(p for p, cs in places.items() if commune in cs)
        raise UnknownPlace(
            f"{commune!r} is not a commune of {province}"
            + (f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else "")
            + (f" (a commune of that name is in {', '.join(elsewhere)})" if elsewhere else "")
        )
