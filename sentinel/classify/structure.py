"""Blanking protocol and format structure out of a text before personal-data recognition reads it.

Some structure has the shape of personal data: FortiGate's ``logid="0316013056"``
is a valid mobile number, SSH's ``rijndael-cbc@lysator.liu.se`` a valid e-mail
address. Such tokens are declared once, as ``structure:`` in
``classifiers/recognizers.yaml`` (a regex, a literal it needs, real examples),
and :func:`blank_structure` replaces what they match with spaces of the same
length, so offsets into the text stay valid and nothing glued to the token is
read with it. Every reader of text goes through it: :func:`analyze_text` (so the
protector, role views, ``classify`` and the repository check alike) and the
protector's pass over glued pieces. A token regex matches only structure a
citizen's identifier cannot take the place of (a named vendor field, an
algorithm list), so identifiers elsewhere in the same text are still read.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from sentinel.classify.catalog import load_catalog


class Structure:
    """The compiled structural tokens of one classifier folder."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = [(literal, re.compile(regex)) for literal, regex in tokens]

    def blank(self, text: str) -> str:
        """``text`` with every structural token replaced by spaces (same length)."""
        for literal, regex in self.tokens:
            if literal in text:
                text = regex.sub(lambda m: " " * (m.end() - m.start()), text)
        return text


@lru_cache(maxsize=8)
def structure_for(classifiers_dir: Path) -> Structure:
    """The structural tokens declared in ``classifiers_dir``."""
    catalog = load_catalog(classifiers_dir)
    return Structure([(t.literal, t.regex) for t in catalog.recognizers.structure])


def blank_structure(text: str, classifiers_dir: Path) -> str:
    """``text`` with the structural tokens of ``classifiers_dir`` blanked out (see the module docstring)."""
    return structure_for(classifiers_dir).blank(text)
