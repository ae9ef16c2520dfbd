"""Presidio recognizers for Vietnamese personal data, built from ``recognizers.yaml``.

- :class:`ValidatedPatternRecognizer`: regex candidates kept only when a
  validator (citizen-ID structure, tax-code check digit, numbering plan) accepts them.
- :class:`TermRecognizer`: value lists (ethnic groups, religions, health terms)
  matched on folded text with one Aho-Corasick pass.
- :class:`PersonNameRecognizer`: Vietnamese full names (a known surname and
  capitalised syllables; with or without diacritics, upper case too).
- :class:`AddressRecognizer`: chains of street parts and administrative units,
  checked against the gazetteer of current and former place names.

Every recognizer carries folded context phrases; :mod:`sentinel.classify.context`
uses them to raise or lower scores.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property, lru_cache, partial

import ahocorasick_rs
import regex
import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IpRecognizer,
)

from sentinel.classify import validators
from sentinel.classify.catalog import Catalog, RecognizerSpec
from sentinel.classify.context import phrase_regex
from sentinel.classify.gazetteer import Gazetteer
from sentinel.classify.normalize import fold
from sentinel.classify.validators import VALIDATORS

LANGUAGE = "vi"


def _result(recognizer: EntityRecognizer, entity: str, start: int, end: int, score: float) -> RecognizerResult:
    return RecognizerResult(
        entity_type=entity,
        start=start,
        end=end,
        score=score,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id,
        },
    )


class FastPatternMixin:
    """Presidio's pattern loop without its per-match timing and explanation objects.

    Ingest calls recognizers on every log field, where that bookkeeping cost
    more than the matching itself. The contract is Presidio's: every pattern
    is searched, ``validate_result`` True means certain and False drops the
    match, ``invalidate_result`` True drops it, duplicates are removed.
    """

    _compiled: list[tuple[Pattern, re.Pattern[str]]] | None = None

    @cached_property
    def gate(self) -> re.Pattern[str]:
        """One regex that matches where any of this recognizer's patterns does (see :meth:`scoped_patterns`)."""
        return re.compile("|".join(self.scoped_patterns()))

    def scoped_patterns(self) -> list[str]:
        """Each pattern with this recognizer's flags scoped to it (``(?ims:...)``): alternatives of one regex.

        A leading global flag group of a pattern (``(?i)ngày ...``) becomes part of its scope.
        """
        scoped = []
        for pattern in self.patterns:
            body, flags = pattern.regex, _flag_letters(self.global_regex_flags)
            lead = _GLOBAL_FLAGS.match(body)
            if lead:
                body, flags = body[lead.end() :], flags + lead.group(1)
            scoped.append(f"(?{''.join(sorted(set(flags)))}:{body})" if flags else f"(?:{body})")
        return scoped

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        if self._compiled is None:
            self._compiled = [(p, re.compile(p.regex, self.global_regex_flags)) for p in self.patterns]
        entity = self.supported_entities[0]
        results = []
        for pattern, compiled in self._compiled:
            for match in compiled.finditer(text):
                start, end = match.span()
                if start == end:
                    continue
                matched = text[start:end]
                valid = self.validate_result(matched)
                if valid is False or self.invalidate_result(matched):
                    continue
                results.append(
                    _result(self, entity, start, end, EntityRecognizer.MAX_SCORE if valid else pattern.score)
                )
        return EntityRecognizer.remove_duplicates(results) if len(results) > 1 else results


_GLOBAL_FLAGS = re.compile(r"\(\?([imsx]+)\)")


def _flag_letters(flags: int) -> str:
    return "".join(letter for letter, flag in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X)) if flags & flag)


class ValidatedPatternRecognizer(FastPatternMixin, PatternRecognizer):
    """Regex candidates filtered by a validator.

    Presidio turns a passing validation into score 1.0; a structural check on a
    12-digit number is evidence, not certainty, so by default (``on_valid:
    keep``) a valid candidate keeps its pattern score and context decides the rest.
    """

    def __init__(
        self,
        entity: str,
        name: str,
        patterns: list[Pattern],
        context: list[str],
        validator: Callable[[str], bool] | None,
        certain_when_valid: bool,
        case_sensitive: bool,
    ) -> None:
        flags = re.DOTALL | re.MULTILINE | (0 if case_sensitive else re.IGNORECASE)
        super().__init__(
            supported_entity=entity,
            name=name,
            supported_language=LANGUAGE,
            patterns=patterns,
            context=context,
            global_regex_flags=flags,
        )
        self._validator = validator
        self._certain = certain_when_valid

    def validate_result(self, pattern_text: str) -> bool | None:
        if self._validator is None:
            return None
        if not self._validator(pattern_text):
            return False
        return True if self._certain else None


# The bundled Public Suffix List snapshot: never fetch it over the network.
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(FastPatternMixin, EmailRecognizer):
    """Presidio's e-mail recognizer, validating the domain against the bundled suffix list only.

    The stock recognizer calls ``tldextract.extract``, which downloads the
    Public Suffix List on first use and fails (slowly, with a traceback) offline.
    """

    def validate_result(self, pattern_text: str) -> bool:
        return _OFFLINE_TLD(pattern_text.rsplit("@", 1)[-1]).fqdn != ""


class FastIpRecognizer(FastPatternMixin, IpRecognizer):
    """Presidio's IP recognizer with the fast pattern loop."""


class FastCreditCardRecognizer(FastPatternMixin, CreditCardRecognizer):
    """Presidio's card recognizer (Luhn check) with the fast pattern loop, for card lengths only.

    One number in ten passes the Luhn check, so a 14-digit bank account often
    does; cards issued in Vietnam are 15 (Amex), 16 or 19 digits long.
    """

    CARD_LENGTHS = (15, 16, 19)

    def validate_result(self, pattern_text: str) -> bool | None:
        if len(validators.digits(pattern_text)) not in self.CARD_LENGTHS:
            return False
        return super().validate_result(pattern_text)


_PREDEFINED: dict[str, type[PatternRecognizer]] = {
    "EmailRecognizer": OfflineEmailRecognizer,
    "IpRecognizer": FastIpRecognizer,
    "CreditCardRecognizer": FastCreditCardRecognizer,
}


class TermRecognizer(EntityRecognizer):
    """Whole-word matches of a value list, any case, with or without diacritics."""

    def __init__(self, entity: str, name: str, terms: list[str], score: float, context: list[str]) -> None:
        self._score = score
        self._exact = {t.strip().lower() for t in terms}
        keys = sorted({fold(term).strip() for term in terms} - {""})
        self._automaton = ahocorasick_rs.AhoCorasick(keys, matchkind=ahocorasick_rs.MATCHKIND_STANDARD)
        super().__init__(supported_entities=[entity], name=name, supported_language=LANGUAGE, context=context)

    def load(self) -> None:
        """Nothing to load: the automaton is built in the constructor."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        folded = fold(text)
        spans: list[tuple[int, int]] = []
        for _, start, end in self._automaton.find_matches_as_indexes(folded, overlapping=True):
            if (start > 0 and folded[start - 1].isalnum()) or (end < len(folded) and folded[end].isalnum()):
                continue
            original = text[start:end]
            # written with diacritics: they must be the term's ("đạo" is not the Dao people)
            if not original.isascii() and original.lower() not in self._exact:
                continue
            spans.append((start, end))
        # the longest of overlapping matches wins ("Phật giáo Hòa Hảo" over "đạo Phật")
        spans.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
        kept: list[tuple[int, int]] = []
        for start, end in spans:
            if all(end <= k[0] or start >= k[1] for k in kept):
                kept.append((start, end))
        results = [_result(self, self.supported_entities[0], a, b, self._score) for a, b in sorted(kept)]
        return results


_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_HOUSE_NUMBER = re.compile(r"(?<![\w/.])\d{1,5}[a-z]?(?:/\d{1,5}[a-z]?)* $")


def _is_title(word: str) -> bool:
    return word[0].isupper() and (len(word) == 1 or word[1:].islower())


# A Vietnamese syllable without diacritics: initial consonant, one to three vowels, final consonant.
_SYLLABLE = re.compile(r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ch|ng|nh|[cmnpt])?")


def _may_be_syllable(word: str) -> bool:
    """Whether a word can be a syllable of a Vietnamese name ("Mac System Logs" is English, not Mạc ...)."""
    return not word.isascii() or _SYLLABLE.fullmatch(word.lower()) is not None


class PersonNameRecognizer(EntityRecognizer):
    """Vietnamese full names: a known surname then one to four capitalised syllables.

    Works with diacritics (``Nguyễn Văn An``), without (``Nguyen Van An``) and
    in upper case (``NGUYỄN VĂN AN``). Candidates right after a street or unit
    word (``đường Lê Lợi``) or equal to a place name (``Hà Nội``) are places.
    """

    MAX_SYLLABLES = 5
    MAX_SYLLABLE_LEN = 7

    def __init__(
        self,
        name: str,
        score: float,
        context: list[str],
        surnames: list[str],
        not_before: list[str],
        stop_words: list[str],
        not_names: list[str],
        titles: list[str],
        gazetteer: Gazetteer,
    ) -> None:
        self._score = score
        self._titles = {fold(t) for t in titles}
        self._surnames_exact = {s.lower() for s in surnames}
        self._surnames = {fold(s) for s in surnames}
        self._not_before = sorted({fold(w) for w in not_before}, key=len, reverse=True)
        # "Phương" is a given name, "phường" a ward: compare with diacritics when the text has them
        self._stop_exact = {w.lower() for w in stop_words}
        self._stop_folded = {fold(w) for w in stop_words}
        self._not_names = {fold(w) for w in not_names}
        self._gazetteer = gazetteer
        super().__init__(supported_entities=["PERSON"], name=name, supported_language=LANGUAGE, context=context)

    def load(self) -> None:
        """Nothing to load: lists come from terms.yaml."""

    def _is_surname(self, token: str) -> bool:
        """Known surname; written with diacritics they must match ("Đường" is not "Dương")."""
        return token.lower() in self._surnames_exact if not token.isascii() else fold(token) in self._surnames

    def _is_stop(self, word: str, name_so_far_ascii: bool) -> bool:
        if word.lower() in self._stop_exact:
            return True
        return word.isascii() and not name_so_far_ascii and fold(word) in self._stop_folded

    def _preceded_by_place_word(self, folded: str, start: int) -> bool:
        before = folded[max(0, start - 24) : start].rstrip(" :")
        if _HOUSE_NUMBER.search(before + " "):  # "17/4 Lý Thường Kiệt" is a street
            return True

        def ends_with(words: set[str]) -> bool:
            return any(
                before.endswith(w) and (len(before) == len(w) or not before[-len(w) - 1].isalnum()) for w in words
            )

        # a title wins over a place word it ends with: "cán bộ Lò Văn Sáng" is a person, "Bộ" a ministry
        return ends_with(self._not_before) and not ends_with(self._titles)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        folded = fold(text)
        words = list(_WORD.finditer(text))
        results: list[RecognizerResult] = []
        i = 0
        while i < len(words):
            first = words[i]
            token = first.group()
            if not self._is_surname(token) or not (_is_title(token) or token.isupper()):
                i += 1
                continue
            upper = token.isupper() and len(token) > 1
            j = i + 1
            while j < len(words) and j - i < self.MAX_SYLLABLES:
                word = words[j].group()
                gap = text[words[j - 1].end() : words[j].start()]
                ascii_so_far = text[first.start() : words[j - 1].end()].isascii()
                if gap not in (" ", "  ") or len(word) > self.MAX_SYLLABLE_LEN or self._is_stop(word, ascii_so_far):
                    break
                if not (word.isupper() if upper else _is_title(word)) or not _may_be_syllable(word):
                    break
                j += 1
            if j - i >= 2:
                start, end = first.start(), words[j - 1].end()
                candidate = folded[start:end]
                if (
                    not self._preceded_by_place_word(folded, start)
                    and not self._gazetteer.is_place(candidate)
                    and candidate not in self._not_names
                ):
                    score = self._score
                    if j - i == 2 and text[start:end].isascii():
                        score -= 0.35  # "Le Hoa" without diacritics is weak evidence ("Do Not", "Mac Book")
                    results.append(_result(self, "PERSON", start, end, score))
                i = j
            else:
                i += 1
        return results


_STREET_TAIL = regex.compile(r" \p{Lu}\p{Ll}*(?: \p{Lu}\p{Ll}*){0,4}\b")
_TITLE_RUN = regex.compile(r"\b\p{Lu}\p{Ll}+(?: \p{Lu}\p{Ll}+)+\b")


class CrfPersonRecognizer(PersonNameRecognizer):
    """Names whose surname is not in the list, from underthesea's CRF NER model.

    The model ships inside the underthesea wheel (no download) and costs several
    milliseconds a sentence, so a cheap first stage decides which texts it reads:
    a run of capitalised words shaped like Vietnamese syllables that does not start
    with a known surname (those are the list-based recognizer's), is no place and
    follows no place word; and, when the caller says its score alone cannot be
    reported (``context_window``), a context phrase close enough for the context
    enhancer to raise it. The tagger's answer is cached per text it reads.
    """

    def load(self) -> None:
        """The model is imported on first use (most callers never need it)."""

    @property
    def score(self) -> float:
        """The score of a hit before context raises it."""
        return self._score

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        *,
        context_window: int | None = None,
    ) -> list[RecognizerResult]:
        """PERSON spans; with ``context_window``, only candidates with a context phrase that near."""
        folded = fold(text)
        candidates = []
        for m in _TITLE_RUN.finditer(text):
            start, words = m.start(), m.group().split(" ")
            if fold(words[0]) in self._titles:  # "Ông Giáp Văn Tài": judge the name after the title
                start, words = start + len(words[0]) + 1, words[1:]
            if (
                len(words) >= 2
                and all(_may_be_syllable(w) for w in words)
                and not self._is_surname(words[0])
                and not self._is_stop(words[0], words[0].isascii())
                and not self._gazetteer.is_place(" ".join(words))
                and fold(" ".join(words)) not in self._not_names
                and not self._preceded_by_place_word(folded, start)
            ):
                candidates.append((start, m.end()))
        if candidates and context_window is not None:
            candidates = self._near_context(text, folded, candidates, context_window)
        if not candidates:
            return []
        results = []
        for w_start, w_end in self._windows(text, candidates):
            for start, end in _tagged_people(text[w_start:w_end]):
                start, end = start + w_start, end + w_start
                candidate = folded[start:end]
                if (
                    any(c_start <= start < c_end for c_start, c_end in candidates)
                    and len(text[start:end].split()) >= 2
                    and not self._preceded_by_place_word(folded, start)
                    and not self._gazetteer.is_place(candidate)
                    and candidate not in self._not_names
                ):
                    results.append(_result(self, "PERSON", start, end, self._score))
        return results

    WINDOW_BEFORE = 40
    WINDOW_AFTER = 20

    def _near_context(
        self, text: str, folded: str, candidates: list[tuple[int, int]], window: int
    ) -> list[tuple[int, int]]:
        """Candidates with a context phrase within ``window`` characters of any span the tagger may report there.

        A hit starts inside its candidate and ends at the latest where the candidate's tagging
        window ends; the context enhancer looks ``window`` characters before its start and after its end.
        """
        if self._context_regex is None:
            return []
        phrases = [(m.start(), m.end()) for m in self._context_regex.finditer(folded)]
        kept = []
        for c_start, c_end in candidates:
            _, w_end = self._windows(text, [(c_start, c_end)])[0]
            low, high = c_start - window, w_end + window
            if any(low <= p_start and p_end <= high for p_start, p_end in phrases):
                kept.append((c_start, c_end))
        return kept

    @cached_property
    def _context_regex(self) -> re.Pattern[str] | None:
        return phrase_regex(self.context or [])

    def _windows(self, text: str, candidates: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Stretches of text around the candidates, cut at spaces (the tagger's cost grows with length)."""
        windows: list[tuple[int, int]] = []
        for c_start, c_end in candidates:
            start = text.rfind(" ", 0, max(0, c_start - self.WINDOW_BEFORE)) + 1
            end = text.find(" ", c_end + self.WINDOW_AFTER)
            end = len(text) if end < 0 else end
            if windows and start <= windows[-1][1]:
                windows[-1] = (windows[-1][0], end)
            else:
                windows.append((start, end))
        return windows


@lru_cache(maxsize=8192)
def _tagged_people(text: str) -> tuple[tuple[int, int], ...]:
    """PER spans underthesea's CRF tagger finds in ``text`` (cached: log lines repeat their texts)."""
    from underthesea import ner

    spans: list[tuple[int, int]] = []
    cursor = 0
    current: list[int] | None = None
    for token, _pos, _chunk, tag in [*ner(text), ("", "", "", "O")]:
        found = text.find(token, cursor) if token else -1
        if found >= 0:
            cursor = found + len(token)
        if tag == "I-PER" and current is not None and found >= 0:
            current[1] = cursor
            continue
        if current is not None:
            spans.append((current[0], current[1]))
            current = None
        if tag == "B-PER" and found >= 0:
            current = [found, cursor]
    return tuple(spans)


class AddressRecognizer(EntityRecognizer):
    """Addresses: street parts and administrative units chained by commas or dashes.

    A chain with a house number or a street is a ``LOCATION``; a chain of
    administrative units and provinces only ("Phường Ba Đình, Hà Nội") names a
    ``PLACE``, which the context enhancer reports as a ``LOCATION`` when a
    context word (``quê quán``, ``trú tại``) or the field name says it is a
    person's. A chain with an administrative unit or a known province scores
    highest; a bare province name alone stays below the reporting threshold
    unless context raises it.
    """

    def __init__(
        self,
        name: str,
        score: float,
        context: list[str],
        street_words: list[str],
        admin_words: list[str],
        gazetteer: Gazetteer,
    ) -> None:
        self._score = score
        self._gazetteer = gazetteer

        def alternation(words: list[str]) -> str:
            folded = sorted({re.escape(fold(w)) for w in words}, key=len, reverse=True)
            return "|".join(folded)

        words = r"[^\W\d_]+(?:['’][^\W\d_]+)?(?: [^\W\d_]+){0,4}"
        name_part = rf"(?:\d{{1,3}}[a-z]?\b|{words})"
        number = r"\d{1,5}[a-z]?(?:/\d{1,5}[a-z]?)*"
        # regex's overlapped search: "quê quán xã X" must not lose "xã X" to a "quan" (quận) match
        self._admin = regex.compile(rf"(?<![\w.])(?:{alternation(admin_words)})\b\.?\s*(?P<name>{name_part})")
        self._street = regex.compile(
            rf"(?<![\w./:-])(?:(?:{alternation(street_words)})\b\.?\s*(?P<name>{number}|{name_part})"
            rf"|{number} (?P<street>{words}))"
        )
        self._province_names = sorted(gazetteer.provinces, key=len, reverse=True)
        self._province = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in self._province_names) + r")(?!\w)")
        self._chain_gap = re.compile(r"\s*[,\-–]\s*|\s+")
        super().__init__(
            supported_entities=["LOCATION", "PLACE"], name=name, supported_language=LANGUAGE, context=context
        )

    def load(self) -> None:
        """Nothing to load: the gazetteer is built once by the analyzer."""

    @staticmethod
    def _trim_name(text: str, start: int, end: int) -> int:
        """End of the capitalised (or numeric) words of a unit or street name starting at ``start``."""
        keep = start
        for w in re.finditer(r"\S+", text[start:end]):
            if not (w.group()[0].isdigit() or w.group()[0].isupper()):
                break
            keep = start + w.end()
        return keep

    def _components(self, text: str, folded: str) -> list[tuple[int, int, str]]:
        comps: list[tuple[int, int, str]] = []
        for m in self._admin.finditer(folded, overlapped=True):
            end = self._trim_name(text, m.start("name"), m.end("name"))
            if end > m.start("name"):
                comps.append((m.start(), end, "admin"))
        for m in self._province.finditer(folded):
            if text[m.start()].isupper():
                comps.append((m.start(), m.end(), "province"))
        for m in self._street.finditer(folded, overlapped=True):
            group = "name" if m.group("name") is not None else "street"  # "17/4 Lý Thường Kiệt"
            end = self._trim_name(text, m.start(group), m.end(group))
            if end > m.start(group):
                if text[end - 1].isdigit():  # "ngõ 15 Nguyễn Chí Thanh": the street name after the number
                    tail = _STREET_TAIL.match(text, end)
                    end = tail.end() if tail else end
                comps.append((m.start(), end, "street"))
        comps.sort(key=lambda c: (c[0], -(c[1] - c[0])))
        merged: list[tuple[int, int, str]] = []
        for comp in comps:
            if merged and comp[0] < merged[-1][1]:
                if comp[1] > merged[-1][1]:
                    kind = comp[2] if merged[-1][2] == "street" else merged[-1][2]
                    merged[-1] = (merged[-1][0], comp[1], kind)
                continue
            merged.append(comp)
        return merged

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        folded = fold(text)
        comps = self._components(text, folded)
        results: list[RecognizerResult] = []
        k = 0
        while k < len(comps):
            chain = [comps[k]]
            while k + 1 < len(comps):
                gap = text[chain[-1][1] : comps[k + 1][0]]
                if not self._chain_gap.fullmatch(gap):
                    break
                k += 1
                chain.append(comps[k])
            kinds = {c[2] for c in chain}
            has_place = bool(kinds & {"admin", "province"})
            if len(chain) >= 2 and has_place:
                score = min(1.0, self._score + 0.25)
            elif len(chain) >= 2:
                score = self._score
            elif kinds == {"admin"}:  # "UBND xã X" names an authority: needs an address context word
                score = self._score - 0.25
            elif kinds == {"province"}:
                score = self._score - 0.2
            else:
                score = self._score - 0.3
            entity = "LOCATION" if "street" in kinds else "PLACE"
            results.append(_result(self, entity, chain[0][0], chain[-1][1], score))
            k += 1
        return results


_ORG_WORD = regex.compile(r"[\p{L}\p{M}]+(?:['’][\p{L}]+)?|\d+")
_JOINERS = {"va", "&", "-", ","}


class OrganizationRecognizer(EntityRecognizer):
    """Public bodies: "UBND phường Ba Đình", "Công an tỉnh Thanh Hóa", "Sở Tư pháp".

    A body is a prefix (``organization_prefixes``, any case) or a head word
    written with a capital (``organization_heads``: "Sở", "Bộ", "Cục"), then
    the body's own name (capitalised words, each with at most one lower-case
    syllable: "Tư pháp", "Giáo dục và Đào tạo") and the place it serves (an
    administrative unit and a place name). A place found in the gazetteer
    scores highest; a head word needs a name, so "cơ sở" or "số 5" never match.
    """

    MAX_NAME_WORDS = 10
    MAX_PLACE_WORDS = 5

    def __init__(
        self,
        name: str,
        score: float,
        context: list[str],
        prefixes: list[str],
        heads: list[str],
        admin_words: list[str],
        street_words: list[str],
        gazetteer: Gazetteer,
    ) -> None:
        self._score = score
        self._gazetteer = gazetteer
        self._prefixes = {fold(p): {q.lower() for q in prefixes if fold(q) == fold(p)} for p in prefixes}
        self._heads = {fold(h): {q for q in heads if fold(q) == fold(h)} for h in heads}
        keys = sorted(set(self._prefixes) | set(self._heads))
        self._automaton = ahocorasick_rs.AhoCorasick(keys, matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_LONGEST)
        self._admin = sorted({fold(w).rstrip(".") for w in admin_words if not w.endswith(".")}, key=len, reverse=True)
        streets = "|".join(sorted({re.escape(fold(w)) for w in street_words}, key=len, reverse=True)) or "(?!)"
        self._street_before = re.compile(rf"(?<![a-z0-9])(?:{streets})\s+\Z")
        super().__init__(supported_entities=["ORGANIZATION"], name=name, supported_language=LANGUAGE, context=context)

    def load(self) -> None:
        """Nothing to load: lists come from terms.yaml."""

    def _kind(self, original: str, key: str) -> str | None:
        """'prefix', 'head' or None for a matched key written as ``original``."""
        if key in self._prefixes and (original.isascii() or original.lower() in self._prefixes[key]):
            return "prefix"
        if key in self._heads and original[:1].isupper() and (original.isascii() or original in self._heads[key]):
            return "head"
        return None

    def _admin_at(self, folded: str, pos: int) -> int:
        """End of an administrative-unit word ("tỉnh", "thành phố") starting at ``pos``, or -1."""
        for word in self._admin:
            end = pos + len(word)
            if folded.startswith(word, pos) and (end == len(folded) or not folded[end].isalnum()):
                return end
        return -1

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        folded = fold(text)
        results: list[RecognizerResult] = []
        for _, start, end in self._automaton.find_matches_as_indexes(folded):
            if (start > 0 and (folded[start - 1].isalnum() or folded[start - 1] in "/-")) or (
                end < len(folded) and (folded[end].isalnum() or folded[end] in "/-")
            ):
                continue  # inside a word or a document symbol ("245/UBND-VP")
            if self._street_before.search(folded, max(0, start - 12), start):
                continue  # "phố Trường Chinh" is a street
            kind = self._kind(text[start:end], folded[start:end])
            if kind is None:
                continue
            words = [w for w in _ORG_WORD.finditer(text, end) if w.start() < end + 160]
            name_end, k = self._name(text, folded, end, words)
            if kind == "head" and name_end == end:
                continue  # "Sở" without a name is not a body
            place_end, verified = self._place(text, folded, name_end, words, k)
            if verified:
                score = min(1.0, self._score + 0.25)
            elif name_end > end or place_end > name_end:
                score = self._score + (0.1 if kind == "head" else 0.0)
            else:
                score = self._score - 0.1
            results.append(_result(self, "ORGANIZATION", start, max(name_end, place_end), score))
        return results

    def _name(self, text: str, folded: str, end: int, words: list[regex.Match[str]]) -> tuple[int, int]:
        """End of the body's own name after ``end`` and the index of the first word after it."""
        name_end, k, count, lower_allowed = end, 0, 0, False
        while k < len(words) and count < self.MAX_NAME_WORDS:
            w, word = words[k], words[k].group()
            gap = text[(words[k - 1].end() if k else end) : w.start()]
            inside = gap == " " or (count > 0 and gap.strip() in ("-", "–") and gap.startswith(" "))
            if not inside or word.isdigit() or self._admin_at(folded, w.start()) >= 0:
                break
            if word[0].isupper():
                if self._gazetteer.is_place(self._run(words, k)):
                    break  # "Công an Hà Nội": the rest is the place
                lower_allowed = True
            elif count and folded[w.start() : w.end()] in _JOINERS and k + 1 < len(words):
                if not words[k + 1].group()[0].isupper():
                    break
                k += 1  # "Giáo dục và Đào tạo": the joiner belongs to the name if a capital follows
                continue
            elif lower_allowed:
                lower_allowed = False  # "Tư pháp": one lower-case syllable after a capitalised one
            else:
                break
            name_end, k, count = w.end(), k + 1, count + 1
        return name_end, k

    @staticmethod
    def _run(words: list[regex.Match[str]], k: int) -> str:
        """The capitalised words from ``k`` on (a place name candidate)."""
        out = []
        for w in words[k:]:
            if not w.group()[0].isupper():
                break
            out.append(w.group())
        return " ".join(out)

    def _place(self, text: str, folded: str, name_end: int, words: list[regex.Match[str]], k: int) -> tuple[int, bool]:
        """End of "tỉnh Thanh Hóa" / "Hà Nội" after the name, and whether the gazetteer knows the place."""
        if k >= len(words) or text[name_end : words[k].start()] != " ":
            return name_end, False
        admin_end = self._admin_at(folded, words[k].start())
        first = k
        if admin_end >= 0:
            while first < len(words) and words[first].start() < admin_end:
                first += 1
        run: list[regex.Match[str]] = []
        for w in words[first : first + self.MAX_PLACE_WORDS]:
            if run and text[run[-1].end() : w.start()] != " ":
                break
            run.append(w)
        for n in range(len(run), 0, -1):  # the longest run of words that is a known place, in any case
            if self._gazetteer.is_place(text[run[0].start() : run[n - 1].end()]):
                return run[n - 1].end(), True
        capitalised = 0
        while capitalised < len(run) and (run[capitalised].group()[0].isupper() or run[capitalised].group().isdigit()):
            capitalised += 1
        if admin_end >= 0 and capitalised:  # "UBND xã Nậm Xe" missing from the gazetteer: still the body's place
            return run[capitalised - 1].end(), False
        return name_end, False


def build_recognizers(catalog: Catalog, gazetteer: Gazetteer) -> list[EntityRecognizer]:
    """One Presidio recognizer per entry in ``recognizers.yaml``."""
    built: list[EntityRecognizer] = []
    for spec in catalog.recognizers.recognizers:
        recognizer = _build_one(spec, catalog, gazetteer)
        recognizer.context = [fold(w) for w in spec.context]
        recognizer.sentinel_spec = spec  # type: ignore[attr-defined]  # read by the context enhancer
        built.append(recognizer)
    return built


def _build_one(spec: RecognizerSpec, catalog: Catalog, gazetteer: Gazetteer) -> EntityRecognizer:
    context = [fold(w) for w in spec.context]
    if spec.patterns:
        validator = VALIDATORS[spec.validator] if spec.validator else None
        if spec.validator == "cccd":
            validator = partial(validators.cccd, province_codes=frozenset(p.cccd for p in catalog.former_provinces))
        return ValidatedPatternRecognizer(
            entity=spec.entity,
            name=spec.name,
            patterns=[Pattern(p.name, p.regex, p.score) for p in spec.patterns],
            context=context,
            validator=validator,
            certain_when_valid=spec.on_valid == "certain",
            case_sensitive=spec.case_sensitive,
        )
    if spec.predefined:
        return _PREDEFINED[spec.predefined](
            supported_language=LANGUAGE, supported_entity=spec.entity, context=context, name=spec.name
        )
    if spec.terms:
        return TermRecognizer(spec.entity, spec.name, catalog.terms[spec.terms], spec.score, context)
    if spec.builtin in ("person_names", "crf_person_names"):
        terms = catalog.terms
        cls = PersonNameRecognizer if spec.builtin == "person_names" else CrfPersonRecognizer
        return cls(
            name=spec.name,
            score=spec.score,
            context=context,
            surnames=terms.get("surnames", []),
            not_before=terms.get("not_person_before", []),
            stop_words=terms.get("not_person_before", []) + terms.get("admin_keywords", []),
            not_names=terms.get("religion", []) + terms.get("ethnicity", []) + terms.get("not_person_names", []),
            titles=terms.get("person_titles", []),
            gazetteer=gazetteer,
        )
    if spec.builtin == "addresses":
        return AddressRecognizer(
            name=spec.name,
            score=spec.score,
            context=context,
            street_words=catalog.terms.get("street_keywords", []),
            admin_words=catalog.terms.get("admin_keywords", []),
            gazetteer=gazetteer,
        )
    if spec.builtin == "organizations":
        return OrganizationRecognizer(
            name=spec.name,
            score=spec.score,
            context=context,
            prefixes=catalog.terms.get("organization_prefixes", []),
            heads=catalog.terms.get("organization_heads", []),
            admin_words=catalog.terms.get("admin_keywords", []),
            street_words=catalog.terms.get("street_keywords", []),
            gazetteer=gazetteer,
        )
    raise ValueError(f"recognizer {spec.name}: builtin {spec.builtin!r} is not implemented")
