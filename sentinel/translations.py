"""The languages users read, and the translation tables content files carry.

Rules and playbooks are written in English, the language of Sigma, CACAO and the
tools that share them; each file carries its other languages in a table beside
the text it translates (``translations: {vi: {...}}`` in a rule,
``x_sentinel_translations`` in a playbook), so a reviewer sees both in one diff
and a rule shared with another SOC stays plain Sigma. The console picks the
text of the reader's language and falls back to the English original.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

LANGUAGES = ("vi", "en")  # what the console speaks; the first is the default
SOURCE = "en"  # the language content files are written in
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != SOURCE)
LANGUAGE_NAMES = {"vi": "Vietnamese", "en": "English"}


def check_languages(table: Mapping[str, Any]) -> Mapping[str, Any]:
    """A translation table keyed by the languages content is translated into (not the source's own)."""
    for lang in table:
        if lang not in TRANSLATED:
            known = ", ".join(f"{code} ({LANGUAGE_NAMES[code]})" for code in TRANSLATED)
            raise ValueError(f"{lang!r} is not a language to translate into: use {known}")
    return table


def pick(original: str, table: Mapping[str, BaseModel] | None, lang: str, key: str) -> str:
    """``key`` of the ``lang`` entry of ``table`` when it is there, else the original text."""
    entry = (table or {}).get(lang)
    text = getattr(entry, key, None) if entry is not None else None
    return text or original
