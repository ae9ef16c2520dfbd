"""A cheap first pass that finds the lines where an identifier *could* be, so the recognisers read only those.

The Presidio recognisers read well under 1 MB/s; the repository check must
read tens of MB/s. Most lines of logs, fixtures and data files hold no
identifier, so a first pass marks candidate lines and only those go to
:func:`sentinel.classify.analyzer.analyze_text`, which alone decides.

The first pass works on the *shape* of the bytes (``bytes.translate``: digits
become ``9``, letters ``A``/``a``, spaces ``_``; dots, hyphens and slashes stay)
and looks for a few literal shapes with ``bytes.find``, both at memory speed. The shapes are what
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

import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick_rs

from sentinel.classify import plain_text

_SHAPE = bytearray(b"_" * 256)
for _c in range(256):
    if 0x30 <= _c <= 0x39:
        _SHAPE[_c] = ord("9")
    elif 0x41 <= _c <= 0x5A:
        _SHAPE[_c] = ord("A")
    elif 0x61 <= _c <= 0x7A:
        _SHAPE[_c] = ord("a")
for _ch in b"./-\n:":
    _SHAPE[_ch] = _ch  # separators keep their identity: an IPv4 address never has a 4-digit group
SHAPE_TABLE = bytes(_SHAPE)  # everything else, space included, becomes "_"


def _plate_digits_follow(shape: bytes, pos: int) -> bool:
    """Digits then a capital is a plate only when four or five digits follow it closely.

    Every plate form the recogniser knows (``30A-123.45``, ``51G 12345``, ``29-B1 123.45``) has at least
    four digits within nine characters of the series letter; the ``15E148`` in every iPhone browser's
    user agent does not (timestamps such as ``20T01:15:03`` are blanked before the search).
    """
    return shape[pos + 3 : pos + 12].count(b"9") >= 4


def _not_timestamp(shape: bytes, pos: int) -> bool:
    """An ISO date that is not the date part of a timestamp (``2026-11-20T08:00``)."""
    after = pos + 10
    return after >= len(shape) or shape[after] not in b"9Aa:_"


# ISO 8601 timestamps as shapes (fraction, "Z" or offset): blanked before the search, they are on every line.
_TIMESTAMP = re.compile(rb"9999-99-99[A_]99:99:99(?:\.9+)?(?:A|[+-]99:?99)?")


_COMMON_STAMPS = (b"9999-99-99A99:99:99.999A", b"9999-99-99A99:99:99A", b"9999-99-99_99:99:99")


def _blank(m: re.Match[bytes]) -> bytes:
    return b"_" * (m.end() - m.start())


Accept = Callable[[bytes, int], bool]
# (shape, what else must hold). Grouped digits: with spaces any grouping; with hyphens or dots a
# group of four digits or three three-digit groups, which IPv4 addresses and ISO dates never have.
SHAPES: tuple[tuple[bytes, Accept | None], ...] = (
    (b"9999999", None),
    (b"99_99_99", None),
    (b"99_999_99", None),
    (b"99_9999_99", None),
    (b"999-999-99", None),
    (b"99-9999-99", None),
    (b"9999-9999", None),
    (b"9999.999", None),
    (b"999.9999", None),
    (b"99A", _plate_digits_follow),  # 30A-123.45, 51G 12345
    (b"99-A", _plate_digits_follow),  # 29-B1 123.45
    (b"99_A", _plate_digits_follow),
    (b"9/9999", None),  # 15/03/1990
    (b"9.9.9999", None),  # 5.3.1990 (not "1.001612": a procedure code)
    (b"9.99.9999", None),
    (b"9-9999", None),  # 15-03-1990
    (b"9999-99-99", _not_timestamp),
)


# Term lists each word-based built-in recogniser starts from.
_BUILTIN_TERMS = {"person_names": ("surnames",), "addresses": ("admin_keywords", "street_keywords")}


def _mailbox(data: bytes, pos: int) -> bool:
    """``@`` between a local part and a domain (not ``"@timestamp"``)."""
    return 0 < pos < len(data) - 1 and data[pos - 1 : pos].isalnum() and data[pos + 1 : pos + 2].isalnum()


# looked for in the bytes themselves (+84 and 0084 numbers are digit runs or groups, found above)
RAW: tuple[tuple[bytes, Accept | None], ...] = (
    (b"@", _mailbox),
    (b"(0", None),  # (024) 3825 1234
    ("ngày ".encode(), None),  # ngày 5 tháng 3 năm 1990
    ("Ngày ".encode(), None),
)


@dataclass(frozen=True)
class Candidate:
    """A line that may hold an identifier, and where the candidate sits in the record's layout."""

    start: int
    end: int
    # The bytes just before the candidate's token (``"trace_id":"``, ``GET /api/ho-so/``): lines of one
    # log format share it, so a caller can stop analysing a layout that keeps yielding nothing.
    layout: bytes


def _shape(data: bytes) -> bytes:
    """The shape of ``data`` (see the module docstring), timestamps blanked out."""
    shape = data.translate(SHAPE_TABLE)
    for stamp in _COMMON_STAMPS:  # the usual forms at memory speed, then any other form
        shape = shape.replace(stamp, b"_" * len(stamp))
    return _TIMESTAMP.sub(_blank, shape)


def _plain_bytes(data: bytes) -> bytes | None:
    """``data`` as the recognisers read it (:func:`~sentinel.classify.normalize.plain_text`: other scripts'
    digits, no-break and zero-width spaces, fullwidth forms as ASCII); None when that changes nothing (the usual case).

    The first pass must read a text as they do, or it would pass over an identifier typed or pasted that way.
    """
    if data.isascii():
        return None
    text = data.decode("utf-8", "surrogateescape")  # bytes that are not UTF-8 come back as they were
    plain = plain_text(text)
    return None if plain is text else plain.encode("utf-8", "surrogateescape")


def candidate_lines(data: bytes) -> Iterator[Candidate]:
    """The lines of ``data`` that may hold an identifier, each once."""
    plain = _plain_bytes(data)
    if plain is not None:  # the same lines, read as the recognisers do: a character's bytes change, its line does not
        starts = [0, *(m.end() for m in re.finditer(rb"\n", data))]
        read = [0, *(m.end() for m in re.finditer(rb"\n", plain))]
        for c in _candidate_lines(plain):
            start = starts[bisect.bisect_right(read, c.start) - 1]
            end = data.find(b"\n", start)
            yield Candidate(start, len(data) if end < 0 else end, c.layout)
        return
    yield from _candidate_lines(data)


def _candidate_lines(data: bytes) -> Iterator[Candidate]:
    shape = _shape(data)
    raw = data.replace(b'"@timestamp"', b'"_timestamp"')
    starts: set[int] = set()
    for needle, accept in SHAPES:
        yield from _lines_with(shape, data, needle, accept, starts)
    for needle, accept in RAW:
        yield from _lines_with(raw, data, needle, accept, starts)


_SHAPE_NEEDLES = ahocorasick_rs.BytesAhoCorasick([needle for needle, _ in SHAPES])
_RAW_NEEDLES = ahocorasick_rs.BytesAhoCorasick([needle for needle, _ in RAW])
# Up to this size a text is searched for every shape in one automaton pass (its matches are listed at once).
_ONE_PASS_BYTES = 4096


def has_candidate(data: bytes) -> bool:
    """Whether :func:`candidate_lines` would yield a line of ``data``: one pass for all shapes on short texts.

    Ingest asks this of every field of every event, where a search per shape cost more than the answer.
    """
    data = _plain_bytes(data) or data
    if len(data) > _ONE_PASS_BYTES:
        return next(_candidate_lines(data), None) is not None
    shape = _shape(data)
    for index, start, _ in _SHAPE_NEEDLES.find_matches_as_indexes(shape, overlapping=True):
        accept = SHAPES[index][1]
        if accept is None or accept(shape, start):
            return True
    raw = data.replace(b'"@timestamp"', b'"_timestamp"')
    for index, start, _ in _RAW_NEEDLES.find_matches_as_indexes(raw, overlapping=True):
        accept = RAW[index][1]
        if accept is None or accept(raw, start):
            return True
    return False


_SEPARATORS = frozenset(b" \t\"'=:,;/?&()[]{}<>|")


def _layout(data: bytes, line_start: int, pos: int) -> bytes:
    token = pos
    while token > line_start and pos - token < 64 and data[token - 1] not in _SEPARATORS:
        token -= 1
    return data[max(line_start, token - 16) : token]


def _lines_with(
    haystack: bytes, data: bytes, needle: bytes, accept: Accept | None, starts: set[int]
) -> Iterator[Candidate]:
    pos = haystack.find(needle)
    while pos >= 0:
        if accept is not None and not accept(haystack, pos):
            pos = haystack.find(needle, pos + 1)
            continue
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        if start not in starts:
            starts.add(start)
            yield Candidate(start, end, _layout(data, start, pos))
        pos = haystack.find(needle, end + 1)


_IPV4_TEXT = re.compile(r"(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])")
_IPV6_TEXT = re.compile(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]*[0-9A-Fa-f]")


class Prefilter:
    """Which of some entities could be in a text at all, so the recognisers run only for those.

    Identifier entities need a candidate shape (:func:`candidate_lines`), IP
    addresses an address shape, and word-based recognisers one of their words:
    the term lists, the surnames a name starts with (capitalised), the address
    keywords, or -- for a recogniser that only reports with a context word, such
    as the CRF name tagger -- its context words.
    """

    def __init__(self, entities: Iterable[str], classifiers_dir: Path) -> None:
        from sentinel.classify import fold, load_catalog

        wanted = set(entities)
        catalog = load_catalog(classifiers_dir)  # the same term lists the recognizers use
        self.shaped: set[str] = set()
        self.addresses: set[str] = set()
        words: dict[tuple[str, bool], set[str]] = {}  # (word, needs a capital) -> entities
        for spec in catalog.recognizers.recognizers:
            if spec.entity not in wanted:
                continue
            if spec.patterns or spec.predefined in ("EmailRecognizer", "CreditCardRecognizer"):
                self.shaped.add(spec.entity)
                continue
            if spec.predefined == "IpRecognizer":
                self.addresses.add(spec.entity)
                continue
            capital = spec.builtin == "person_names"
            by_context = False
            if spec.terms:
                terms = catalog.terms[spec.terms]
            elif spec.builtin in _BUILTIN_TERMS:
                terms = [t for name in _BUILTIN_TERMS[spec.builtin] for t in catalog.terms.get(name, [])]
            else:
                terms, by_context = spec.context, True
            for term in terms:
                for variant in {term.lower(), fold(term)}:
                    # two-letter words ("số", "tp") are everywhere; a name's surname must also be capitalised; a
                    # title that alone lets a recogniser report ("bà" before a name) counts as written
                    short = capital or (by_context and not variant.isascii())
                    if len(variant.strip()) >= 3 or (short and variant.strip()):
                        words.setdefault((variant, capital), set()).add(spec.entity)
        # one entry per word: the entities it may signal, and whether every one of them needs a capital
        entries: dict[str, tuple[frozenset[str], bool]] = {}
        for (word, capital), ents in words.items():
            old = entries.get(word)
            entries[word] = (frozenset(ents) | (old[0] if old else frozenset()), capital and (old[1] if old else True))
        self._words = list(entries)
        self.words = tuple(self._words)  # every word looked for (lower case, with and without diacritics)
        self._entries = [entries[w] for w in self._words]
        self.automaton: ahocorasick_rs.AhoCorasick | None = None
        if entries:
            self.automaton = ahocorasick_rs.AhoCorasick(self._words, matchkind=ahocorasick_rs.MATCHKIND_STANDARD)

    def word_lines(self, text: str) -> dict[int, set[str]]:
        """Start offset of each line of ``text`` holding a word of a word-based entity -> those entities.

        The repository check reads free text with this: a line naming a disease, a
        religion or a person (a capitalised surname) goes to the recognisers, the others do not.
        """
        lines: dict[int, set[str]] = {}
        if self.automaton is None:
            return lines
        lower = text.lower()
        aligned = len(lower) == len(text)
        for index, start, end in self.automaton.find_matches_as_indexes(lower, overlapping=True):
            if (start and lower[start - 1].isalnum()) or (end < len(lower) and lower[end].isalnum()):
                continue
            ents, capital = self._entries[index]
            if capital and aligned and not text[start].isupper():
                continue
            lines.setdefault(text.rfind("\n", 0, start) + 1, set()).update(ents)
        return lines

    def entities_in(self, text: str) -> set[str]:
        found: set[str] = set()
        if self.shaped and has_candidate(text.encode("utf-8", "surrogatepass")):
            found |= self.shaped
        if self.addresses and (_IPV4_TEXT.search(text) or _IPV6_TEXT.search(text)):
            found |= self.addresses
        if self.automaton is not None:
            lower = text.lower()
            aligned = len(lower) == len(text)
            for index, start, end in self.automaton.find_matches_as_indexes(lower, overlapping=True):
                ents, capital = self._entries[index]
                if ents <= found:
                    continue
                if (start and lower[start - 1].isalnum()) or (end < len(lower) and lower[end].isalnum()):
                    continue
                if capital and aligned and not text[start].isupper():
                    continue
                found |= ents
        return found


@lru_cache(maxsize=32)
def prefilter_for(entities: frozenset[str], classifiers_dir: Path) -> Prefilter:
    """A shared :class:`Prefilter` per entity set and folder (building one reads the classifier's term lists)."""
    return Prefilter(entities, classifiers_dir)
