"""Vietnamese text folding: lower case without diacritics, offsets preserved.

Records mix spellings (``Số điện thoại``, ``so dien thoai``, ``SĐT``), so
context words, name hints and gazetteer look-ups compare folded text. Folding
maps each character to exactly one character, so a position found in the
folded text is the same position in the original.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPECIAL = {"đ": "d", "Đ": "d", "ð": "d"}


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    if ch.isascii():
        return ch.lower()
    base = unicodedata.normalize("NFD", ch)[0]
    return base.lower() if len(base.lower()) == 1 else ch


def fold(text: str) -> str:
    """Lower-case ``text`` and strip Vietnamese diacritics; ``len(fold(t)) == len(t)``."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(c) for c in text)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^0-9a-z]+")


def name_tokens(field: str) -> list[str]:
    """Split a field name (snake, camel, kebab, dotted, with diacritics) into folded words.

    ``soDienThoai`` -> ``["so", "dien", "thoai"]``; ``dia_chi.thuong_tru`` ->
    ``["dia", "chi", "thuong", "tru"]``.
    """
    spaced = _CAMEL.sub(" ", unicodedata.normalize("NFC", field))
    return [t for t in _SEPARATORS.split(fold(spaced)) if t]
