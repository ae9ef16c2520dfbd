"""The protector gives the documents the reference implementation gives, read for read (``protect_reference.py``).

Protection reads each string of a document once and remembers what it holds by offsets (``_Read``), walks
field paths through a trie, never remembers the raw line of a parsed event, decides what is left of that
line once its fields are blanked out by its skeleton, and replaces values without compiling a regex. None
of it may change an output: here every event of a varied corpus (the parse corpus: the conformance lines,
the demo traffic, the portal's real-looking lines, access-log variants, JSON and hostile lines) and
arbitrary generated documents are protected by both, for several purposes, and compared whole, key order
included (the ciphertext of ``pe-`` tokens, random per value, left out). ``bench/protection.py`` does the
same against an earlier commit on the 100,000-line portal file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote_plus

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.classify import plain_text
from sentinel.collect.parsers import LineReader
from sentinel.policy.finder import classifier_finder
from sentinel.policy.model import INGEST
from sentinel.policy.operators import OperatorSet
from sentinel.policy.protect import DROP, Protector, _blank_each, _Memo, _Read, _Replacer
from sentinel.policy.purposes import purpose_protector
from tests.collect.parse_corpus import corpus

from . import protect_reference
from .conftest import CCCD, EMAIL, NAME, PHONE

CIPHERTEXT = re.compile(rb"pe-[a-z_]+-[A-Za-z0-9+/_=%-]+")


def _same(new: Protector, reference: protect_reference.Protector, doc: dict) -> None:
    ours, theirs = new.protect(doc), reference.protect(doc)
    assert CIPHERTEXT.sub(b"pe-", orjson.dumps(ours)) == CIPHERTEXT.sub(b"pe-", orjson.dumps(theirs)), doc


def _pair(protector: Protector) -> tuple[Protector, protect_reference.Protector]:
    """A fresh protector and the reference with the same policy, operators and recognisers."""
    new = Protector(protector.loaded, protector.actions, protector.ops, protector.find)
    return new, protect_reference.Protector(protector.loaded, protector.actions, protector.ops, protector.find)


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return corpus(sessions=60, variants_count=800)


@pytest.mark.parametrize("purpose", [INGEST, "triage", "analytics_export"])
def test_every_event_of_the_corpus_is_protected_as_the_reference_does(loaded, keys, lines, purpose) -> None:
    new, reference = _pair(purpose_protector(loaded, purpose, keys))
    reader = LineReader("auto", anchor=datetime(2026, 7, 2, tzinfo=UTC), year=2026)
    events = [event for i, raw in enumerate(lines) for event in reader.parse(raw, source="corpus", position=i)]
    for _ in range(2):  # the second time from what the first remembered
        for event in events:
            _same(new, reference, event)
    assert new.counts == reference.counts


def test_a_role_that_may_not_see_some_entities_masks_as_the_reference_does(loaded, lines) -> None:
    """Dropped entities (a denied field goes, its value is redacted elsewhere) and a purpose's masks."""
    actions = {"VN_PHONE": DROP, "EMAIL_ADDRESS": DROP}
    finder = classifier_finder(["VN_PHONE", "EMAIL_ADDRESS", "VN_CCCD"], 0.5, loaded.classifiers_dir)
    spec = loaded.policy.purposes["triage"].spec_for("VN_CCCD")
    ops = OperatorSet({"VN_CCCD": spec}, None, loaded.classifiers_dir)
    new = Protector(loaded, {**actions, "VN_CCCD": spec}, ops, finder)
    reference = protect_reference.Protector(loaded, {**actions, "VN_CCCD": spec}, ops, finder)
    reader = LineReader("auto", anchor=datetime(2026, 7, 2, tzinfo=UTC), year=2026)
    for i, raw in enumerate(lines[:3000]):
        for event in reader.parse(raw, source="corpus", position=i):
            _same(new, reference, event)


# -- arbitrary documents --------------------------------------------------------------------------------
VALUES = [CCCD, PHONE, EMAIL, NAME, "Nguyen Van An", "+84983417265", "0912 345 678", "30A-123.45", "Giáp Thu Ngân"]
GLUE = ["", "x", "req-", "CCCD_", "/ho-so/", ".pdf", "@", "-", " ", "?ho_ten=", "&so_cccd=", "=", "%20", "+"]
WORDS = ["GET", "/tim-kiem", "Đăng Ký Kết Hôn", "ông", "bà", "số CCCD", "phường Cửa Nam", "Hà Nội", "dân tộc Tày"]
WORDS += ['logid="0316013056"', "Their offer: aes128-cbc,rijndael-cbc@lysator.liu.se", "10.0.0.1", "1.2.3.4:8080"]
WORDS += ["covid-19", "   ", "2026-11-20T08:00:00Z", "rt=0.183", "Mozilla/5.0 (X11; Linux x86_64)", "pz-vn_cccd-abc"]
PATHS = [
    ("message",),
    ("event", "original"),
    ("user_agent", "original"),
    ("url", "original"),
    ("url", "query"),
    ("url", "path"),
    ("http", "request", "referrer"),
    ("normalized", "referrer"),
    ("user", "name"),
    ("labels", "record_id"),
    ("so_cccd",),
    ("form", "ho_ten"),
    ("form", "dan_toc"),
    ("event", "id"),
    ("tags",),
    ("ref",),
    ("source", "ip"),
]

# Characters read as their ASCII look-alikes (plain_text: other scripts' digits, no-break and zero-width spaces)
# are read so since the reference, on purpose: test_never_raw.py and test_candidates.py check them.
odd = st.text(max_size=4).map(plain_text)
text = st.lists(st.one_of(st.sampled_from(VALUES), st.sampled_from(GLUE), st.sampled_from(WORDS), odd), max_size=8).map(
    "".join
)
text = text | text.map(lambda t: quote_plus(t)) | text.map(lambda t: f"/tra-cuu?q={quote_plus(t)}&ho_ten={t}")
leaf = st.one_of(text, st.integers(-(10**13), 10**13), st.none(), st.booleans(), st.floats(allow_nan=False))


@st.composite
def documents(draw: st.DrawFn) -> dict:
    doc: dict = {}
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=9)):
        node = doc
        for key in path[:-1]:
            child = node.get(key)
            node = node.setdefault(key, {}) if not isinstance(child, dict) else child
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = draw(st.one_of(leaf, st.lists(leaf, max_size=3), st.fixed_dictionaries({"x": leaf})))
    if draw(st.booleans()):  # the raw line holds some of the document's strings, glued to others
        strings = [v for v in orjson.loads(orjson.dumps(doc, default=str)).values() if isinstance(v, str)]
        doc.setdefault("event", {})
        if isinstance(doc["event"], dict):
            doc["event"]["original"] = draw(st.sampled_from(GLUE)).join([*strings, draw(text)])
    if draw(st.integers(0, 5)) == 0:
        doc.setdefault("event", {})
        if isinstance(doc["event"], dict):
            doc["event"]["kind"] = "pipeline_error"
    if draw(st.integers(0, 5)) == 0:
        doc["event"] = {"original": orjson.dumps({"ho_ten": draw(text), "msg": draw(text)}).decode()}
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(documents(), min_size=1, max_size=4))
def test_arbitrary_documents_are_protected_as_the_reference_does(loaded, keys, docs) -> None:
    new, reference = _pair(purpose_protector(loaded, INGEST, keys))
    for doc in [*docs, *docs]:  # again, from what was remembered
        _same(new, reference, doc)
    assert new.counts == reference.counts


# -- the pieces ---------------------------------------------------------------------------------------------
def _edge(char: str, look: str) -> str:
    if char.isdigit():
        return f"(?{look}\\d)"
    if char.isalpha():
        return f"(?{look}[^\\W_])"
    return ""


def _regex_sub(values: dict[str, str], text: str) -> str:
    """What the replacement was: one alternation of the values, longest first, each guarded, through re.sub."""
    keys = sorted((k for k in values if len(k) >= 4), key=len, reverse=True)
    if not keys:
        return text
    pattern = re.compile("|".join(_edge(k[0], "<!") + re.escape(k) + _edge(k[-1], "!") for k in keys))
    return pattern.sub(lambda m: values[m.group(0)], text)


@st.composite
def replacements(draw: st.DrawFn) -> tuple[dict[str, str], str]:
    """A text of few letters (values overlap, repeat and touch) and values cut from it, with their replacements."""
    text = draw(st.text(alphabet="01١ab _-é.Ä", min_size=4, max_size=40))
    values = {}
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, len(text) - 1))
        key = text[start : start + draw(st.integers(1, 9))]
        values[key] = draw(st.text(alphabet="xyz<>", max_size=4))
    return values, text


@settings(max_examples=1000, deadline=None)
@given(case=replacements())
def test_values_are_replaced_where_the_regex_replaced_them(case: tuple[dict[str, str], str]) -> None:
    values, text = case
    assert _Replacer(values).sub(text) == _regex_sub(values, text)


@st.composite
def blankings(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """Texts of few characters (spaces among them) and strings cut from them: pieces overlap, repeat, touch,
    start or end with spaces, hold runs of spaces, and are found again once others are blanked."""
    alphabet = draw(st.sampled_from(["ab ", "ab  c", "a b-", "aaab ", "ab"]))
    texts = draw(st.lists(st.text(alphabet=alphabet, min_size=8, max_size=60), min_size=1, max_size=4))
    others = []
    for _ in range(draw(st.integers(0, 8))):
        source = draw(st.sampled_from(texts))
        start = draw(st.integers(0, len(source) - 1))
        others.append(source[start : start + draw(st.integers(6, 30))])
    others += draw(
        st.lists(st.sampled_from([" " * 8, " " * 9 + "a", "a" + " " * 8, "ab ab ab", " ab ab ab "]), max_size=3)
    )
    return texts, others


@settings(max_examples=600, deadline=None)
@given(case=blankings())
def test_strings_are_blanked_out_of_others_as_the_copy_per_string_did(case: tuple[list[str], list[str]]) -> None:
    texts, others = case
    assert _blank_each(texts, others) == protect_reference._blank_each(texts, others)


@pytest.mark.parametrize(
    ("text", "others"),
    [
        ("zzzzzzzzzaaaaaaaaa", ["zzzzzzzzza", "aaaaaaaa"]),  # the first "aaaaaaaa" leans on a blanked stretch
        ("ab  ab  ab  ab  ab", ["b  ab  a", "  ab  ab"]),  # a piece with spaces at its ends, once another is out
        ("ab" + " " * 10 + "cd", [" " * 9, "ab" + " " * 10]),
        ("x-hello-world-x hello-world", ["hello-world", "world-x hello"]),
    ],
)
def test_blanking_edge_cases_as_the_copy_per_string_did(text: str, others: list[str]) -> None:
    assert _blank_each([text], others) == protect_reference._blank_each([text], others)


residue = st.lists(
    st.one_of(
        st.sampled_from(["(0", "@", "ngày ", "Ngày ", "covid-19", "Nguyễn", "Kinh", "1.2.3.4", "2026-11-20", "T08:00"]),
        st.sampled_from(["30A-", "29-B1 ", "0912 345 678", "15/03/1990", "9999", "-", ".", ":", "/", '"', "\n"]),
        st.text(alphabet="0123456789 ", max_size=12),
        st.text(max_size=3),
    ),
    max_size=14,
).map("".join)


@settings(max_examples=800, deadline=None)
@given(text=residue)
def test_a_skeleton_that_holds_nothing_stands_for_a_text_that_holds_nothing(loaded, keys, text: str) -> None:
    """What is left of a raw line is decided by its skeleton only when the prefilter would find nothing in it."""
    protector = purpose_protector(loaded, INGEST, keys)
    read = _Read()
    protector._residue_spans(read, text)
    if read.spans == ():
        assert not protector.find.prefilter.entities_in(protector._blank(text))


def test_the_remembered_reads_are_bounded_and_keep_what_recurs() -> None:
    memo = _Memo(4)
    for n in range(3):
        memo.put(b"hot", "kept")
        for k in range(n * 3, n * 3 + 3):
            memo.put(bytes([k]), k)
    assert len(memo) + len(memo.old) <= 8
    assert memo[b"hot"] == "kept" and memo[b"nothing"] is None
    assert memo[bytes([0])] is None  # asked once, long ago: forgotten
    assert memo[bytes([4])] == 4 and bytes([4]) in memo  # found in the older generation: moved to the newer


@pytest.mark.parametrize("where", ["message", "url", "raw line"])
def test_a_value_named_by_a_field_is_replaced_in_a_raw_line_as_before(loaded, keys, where) -> None:
    """The raw line is read afresh (never remembered) but protected like any other string."""
    new, reference = _pair(purpose_protector(loaded, INGEST, keys))
    line = f'1.2.3.4 - - [01/Jul/2026:10:00:00 +0700] "GET /ho-so?so_cccd={CCCD} HTTP/1.1" 200 1 "-" "{NAME}"'
    doc = {"event": {"original": line}, "form": {"so_cccd": CCCD}}
    if where == "message":
        doc["message"] = f"gọi {PHONE}"
    elif where == "url":
        doc["url"] = {"original": f"/ho-so?so_cccd={CCCD}", "query": f"so_cccd={CCCD}"}
    for _ in range(2):
        _same(new, reference, doc)
    assert CCCD not in orjson.dumps(new.protect(doc)).decode()
