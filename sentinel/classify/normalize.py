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


# What a reader takes for ASCII, one character for one (so offsets hold): a decimal digit of another script
# (fullwidth, Arabic-Indic, Devanagari, mathematical ...: Python's ``\d`` is Unicode's category Nd); a space
# other than U+0020 (no-break, thin, figure, ideographic ...), or an invisible format character (zero-width
# space and joiners, soft hyphen, word joiner, bidirectional controls, tag characters), read as a space; a
# dash, read as ``-``; the fullwidth forms of ASCII (``＠``, ``Ｂ``, ``（``).
_LOOKALIKE = re.compile(
    r"(?![0-9])\d"
    r"|[\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    r"|[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\U000e0000-\U000e007f]"
    r"|[\u2010-\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63]"
    r"|[\uff01-\uff5e]"
)


def _plain_char(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0)
    if char.isdecimal():
        return str(unicodedata.decimal(char))
    return "-" if unicodedata.category(char) == "Pd" or char == "\u2212" else " "


def plain_text(text: str) -> str:
    """``text`` as a reader reads it, in ASCII where it looks like ASCII; ``len`` unchanged, so offsets hold
    (``text`` itself when nothing changes).

    ``００１０９９０１２３４５``, ``0983\u00a0417\u00a0265`` (no-break spaces from a word processor) and
    ``001\u200b099\u200b012345`` (zero-width spaces) are the identifiers ``001099012345`` and ``0983 417 265``
    to whoever reads them: the recognisers, their checksums and the operators read them so, or an identifier
    typed or pasted that way would be stored raw.
    """
    if text.isascii() or _LOOKALIKE.search(text) is None:
        return text
    return _LOOKALIKE.sub(_plain_char, text)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^0-9a-z]+")


def name_tokens(field: str) -> list[str]:
    """Split a field name (snake, camel, kebab, dotted, with diacritics) into folded words.

    ``soDienThoai`` -> ``["so", "dien", "thoai"]``; ``dia_chi.thuong_tru`` ->
    ``["dia", "chi", "thuong", "tru"]``.
    """
    spaced = _CAMEL.sub(" ", unicodedata.normalize("NFC", field))
    return [t for t in _SEPARATORS.split(fold(spaced)) if t]
