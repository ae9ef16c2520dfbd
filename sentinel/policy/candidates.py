"""A cheap first pass that finds the lines where an identifier *could* be, so the recognisers read only those.

The Presidio recognisers read well under 1 MB/s; the repository check must
read tens of MB/s. Most lines of logs, fixtures and data files hold no
identifier, so a first pass marks candidate lines and only those go to
:func:`sentinel.classify.analyzer.analyze_text`, which alone decides.

The first pass works on the *shape* of the bytes (``bytes.translate``: digits
become ``9``, capitals ``A``, space/dot/hyphen ``.``) and looks for a few
literal shapes with ``bytes.find``, both at memory speed. The shapes are what
the classifier's identifier patterns need: a run of seven digits (citizen,
tax, insurance, bank and card numbers, phones, passports), two-to-four-digit
groups (``0912 345 678``), ``+84``, an area code in brackets ``(0``, a plate's
digits-then-capital, day-first and ISO dates, ``ngày <n>``, ``@``. The tests
check that realistic values of every pattern-based entity are candidates.
Entities found from words (names, addresses, health terms) are not
pre-filtered: the repository check finds them through field names and sampled
field values instead.
"""

from __future__ import annotations

from collections.abc import Iterator

_SHAPE = bytearray(b"_" * 256)
for _c in range(256):
    if 0x30 <= _c <= 0x39:
        _SHAPE[_c] = ord("9")
    elif 0x41 <= _c <= 0x5A:
        _SHAPE[_c] = ord("A")
    elif 0x61 <= _c <= 0x7A:
        _SHAPE[_c] = ord("a")
for _ch in b" .-":
    _SHAPE[_ch] = ord(".")
for _ch in b"/\n:":
    _SHAPE[_ch] = _ch
SHAPE_TABLE = bytes(_SHAPE)

# (shape, shapes that must not follow it)
SHAPES: tuple[tuple[bytes, bytes], ...] = (
    (b"9999999", b""),
    (b"99.99.99", b""),
    (b"99.999.99", b""),
    (b"99.9999.99", b""),
    (b"99A", b""),  # 30A-123.45, 29-B1 (below)
    (b"99.A", b""),
    (b"9/9/9999", b""),
    (b"9/99/9999", b""),
    (b"9.9.9999", b""),
    (b"9.99.9999", b""),
    (b"9999.99.99", b"9Aa:"),  # ISO date, not a timestamp's date part
)
RAW = (b"@", b"+84", b"0084", b"(0", "ngày ".encode())  # looked for in the lower-cased bytes


def candidate_lines(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) byte offsets of the lines of ``data`` that may hold an identifier, in order."""
    shape = data.translate(SHAPE_TABLE)
    lower = data.lower()
    starts: set[int] = set()
    for needle, not_after in SHAPES:
        yield from _lines_with(shape, data, needle, not_after, starts)
    for needle in RAW:
        yield from _lines_with(lower, data, needle, b"", starts)


def _lines_with(
    haystack: bytes, data: bytes, needle: bytes, not_after: bytes, starts: set[int]
) -> Iterator[tuple[int, int]]:
    pos = haystack.find(needle)
    while pos >= 0:
        after = pos + len(needle)
        if not_after and after < len(haystack) and haystack[after] in not_after:
            pos = haystack.find(needle, after)
            continue
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        if start not in starts:
            starts.add(start)
            yield start, end
        pos = haystack.find(needle, end + 1)
