"""The Presidio analyzer configured for Vietnamese personal data, fully offline.

Presidio's default engine loads a spaCy model that cannot be installed here
and would only help English text. Every Sentinel recognizer is self-contained
(regex + validators, term lists, the name and address recognizers), so the
engine runs with Presidio's no-op NLP engine and the lemma-free
:class:`~sentinel.classify.context.FoldedContextEnhancer`. That makes the
pattern-only path cheap: a call asking for identifiers runs only those
recognizers, and a text without digits skips digit-only recognizers entirely.

Public API (used by the policy stage at ingest and the CI check):
``build_analyzer``, ``analyze_text`` and :class:`Span`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NoOpNlpEngine

from sentinel.classify.catalog import Catalog, load_catalog
from sentinel.classify.context import FoldedContextEnhancer
from sentinel.classify.gazetteer import Gazetteer
from sentinel.classify.normalize import plain_text
from sentinel.classify.recognizers import LANGUAGE, CrfPersonRecognizer, FastPatternMixin, build_recognizers
from sentinel.classify.structure import blank_structure

_NONE: frozenset[str] = frozenset()
_DIGIT = re.compile(r"\d")
_MAX_GATED = 64  # longer texts: the recognizers' own loops (an alternation of their patterns costs more)
_ZEROS = str.maketrans("123456789", "000000000")  # a text's digit skeleton: ASCII digits as 0
_GATE_MEMO = 4096  # digit skeletons whose gate answers are remembered (then forgotten all at once)


@dataclass(frozen=True)
class Span:
    """One detected entity: character offsets into the analysed text."""

    type: str
    start: int
    end: int
    score: float
    text: str

    def to_dict(self, with_text: bool = False) -> dict:
        data = asdict(self)
        data["score"] = round(self.score, 3)
        if not with_text:
            del data["text"]
        return data


class _Engine:
    """An AnalyzerEngine plus what analyze_text needs to post-process its results."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        settings = catalog.recognizers.settings
        gazetteer = Gazetteer.from_catalog(catalog)
        registry = RecognizerRegistry(supported_languages=[LANGUAGE])
        recognizers = build_recognizers(catalog, gazetteer)
        for recognizer in recognizers:
            registry.add_recognizer(recognizer)
        nlp_engine = NoOpNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "none"}])
        nlp_engine.load()
        self.enhancer = FoldedContextEnhancer(settings)
        self.recognizers = recognizers
        self.engine = AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=[LANGUAGE],
            default_score_threshold=settings.score_threshold,
            context_aware_enhancer=self.enhancer,
        )
        self.threshold = settings.score_threshold
        self.entities = sorted({e for r in recognizers for e in r.supported_entities})
        # entities whose every recognizer is a regex that needs a digit: skipped for digit-free text
        by_entity: dict[str, list[bool]] = {}
        for spec in catalog.recognizers.recognizers:
            needs = bool(spec.patterns) and all(r"\d" in p.regex for p in spec.patterns)
            by_entity.setdefault(spec.entity, []).append(needs)
        self.digit_only = {e for e, needs in by_entity.items() if all(needs)}
        # recognizers that run whenever one of the entities they shadow is asked for (organisations beside addresses)
        self.free_text_only = {spec.name for spec in catalog.recognizers.recognizers if spec.free_text_only}
        self.shadowing = {spec.name: set(spec.shadows) for spec in catalog.recognizers.recognizers if spec.shadows}
        order = settings.priority
        self.rank = {e: (order.index(e) if e in order else len(order)) for e in self.entities}
        self.known = frozenset(self.entities)
        self._chosen: dict[tuple[frozenset[str], bool], list[EntityRecognizer]] = {}
        # ids of the recognizers whose gate cannot tell one ASCII digit from another (see recognizers_reading)
        self._blind: frozenset[int] | None = None
        # (digit skeleton, request) -> the recognizers its blind gates let through, and those whose gates see digits
        self._by_skeleton: dict[tuple[str, frozenset[str], bool], tuple[list[EntityRecognizer], tuple]] = {}

    def recognizers_for(self, wanted: frozenset[str], free_text: bool) -> list[EntityRecognizer]:
        """The recognizers that can report one of ``wanted`` (or shadow one), in order; remembered per request."""
        key = (wanted, free_text)
        chosen = self._chosen.get(key)
        if chosen is None:
            chosen = self._chosen[key] = [
                r
                for r in self.recognizers
                if (wanted.intersection(r.supported_entities) or wanted & self.shadowing.get(r.name, _NONE))
                and (free_text or r.name not in self.free_text_only)
            ]
        return chosen

    def recognizers_reading(self, text: str, wanted: frozenset[str], free_text: bool) -> list[EntityRecognizer]:
        """:meth:`recognizers_for`, less the pattern recognizers none of whose patterns occurs in a short ``text``.

        Most strings ingest reads (user names, record ids, dossier codes) have the shape of an
        identifier, so the prefilter lets them through, yet the patterns of most recognizers find
        nothing there: one search of a recognizer's patterns as one alternation costs a fraction of
        its pattern loop, and a recognizer none of whose patterns matches reports nothing.

        Most of those gates cannot tell one ASCII digit from another (:func:`digit_blind`: every character
        class of theirs holds all ten or none, no back-reference), so each answers the same for a text and
        for its digit skeleton (ASCII digits as ``0``, same length): their answers are remembered per
        skeleton, which recurs where the texts do not (a record id, ``G38.21-261120-16394``, is seen once;
        ``G00.00-000000-00000`` on every line that has one). The others (phones, dates, cards, addresses:
        patterns that name digits) are searched in the text itself each time.
        """
        chosen = self.recognizers_for(wanted, free_text)
        if len(text) > _MAX_GATED:
            return chosen
        skeleton = text.translate(_ZEROS)
        key = (skeleton, wanted, free_text)
        kept = self._by_skeleton.get(key)
        if kept is None:
            if len(self._by_skeleton) >= _GATE_MEMO:
                self._by_skeleton.clear()
            blind = self._blind
            if blind is None:
                blind = self._blind = frozenset(id(r) for r in self.recognizers if _gate_is_blind(r))
            readers = [r for r in chosen if id(r) not in blind or r.gate.search(skeleton) is not None]
            seeing = tuple(r for r in readers if isinstance(r, FastPatternMixin) and id(r) not in blind)
            kept = self._by_skeleton[key] = (readers, seeing)
        readers, seeing = kept
        if not seeing:
            return readers
        failed = {id(r) for r in seeing if r.gate.search(text) is None}
        return [r for r in readers if id(r) not in failed] if failed else readers


def _gate_is_blind(recognizer: EntityRecognizer) -> bool:
    """Whether ``recognizer`` is gated (a pattern recognizer) and its gate is :func:`digit_blind`."""
    return isinstance(recognizer, FastPatternMixin) and digit_blind(recognizer.gate.pattern, recognizer.gate.flags)


_ALL_DIGITS = frozenset(range(ord("0"), ord("9") + 1))


def digit_blind(pattern: str, flags: int = 0) -> bool:
    """Whether ``pattern`` cannot tell one ASCII digit from another: it matches a text where it matches the
    text's digit skeleton (ASCII digits as ``0``), at the same offsets, and nowhere else.

    True when every literal and character class of the parsed pattern matches all ten ASCII digits or none
    (``\\d``, ``\\w``, ``[A-Z0-9]``, ``[.,]``; quantifier counts are not characters) and it has no
    back-reference: each step of a match then accepts a digit exactly when it accepts ``0``, lookarounds and
    word boundaries included. Anything this walk does not know (a conditional group, a new opcode) answers False.
    """
    try:
        from re import _constants as sre  # the regex parser of the running Python (3.11+)
        from re import _parser
    except ImportError:  # pragma: no cover - an older or other layout: no gate is taken as blind
        return False
    try:
        tree = _parser.parse(pattern, flags)
    except re.error:
        return False
    return _blind(tree, sre)


def _blind(items: object, sre: object) -> bool:
    c = sre
    for op, av in items:  # type: ignore[attr-defined]
        if op in (c.LITERAL, c.NOT_LITERAL):  # type: ignore[attr-defined]
            if av in _ALL_DIGITS:
                return False
        elif op is c.IN:  # type: ignore[attr-defined]
            if not _blind_class(av, c):
                return False
        elif op in (c.ANY, c.AT):  # type: ignore[attr-defined]
            continue  # any character but a newline; boundaries, where \\w holds every digit
        elif op is c.SUBPATTERN:  # type: ignore[attr-defined]
            if not _blind(av[3], c):
                return False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):  # type: ignore[attr-defined]
            if not _blind(av[2], c):
                return False
        elif op is c.BRANCH:  # type: ignore[attr-defined]
            if not all(_blind(branch, c) for branch in av[1]):
                return False
        elif op in (c.ASSERT, c.ASSERT_NOT):  # type: ignore[attr-defined]
            if not _blind(av[1], c):
                return False
        elif op is c.ATOMIC_GROUP:  # type: ignore[attr-defined]
            if not _blind(av, c):
                return False
        else:  # a back-reference, a conditional group, anything else
            return False
    return True


def _blind_class(members: list[tuple[object, object]], c: object) -> bool:
    """Whether a parsed character class holds all ten ASCII digits or none of them."""
    held: set[int] = set()
    for op, av in members:
        if op is c.NEGATE:  # type: ignore[attr-defined]
            continue  # a negated class holds the digits the class does not: all or none all the same
        if op is c.LITERAL:  # type: ignore[attr-defined]
            if av in _ALL_DIGITS:
                held.add(av)  # type: ignore[arg-type]
        elif op is c.RANGE:  # type: ignore[attr-defined]
            low, high = av  # type: ignore[misc]
            held |= {d for d in _ALL_DIGITS if low <= d <= high}
        elif op is c.CATEGORY:  # type: ignore[attr-defined]
            if av in (c.CATEGORY_DIGIT, c.CATEGORY_WORD, c.CATEGORY_NOT_SPACE):  # type: ignore[attr-defined]
                held |= _ALL_DIGITS
            elif av not in (c.CATEGORY_NOT_DIGIT, c.CATEGORY_NOT_WORD, c.CATEGORY_SPACE):  # type: ignore[attr-defined]
                return False
        else:
            return False
    return not held or held == _ALL_DIGITS


@lru_cache(maxsize=16)
def _engine(classifiers_dir: Path) -> _Engine:
    return _engine_for(Path(classifiers_dir).resolve())


@lru_cache(maxsize=4)
def _engine_for(folder: Path) -> _Engine:
    return _Engine(load_catalog(folder))


def build_analyzer(classifiers_dir: Path) -> AnalyzerEngine:
    """The configured Presidio ``AnalyzerEngine`` (cached per folder; language ``"vi"``)."""
    return _engine(classifiers_dir).engine


def supported_entities(classifiers_dir: Path) -> list[str]:
    """Entity names the analyzer can report."""
    return list(_engine(classifiers_dir).entities)


def analyze_text(
    text: str,
    entities: list[str] | None = None,
    *,
    context: list[str] | None = None,
    score_threshold: float | None = None,
    classifiers_dir: Path,
    free_text: bool = True,
) -> list[Span]:
    """Personal data in ``text`` as non-overlapping spans, ordered by position.

    ``entities`` limits the search (and the cost) to those types; ``context``
    adds words that count as surrounding context (e.g. a field name);
    ``score_threshold`` overrides the configured reporting threshold;
    ``free_text=False`` says the text is structure (a user agent, a URL), which
    recognizers marked ``free_text_only`` (the name tagger) do not read.
    Unknown entity names raise ``ValueError`` so a typo does not silently
    disable detection.
    """
    eng = _engine(classifiers_dir)
    if entities is None:
        wanted = eng.known
    else:
        wanted = frozenset(entities)
        unknown = wanted - eng.known
        if unknown:
            raise ValueError(f"unknown entities {', '.join(sorted(unknown))}; known: {', '.join(eng.entities)}")
    if not text or text.isspace():
        return []
    # every step keeps the length: offsets into ``text`` hold in ``original``
    original, text = text, blank_structure(plain_text(text), classifiers_dir)
    if eng.digit_only and _DIGIT.search(text) is None:  # the digit-only recognizers' patterns cannot match
        wanted -= eng.digit_only
    recognizers = eng.recognizers_reading(text, wanted, free_text)
    if not recognizers:
        return []
    # The same steps as AnalyzerEngine.analyze (recognizers, context, threshold, overlaps) without its
    # per-call NLP artifacts and bookkeeping: about 3x faster, identical results (see the tests).
    requested = sorted(wanted)
    threshold = eng.threshold if score_threshold is None else score_threshold
    results = []
    for recognizer in recognizers:
        if (
            isinstance(recognizer, CrfPersonRecognizer)
            and recognizer.score < threshold
            and not eng.enhancer.supported_by(recognizer, context)
        ):
            # its hits are reported only where context raises them: the tagger reads only candidates near context
            found = recognizer.analyze(text, requested, None, context_window=eng.enhancer.window)
        else:
            found = recognizer.analyze(text=text, entities=requested, nlp_artifacts=None)
        results.extend(found)
    results = eng.enhancer.enhance_using_context(text, results, None, recognizers, context)
    kept = resolve_overlaps([r for r in results if r.score >= threshold], eng.rank)
    # shadowing recognizers and promoted matches may have produced entities nobody asked for
    return [
        Span(r.entity_type, r.start, r.end, r.score, original[r.start : r.end]) for r in kept if r.entity_type in wanted
    ]


def resolve_overlaps(results: list[RecognizerResult], rank: dict[str, int]) -> list[RecognizerResult]:
    """Keep the best of overlapping spans: higher score, then entity priority, then the longer span."""
    ordered = sorted(results, key=lambda r: (-r.score, rank.get(r.entity_type, 99), -(r.end - r.start), r.start))
    kept: list[RecognizerResult] = []
    for r in ordered:
        if all(r.end <= k.start or r.start >= k.end for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda r: r.start)
