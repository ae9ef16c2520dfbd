from __future__ import annotations

from datetime import date

import pytest

from sentinel.classify import validators as v
from sentinel.classify.catalog import load_catalog

CODES = frozenset(p.cccd for p in load_catalog().former_provinces)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("001085012387", True),  # Hà Nội, male, 1985
        ("079190004512", True),  # Hồ Chí Minh, female, 1990
        ("038203001234", True),  # Thanh Hóa, male, 2003
        ("003085012387", False),  # 003 was never a province code
        ("001785012387", False),  # century digit 7 (2300s)
        ("001299012387", False),  # born in 2099: in the future
        ("111111111111", False),  # placeholder
        ("00108501238", False),  # 11 digits
    ],
)
def test_cccd_structure(value: str, ok: bool) -> None:
    assert v.cccd(value, CODES) is ok


def test_cccd_birth_year_bound_is_today() -> None:
    yy = date.today().year % 100
    assert v.cccd(f"0012{yy:02d}012387", CODES)
    if yy < 99:
        assert not v.cccd(f"0012{yy + 1:02d}012387", CODES)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("0100109106", True), ("0100109106-001", True), ("0100109107", False), ("0000000000", False)],
)
def test_mst_check_digit(value: str, ok: bool) -> None:
    assert v.mst(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("0912 384 657", True),
        ("+84 971 222 333", True),
        ("0356784120", True),
        ("0524 580 337", True),  # prefixes the phonenumbers metadata lacks but the plan has
        ("0893040463", True),
        ("024 3825 1234", True),  # Hà Nội landline
        ("0112384657", False),  # 011 is not a mobile prefix
        ("0201234567", False),  # landlines have 11 digits
        ("0912345678", False),  # a run of digits: a placeholder
    ],
)
def test_phone_numbering_plan(value: str, ok: bool) -> None:
    assert v.phone(value) is ok


def test_plates_and_dates() -> None:
    assert v.plate("30A-123.45")
    assert not v.plate("05A-123.45")  # no locality code 05
    assert v.birth_date("29/02/2000")
    assert not v.birth_date("29/02/2001")
    assert not v.birth_date("01/01/1890")
    assert v.birth_date("1990-05-17")
