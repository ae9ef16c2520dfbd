"""Classifying a column from the distribution of its values, when its name says nothing.

Legacy exports name their columns ``col_4``, ``F12`` or ``truong_3``. One
9-digit number proves little, but a column where every value has nine digits
and a valid issuing-area code is a column of old ID numbers; a column of dates
that all fall between 1920 and 2015 and carry no time is a column of dates of
birth. Each test here looks at the whole sampled column, and reports the
evidence it used (share of values, validators passed, the distribution test)
so a DPO can see why a column was classified.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sentinel.classify import validators
from sentinel.classify.catalog import Catalog
from sentinel.classify.normalize import fold, plain_text

SHAPE_SHARE = 0.9  # share of values that must have the identifier's shape
VALID_SHARE = 0.9  # share of those that must pass its validator
TERM_SHARE = 0.8  # share of values that must be a listed term (ethnic group, religion, gender)
BANK_NAME_SHARE = 0.5  # share of a neighbouring column's values naming a bank
MIN_VALUES = 5  # fewer values prove nothing about a distribution
MIN_DISTINCT = 0.5  # identifiers are mostly distinct (a column of one repeated code is a label)
BIRTH_YEARS = (1920, 2015)

_NINE = re.compile(r"\d{9}")
_TEN = re.compile(r"\d{10}")
_ACCOUNT = re.compile(r"\d[\d ]{6,22}\d")
_DATE_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?Z?)?")


@dataclass
class ColumnEvidence:
    """Why a column was given an entity from its distribution."""

    entity: str
    share: float
    test: str
    validators: list[str] = field(default_factory=list)
    values: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "distribution",
            "share": round(self.share, 3),
            "values": self.values,
            "validators": self.validators,
            "test": self.test,
        }


def _share(values: list[str], test: Callable[[str], bool]) -> float:
    return sum(1 for v in values if test(v)) / len(values) if values else 0.0


def _distinct(values: list[str]) -> float:
    return len(set(values)) / len(values) if values else 0.0


def birth_date(value: str) -> date | None:
    """The calendar date a whole value writes without a time of day (day first, or ISO), else None."""
    m = _DATE_DMY.fullmatch(value)
    if m:
        day, month, year = (int(g) for g in m.groups())
    else:
        m = _DATE_ISO.fullmatch(value)
        if not m:
            return None
        year, month, day = (int(g) for g in m.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


class ColumnProfiler:
    """The distribution tests, bound to the catalog's term lists and province codes."""

    def __init__(self, catalog: Catalog) -> None:
        self.terms = {
            entity: {fold(t).strip() for t in catalog.terms.get(name, [])}
            for entity, name in (("ETHNICITY", "ethnicity"), ("RELIGION", "religion"), ("GENDER", "gender"))
        }
        banks = sorted({re.escape(fold(b)) for b in catalog.terms.get("banks", [])}, key=len, reverse=True)
        self._banks = re.compile(rf"(?<![a-z0-9])(?:{'|'.join(banks) or '(?!)'})(?![a-z0-9])")
        # social-insurance numbers start with the province's statistical code (the CCCD code without its 0)
        self.bhxh_codes = frozenset(p.cccd[1:] for p in catalog.former_provinces)
        self.cccd_codes = frozenset(p.cccd for p in catalog.former_provinces)

    def names_banks(self, values: Iterable[str]) -> bool:
        """Whether a column holds bank names (the neighbour that makes digit runs account numbers)."""
        vals = [fold(v) for v in values if v.strip()]
        if len(vals) < MIN_VALUES:
            return False
        return _share(vals, lambda v: self._banks.search(v) is not None) >= BANK_NAME_SHARE

    def profile(self, values: list[str], bank_column: str | None = None) -> ColumnEvidence | None:
        """The entity the column's distribution shows, with its evidence; None when no test holds."""
        vals = [plain_text(v.strip()) for v in values if v and v.strip()]  # ０１２ is 012 to the validators too
        if len(vals) < MIN_VALUES:
            return None
        for test in (self._cmnd, self._bhxh, self._birth_dates, self._terms):
            found = test(vals)
            if found is not None:
                return found
        if bank_column is not None:
            return self._bank_accounts(vals, bank_column)
        return None

    def _cmnd(self, vals: list[str]) -> ColumnEvidence | None:
        shaped = [v for v in vals if _NINE.fullmatch(v)]
        if len(shaped) / len(vals) < SHAPE_SHARE or _distinct(shaped) < MIN_DISTINCT:
            return None
        valid = _share(shaped, validators.cmnd)
        if valid < VALID_SHARE:
            return None
        return ColumnEvidence(
            "VN_CMND",
            len(shaped) / len(vals) * valid,
            f"{len(shaped)} of {len(vals)} values are 9 digits; {valid:.0%} of them start with an issuing-area code",
            ["9 digits", "issuing-area code 01-38", "not a placeholder run"],
            len(vals),
        )

    def _bhxh(self, vals: list[str]) -> ColumnEvidence | None:
        shaped = [v for v in vals if _TEN.fullmatch(v)]
        if len(shaped) / len(vals) < SHAPE_SHARE or _distinct(shaped) < MIN_DISTINCT:
            return None
        phones = _share(shaped, validators.phone)
        tax = _share(shaped, validators.mst)
        if phones >= 0.5 or tax >= 0.5:
            return None  # phone numbers and tax codes have their own recognizers
        coded = _share(shaped, lambda v: v[:2] in self.bhxh_codes and validators.bhxh(v))
        if coded < VALID_SHARE:
            return None
        return ColumnEvidence(
            "VN_BHXH",
            len(shaped) / len(vals) * coded,
            f"{len(shaped)} of {len(vals)} values are 10 digits; {coded:.0%} start with a province code, "
            f"{phones:.0%} are phone numbers, {tax:.0%} pass the tax-code check digit (chance: about 9%)",
            ["10 digits", "province code", "not a phone number", "not a tax code"],
            len(vals),
        )

    def _birth_dates(self, vals: list[str]) -> ColumnEvidence | None:
        dates = [d for d in (birth_date(v) for v in vals) if d is not None]
        if len(dates) / len(vals) < SHAPE_SHARE:
            return None
        low, high = BIRTH_YEARS
        years = [d.year for d in dates]
        if min(years) < low or max(years) > high:
            return None
        if len(dates) >= 10 and len(set(years)) < 3:
            return None  # one or two years: event dates of a period, not births
        return ColumnEvidence(
            "DATE_OF_BIRTH",
            len(dates) / len(vals),
            f"{len(dates)} of {len(vals)} values are dates without a time, all between {min(years)} and "
            f"{max(years)} (birth range {low}-{high}), {len(set(years))} distinct years",
            ["calendar date", f"year {low}-{high}", "no time of day"],
            len(vals),
        )

    def _terms(self, vals: list[str]) -> ColumnEvidence | None:
        folded = [fold(v) for v in vals]
        for entity, terms in self.terms.items():
            share = _share(folded, lambda v, t=terms: v in t)
            if share >= TERM_SHARE:
                listed = {"ETHNICITY": "the 54 ethnic groups", "RELIGION": "the religions list", "GENDER": "genders"}
                return ColumnEvidence(
                    entity,
                    share,
                    f"{share:.0%} of {len(vals)} values are entries of {listed[entity]}",
                    [f"whole value in {listed[entity]}"],
                    len(vals),
                )
        return None

    def _bank_accounts(self, vals: list[str], bank_column: str) -> ColumnEvidence | None:
        shaped = [validators.digits(v) for v in vals if _ACCOUNT.fullmatch(v)]
        if len(shaped) / len(vals) < SHAPE_SHARE or _distinct(shaped) < MIN_DISTINCT:
            return None
        lengths = _share(shaped, validators.bank_account)
        phones = _share(shaped, validators.phone)
        ids = _share(shaped, lambda v: validators.cccd(v, self.cccd_codes))
        if lengths < VALID_SHARE or phones >= 0.5 or ids >= 0.5:
            return None
        return ColumnEvidence(
            "VN_BANK_ACCOUNT",
            len(shaped) / len(vals) * lengths,
            f"{len(shaped)} of {len(vals)} values are runs of 8-19 digits next to column {bank_column!r} of bank "
            f"names; {phones:.0%} are phone numbers, {ids:.0%} citizen IDs",
            ["8-19 digits", "bank names in a neighbouring column", "not a phone number", "not a citizen ID"],
            len(vals),
        )
