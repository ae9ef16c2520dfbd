"""Context enhancement that works without lemmas, for Vietnamese and English.

Presidio's default enhancer compares single lemmas from a spaCy pipeline; no
Vietnamese model ships offline, a blank pipeline yields empty lemmas (so
context silently does nothing), and Vietnamese context words are phrases
("số điện thoại"). This enhancer instead looks for whole-word context phrases
in the folded text around each match (and in caller-supplied context such as
the field name of a structured value), raises the score when one is found, and
lowers it when a negative phrase ("mã hồ sơ", "số tiền") precedes a numeric match.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

from sentinel.classify.catalog import AnalyzerSettings
from sentinel.classify.normalize import fold

NEGATIVE_FACTOR = 0.3


def phrase_regex(phrases: list[str]) -> re.Pattern[str] | None:
    """Whole-word alternation of folded phrases (longest first), or None for no phrases."""
    folded = sorted({fold(p).strip() for p in phrases if p.strip()}, key=len, reverse=True)
    if not folded:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(p) for p in folded) + r")(?![a-z0-9])")


def _last(pattern: re.Pattern[str] | None, text: str) -> int | None:
    """Offset just after the last match of ``pattern`` in ``text`` (in the window's own coordinates)."""
    if pattern is None:
        return None
    last = None
    for m in pattern.finditer(text):
        last = m.end()
    return last


def _external(context: list[str] | None) -> str:
    return " | ".join(fold(c) for c in context or [])


class FoldedContextEnhancer(ContextAwareEnhancer):
    """Window-based context phrases on folded text; see the module docstring."""

    def __init__(self, settings: AnalyzerSettings) -> None:
        super().__init__(
            context_similarity_factor=settings.context_boost,
            min_score_with_context_similarity=settings.min_score_with_context,
            context_prefix_count=0,
            context_suffix_count=0,
        )
        self.window = settings.context_window
        self._negative = phrase_regex(settings.negative_context)
        self._negative_exact = {p.strip().lower() for p in settings.negative_context}
        self._positive: dict[str, re.Pattern[str] | None] = {}

    def _regex_for(self, recognizer: EntityRecognizer) -> re.Pattern[str] | None:
        if recognizer.id not in self._positive:
            self._positive[recognizer.id] = phrase_regex(recognizer.context or [])
        return self._positive[recognizer.id]

    def supported_by(self, recognizer: EntityRecognizer, context: list[str] | None) -> bool:
        """Whether caller-supplied ``context`` (a field name) holds one of ``recognizer``'s context phrases."""
        positive = self._regex_for(recognizer)
        return bool(context) and positive is not None and positive.search(_external(context)) is not None

    def _last_negative(self, folded: str, original: str) -> int | None:
        """Like :func:`_last` for the negative phrases, but a phrase written with diacritics must be written as
        the phrase is ("lao động" is not "đồng", the currency)."""
        if self._negative is None:
            return None
        last = None
        for m in self._negative.finditer(folded):
            written = original[m.start() : m.end()]
            if written.isascii() or written.lower() in self._negative_exact:
                last = m.end()
        return last

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        if not raw_results:
            return raw_results
        by_id = {r.id: r for r in recognizers}
        folded = fold(text)
        external = _external(context)
        for result in raw_results:
            recognizer = by_id.get(result.recognition_metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, ""))
            if recognizer is None or result.recognition_metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            before = folded[max(0, result.start - self.window) : result.start]
            after = folded[result.end : result.end + self.window]
            positive = self._regex_for(recognizer)
            spec = getattr(recognizer, "sentinel_spec", None)
            negative_applies = (
                self._negative is not None
                and spec is not None
                and bool(spec.patterns or spec.predefined)
                and spec.negative_context
            )
            found = None
            if positive is not None:
                found = positive.search(before) or positive.search(after) or positive.search(external)
            near_positive = _last(positive, before)
            near_negative = self._last_negative(before, text[max(0, result.start - self.window) : result.start])
            near_negative = near_negative if negative_applies else None
            if (
                near_negative is not None
                and near_negative >= len(before) - self.window // 2
                and (not found if near_positive is None else near_positive < near_negative)
            ):
                # "chuyển khoản ... mã hồ sơ 2503...": the nearer phrase says what the number is
                result.score *= NEGATIVE_FACTOR
                continue
            if found:
                if spec is not None and result.entity_type in spec.promote:  # "thường trú: xã X": a person's place
                    result.entity_type = spec.promote[result.entity_type]
                boost = self.context_similarity_factor
                if spec is not None and spec.context_boost is not None:
                    boost = spec.context_boost
                result.score = min(self.MAX_SCORE, max(result.score + boost, self.min_score_with_context_similarity))
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
                if result.analysis_explanation is not None:
                    result.analysis_explanation.set_supportive_context_word(found.group())
            elif negative_applies and self._negative.search(external):
                result.score *= NEGATIVE_FACTOR
        return raw_results
