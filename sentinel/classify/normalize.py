"""Vietnamese text folding: lower case without diacritics, offsets preserved.

Records mix spellings (``Số điện thoại``, ``so dien thoai``, ``SĐT``), so
context words, name hints and gazetteer look-ups compare folded text. Folding
maps each character to exactly one character, so a position found in the
folded text is the same position in the original.
"""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = {"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"}


def _fold_char(ch: str) -> str:
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    base = unicodedata.normalize("NFD", ch)[0].lower()
    return base if len(base) == 1 else ch


# One translation table for ASCII upper case and every precomposed Latin letter
# (Vietnamese uses Latin-1, Latin Extended-A/B and Latin Extended Additional).
_TABLE = {cp: _fold_char(chr(cp)) for cp in (*range(0x41, 0x5B), *range(0xC0, 0x250), *range(0x1E00, 0x1F00))}


def fold(text: str) -> str:
    """Lower-case ``text`` and strip Vietnamese diacritics; ``len(fold(t)) == len(t)``."""
    return text.translate(_TABLE)


# A decimal digit of another script: fullwidth (what East Asian input methods type), Arabic-Indic,
# Devanagari, mathematical ... Python's ``\d`` is exactly Unicode's decimal digits (category Nd).
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


def ascii_digits(text: str) -> str:
    """``text`` with every other script's decimal digit as its ASCII digit; ``len`` unchanged, so offsets hold
    (``text`` itself when it has none).

    ``００１０９９０１２３４５`` is the citizen ID ``001099012345`` to whoever reads it: the recognisers, their
    checksums and the operators read it as such, or an identifier typed in another script's digits
    would be stored raw.
    """
    if text.isascii() or _OTHER_DIGIT.search(text) is None:
        return text
    return _OTHER_DIGIT.sub(_ascii_digit, text)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^0-9a-z]+")


def name_tokens(field: str) -> list[str]:
    """Split a field name (snake, camel, kebab, dotted, with diacritics) into folded words.

    ``soDienThoai`` -> ``["so", "dien", "thoai"]``; ``dia_chi.thuong_tru`` ->
    ``["dia", "chi", "thuong", "tru"]``.
    """
    spaced = _CAMEL.sub(" ", unicodedata.normalize("NFC", field))
    return [t for t in _SEPARATORS.split(fold(spaced)) if t]
