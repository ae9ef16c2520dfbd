"""Checks that turn a digit pattern into an identifier (referenced by name from YAML).

A bare 12-digit run is not a citizen ID; one whose province code, gender and
century digit and birth year are consistent probably is. Each validator takes
the matched text and returns True when the value can be that identifier.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import date

import phonenumbers
from stdnum.vn import mst as stdnum_mst

_DIGITS = re.compile(r"\D")


def digits(text: str) -> str:
    """The digits of ``text`` (identifiers are written with spaces, dots and dashes)."""
    return _DIGITS.sub("", text)


def _repetitive(d: str) -> bool:
    """All one digit, or a straight run such as 123456789: placeholders, not identifiers."""
    if len(set(d)) == 1:
        return True
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(d)}
    return len(steps) == 1 and steps <= {1, 9}


def cccd(text: str, province_codes: frozenset[str] | None = None) -> bool:
    """12 digits: province code, gender/century digit, two-digit birth year, 6 digits.

    ``province_codes`` are the valid first three digits (the 63 former
    provinces, from ``classifiers/former_provinces.yaml``); None skips that check.
    """
    d = digits(text)
    if len(d) != 12 or _repetitive(d):
        return False
    if province_codes is not None and d[:3] not in province_codes:
        return False
    century_digit = int(d[3])
    if century_digit > 5:
        return False
    year = 1900 + 100 * (century_digit // 2) + int(d[4:6])
    return year <= date.today().year


def cmnd(text: str) -> bool:
    """9-digit people's ID card (before 2016): the first two digits are the issuing police area, 01..38."""
    d = digits(text)
    return len(d) == 9 and not _repetitive(d) and 1 <= int(d[:2]) <= 38


def bhxh(text: str) -> bool:
    """10-digit social-insurance number (first two digits: issuing province), or the 15-character health card."""
    compact = text.replace(" ", "")
    if len(compact) == 15:
        return compact[:2].isalpha() and compact[2].isdigit() and compact[3:].isdigit() and not _repetitive(compact[5:])
    d = digits(text)
    return len(d) == 10 and not _repetitive(d) and d[:2] != "00"


def mst(text: str) -> bool:
    """Tax code: 10 digits whose last is the check digit, optionally -NNN for a branch."""
    compact = text.replace(" ", "")
    return not _repetitive(digits(compact)[:10]) and stdnum_mst.is_valid(compact)


# Mobile prefixes of the current numbering plan (after the 2018 conversion from 11 digits).
_MOBILE = re.compile(r"0(?:3[2-9]|5[25689]|7[06-9]|8[1-9]|9[0-46-9])\d{7}")


def phone(text: str) -> bool:
    """A Vietnamese mobile number (current prefixes) or a landline number phonenumbers accepts.

    Written with spaces, dots or dashes, with ``+84``, ``0084`` or ``(+84)``, and
    with the trunk zero in brackets after the country code (``+84 (0)912 ...``).
    """
    text = text.replace("(0)", "").replace("(+84)", "+84")
    d = digits(text)
    national = "0" + d[4:] if d.startswith("0084") else "0" + d[2:] if text.lstrip().startswith("+84") else d
    if _MOBILE.fullmatch(national):
        return not _repetitive(national[-7:])
    try:
        number = phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException:
        return False
    return number.country_code == 84 and phonenumbers.is_valid_number(number) and not _repetitive(digits(text)[-7:])


def plate(text: str) -> bool:
    """Vehicle plate: the two-digit locality code is 11..99 and the serial is not all zeros."""
    d = digits(text)
    return 11 <= int(d[:2]) <= 99 and int(d[2:] or "0") > 0


def passport(text: str) -> bool:
    """A letter and seven digits, not a run of one digit."""
    return not _repetitive(text[1:])


def bank_account(text: str) -> bool:
    """8..19 digits that are not a placeholder run."""
    d = digits(text)
    return 8 <= len(d) <= 19 and not _repetitive(d)


_DATE = re.compile(r"(\d{1,4})\D+(\d{1,2})\D+(\d{1,4})")


def birth_date(text: str) -> bool:
    """A real calendar date between 1900 and today (day-first, or ISO year-first)."""
    m = _DATE.search(text)
    if not m:
        return False
    a, b, c = (int(g) for g in m.groups())
    year, month, day = (a, b, c) if len(m.group(1)) == 4 else (c, b, a)
    try:
        value = date(year, month, day)
    except ValueError:
        return False
    return date(1900, 1, 1) <= value <= date.today()


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "cccd": cccd,
    "cmnd": cmnd,
    "bhxh": bhxh,
    "mst": mst,
    "phone": phone,
    "plate": plate,
    "passport": passport,
    "bank_account": bank_account,
    "birth_date": birth_date,
}
