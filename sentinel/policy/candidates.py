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

import re
from collections.abc import Callable, Iterator

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

_IPV4 = re.compile(rb"\d{1,3}(?:\.\d{1,3}){3}")
_DATETIME = re.compile(rb"(?:19|20)\d\d-\d\d-\d\d(?:[T ]\d\d:\d\d|\b)")
_TOKEN_EDGE = re.compile(rb"[\s\"'\[\](),;=&]")


def _token_start(data: bytes, pos: int) -> int:
    start = pos
    while start > 0 and not _TOKEN_EDGE.match(data, start - 1):
        start -= 1
    return start


def _not_address_or_time(data: bytes, shape: bytes, pos: int) -> bool:
    """Grouped digits, unless they are an IPv4 address or an ISO date(-time), which are no identifiers."""
    start = _token_start(data, pos)
    for pattern in (_IPV4, _DATETIME):
        m = pattern.match(data, start)
        if m is not None and m.start() <= pos < m.end():
            return False
    return True


def _plate_digits_follow(data: bytes, shape: bytes, pos: int) -> bool:
    """Digits then a capital is a plate only when three digits follow (``30A-123.45``, not ``20T01:15``)."""
    return b"999" in shape[pos + 3 : pos + 11]


def _not_timestamp(data: bytes, shape: bytes, pos: int) -> bool:
    """An ISO date that is not the date part of a timestamp (``2026-11-20T08:00``)."""
    after = pos + 10
    return after >= len(shape) or shape[after] not in b"9Aa:"


Accept = Callable[[bytes, bytes, int], bool]
# (shape, what else must hold)
SHAPES: tuple[tuple[bytes, Accept | None], ...] = (
    (b"9999999", None),
    (b"99.99.99", _not_address_or_time),
    (b"99.999.99", _not_address_or_time),
    (b"99.9999.99", _not_address_or_time),
    (b"99A", _plate_digits_follow),  # 30A-123.45, 51G 12345
    (b"99.A", _plate_digits_follow),  # 29-B1 123.45
    (b"9/9/9999", None),
    (b"9/99/9999", None),
    (b"9.9.9999", None),
    (b"9.99.9999", None),
    (b"9999.99.99", _not_timestamp),
)


def _mailbox(data: bytes, lower: bytes, pos: int) -> bool:
    """``@`` between a local part and a domain (not ``"@timestamp"``)."""
    return 0 < pos < len(lower) - 1 and lower[pos - 1 : pos].isalnum() and lower[pos + 1 : pos + 2].isalnum()


# looked for in the lower-cased bytes
RAW: tuple[tuple[bytes, Accept | None], ...] = (
    (b"@", _mailbox),
    (b"+84", None),
    (b"0084", None),
    (b"(0", None),
    ("ngày ".encode(), None),
)


def candidate_lines(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) byte offsets of the lines of ``data`` that may hold an identifier, in order."""
    shape = data.translate(SHAPE_TABLE)
    lower = data.lower()
    starts: set[int] = set()
    for needle, accept in SHAPES:
        yield from _lines_with(shape, data, needle, accept, starts)
    for needle, accept in RAW:
        yield from _lines_with(lower, data, needle, accept, starts)


def _lines_with(
    haystack: bytes, data: bytes, needle: bytes, accept: Accept | None, starts: set[int]
) -> Iterator[tuple[int, int]]:
    pos = haystack.find(needle)
    while pos >= 0:
        if accept is not None and not accept(data, haystack, pos):
            pos = haystack.find(needle, pos + 1)
            continue
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        if start not in starts:
            starts.add(start)
            yield start, end
        pos = haystack.find(needle, end + 1)
