"""Identifiers glued to other characters: the pieces of a string the recognisers would otherwise never see.

The recognisers' patterns refuse a preceding letter, ``-``, ``/`` or ``_`` (so a
dossier code or a request id is not read as a citizen ID), which is right for
free text but lets ``req-001099012345``, ``CCCD_001099012345.pdf``,
``/ho-so/001099012345/giay-to.pdf`` or ``nguyen@example.vn.pdf`` through. This
module cuts such strings into *candidate pieces* -- digit runs of identifier
length (with a ``+84``/``0084`` prefix when there is one) and the plausible
addresses inside an ``@`` token -- and the protector hands each piece to the
same recognisers on a line of its own. The validators still decide (a CCCD's
province code and birth year, a phone's prefix, an address's domain), so
dossier codes, timestamps and other digit runs stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# A run of 9-12 digits (CMND, phone, BHXH, MST, CCCD) not inside a longer run, with its country prefix.
_DIGITS = re.compile(r"(?<!\d)(?:\+84|0084)?\d{9,12}(?!\d)")
# What the recognisers' patterns refuse just before / after an identifier: a piece so glued needs its own line.
_GLUE_BEFORE = re.compile(r"[\w/+-]")
_GLUE_AFTER = re.compile(r"[\w/-]")
# An ``@`` token, liberally: the address is somewhere inside, between separators the recognisers stop at.
_AT_TOKEN = re.compile(r"[^\s\"'<>()\[\]{},;:\\|]{1,128}@[^\s@\"'<>()\[\]{},;:\\|]{3,255}")
_LOCAL_CUT = re.compile(r"[^A-Za-z0-9]")  # a local part may start after any of these
_DOMAIN_CUT = re.compile(r"[._/-]")  # a domain may end before any of these
MAX_EMAIL_CANDIDATES = 24
# ASCII digits as "9", every other byte as "_": where nine digits in a row are, found with bytes.find.
_DIGIT_SHAPE = bytes(0x39 if 0x30 <= c <= 0x39 else 0x5F for c in range(256))
_NINE = b"9" * 9


def glued_digits(text: str) -> Iterator[str]:
    """Digit runs in ``text`` glued to a character the identifier patterns refuse next to them."""
    for start, end in glued_digit_spans(text):
        yield text[start:end]


def glued_digit_spans(text: str, windows: list[tuple[int, int]] | None = None) -> Iterator[tuple[int, int]]:
    """Where :func:`glued_digits` finds its runs: (start, end) of each, in order.

    In ASCII text a run is looked for only where the bytes' shape has nine digits in a row (at memory
    speed), from the character before them (a ``+`` of ``+84``) to the end of their run: no match of
    the run pattern is elsewhere, and the pattern's lookbehind still sees the text before the window.
    ``windows``: what :func:`digit_windows` gave for ``text``, if the caller has it already.
    """
    for pos, endpos in digit_windows(text) if windows is None else windows:
        for match in _DIGITS.finditer(text, pos, endpos):
            start, end = match.span()
            before = text[start - 1] if start else ""
            after = text[end] if end < len(text) else ""
            if (before and _GLUE_BEFORE.match(before)) or (after and _GLUE_AFTER.match(after)):
                yield start, end


def digit_windows(text: str) -> list[tuple[int, int]]:
    """Stretches of ``text`` that hold every run of nine digits or more (with the character before each)."""
    if not text.isascii():  # other scripts' digits are digits too: the whole text
        return [(0, len(text))]
    shape = text.encode("ascii").translate(_DIGIT_SHAPE)
    windows = []
    start = shape.find(_NINE)
    while start >= 0:
        end = shape.find(b"_", start)
        end = len(shape) if end < 0 else end
        windows.append((max(0, start - 1), end))
        start = shape.find(_NINE, end)
    return windows


def email_candidates(token: str) -> list[str]:
    """Addresses that ``token`` (``x.nguyen@example.vn.pdf``) may contain, longest first.

    Every ``@`` of the token may be the address's own: ``user@nguyen@example.vn`` holds one after
    its last ``@``, ``nguyen@example.vn_@abc`` one before it. Local parts start at the token's start
    or after a non-alphanumeric character; domains end at the next ``@``, at the token's end, or
    before ``.``, ``-``, ``_`` or ``/``. The recogniser then accepts the ones with a real domain;
    the caller keeps the longest it accepts, so the whole glued address is replaced.
    """
    seen: dict[str, None] = {}
    for at in (i for i, c in enumerate(token) if c == "@"):
        local, domain = token[:at], token[at + 1 :].split("@", 1)[0]
        locals_ = [local] + [local[m.end() :] for m in _LOCAL_CUT.finditer(local) if m.end() < len(local)]
        domains = [domain] + [domain[: m.start()] for m in _DOMAIN_CUT.finditer(domain) if "." in domain[: m.start()]]
        for loc in locals_:
            for dom in domains:
                if loc and dom and loc[0].isalnum() and dom[-1].isalnum() and "@" not in loc:
                    seen.setdefault(f"{loc}@{dom}", None)
    return sorted(seen, key=len, reverse=True)[:MAX_EMAIL_CANDIDATES]


def at_tokens(text: str) -> Iterator[str]:
    """The ``@`` tokens of ``text`` (``CCCD_nguyen@example.vn.pdf``)."""
    for _, token in at_token_starts(text):
        yield token


def at_token_starts(text: str) -> Iterator[tuple[int, str]]:
    """Each ``@`` token of ``text`` with where it starts."""
    if "@" in text:
        for match in _AT_TOKEN.finditer(text):
            yield match.start(), match.group(0)
