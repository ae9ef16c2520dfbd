from __future__ import annotations

from datetime import date

import pytest

from sentinel.classify import validators as v
from sentinel.classify.catalog import load_catalog
from tests.content import CLASSIFIERS

CODES = frozenset(p.cccd for p in load_catalog(CLASSIFIERS).former_provinces)


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


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [("1111", True), ("1234", True), ("4321", True), ("8901", True), ("1098", True), ("1212", False),
     ("1357", False), ("1122", False), ("1233", False), ("5", True)],
)  # fmt: skip
def test_placeholders_are_one_digit_or_a_straight_run(value: str, placeholder: bool) -> None:
    assert v._repetitive(value) is placeholder


def test_cccd_without_province_codes_checks_the_rest() -> None:
    assert v.cccd("003085012387")  # no list of codes: any first three digits
    assert v.cccd("001 085 012 387", CODES)  # written with spaces
    assert not v.cccd("001685012387", CODES)  # century digit 6
    assert not v.cccd("0010850123870", CODES)  # 13 digits


@pytest.mark.parametrize(
    ("value", "ok"),
    [("013579246", True), ("383579246", True), ("393579246", False), ("003579246", False),
     ("01357924", False), ("0135792468", False), ("123456789", False), ("013 579 246", True)],
)  # fmt: skip
def test_cmnd_area_code_and_length(value: str, ok: bool) -> None:
    assert v.cmnd(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("7912345670", True), ("0112345670", True), ("0012345670", False), ("0123456789", False),
     ("791234567", False), ("DN4797912345678", True), ("DN 479 791 234 5678", True), ("D14797912345678", False),
     ("DNA797912345678", False), ("DN479791234567X", False), ("DN4791111111111", False)],
)  # fmt: skip
def test_bhxh_number_and_health_card(value: str, ok: bool) -> None:
    assert v.bhxh(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("C3819274", True), ("C1111111", False), ("B1234567", False), ("N7654321", False)],
)
def test_passport_is_not_a_run(value: str, ok: bool) -> None:
    assert v.passport(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("3819274", False), ("38192740", True), ("3819274038192740381", True), ("38192740381927403819", False),
     ("0451 000 123 456", True), ("00000000", False), ("12345678", False)],
)  # fmt: skip
def test_bank_account_length_bounds(value: str, ok: bool) -> None:
    assert v.bank_account(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("11A-123.45", True), ("10A-123.45", False), ("99A-123.45", True), ("30A-000.00", False), ("30A-000.01", True)],
)
def test_plate_locality_and_serial_bounds(value: str, ok: bool) -> None:
    assert v.plate(value) is ok


def test_birth_date_bounds() -> None:
    today = date.today()
    assert v.birth_date("01/01/1900") and not v.birth_date("31/12/1899")
    assert v.birth_date(today.strftime("%d/%m/%Y")) and v.birth_date(today.isoformat())
    tomorrow = date.fromordinal(today.toordinal() + 1)
    assert not v.birth_date(tomorrow.strftime("%d/%m/%Y"))
    assert not v.birth_date("no date here") and not v.birth_date("31/04/1990")
    assert v.birth_date("sinh ngày 05-11-1987 tại Huế")  # found inside text, any separator


@pytest.mark.parametrize(
    ("value", "ok"),
    [("0084 912 384 657", True), ("+84 (0)912 384 657", True), ("(+84) 912384657", True), ("+84912384657", True),
     ("+1 202 555 0143", False), ("0912 111 1111", False), ("024 3111 1111", False), ("not a phone", False)],
)  # fmt: skip
def test_phone_international_forms(value: str, ok: bool) -> None:
    assert v.phone(value) is ok
