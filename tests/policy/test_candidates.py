"""The candidate pass must never hide an identifier the recognisers would find."""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.classify.analyzer import analyze_text
from sentinel.classify.catalog import load_catalog
from sentinel.classify.normalize import plain_text
from sentinel.policy.candidates import Prefilter, candidate_lines, has_candidate, prefilter_for
from tests.content import CLASSIFIERS

REPO = Path(__file__).resolve().parents[2]

# Realistic spellings of every pattern-recognised entity.
EXAMPLES = {
    "VN_CCCD": ["001099012345", "001 099 012345", "079.203.004567"],
    "VN_CMND": ["CMND số 123456789"],
    "VN_BHXH": ["số BHXH 7912345678", "thẻ BHYT DN 4 01 7912345678"],
    "VN_MST": ["MST 0101243150", "mã số thuế 0101243150-001"],
    "VN_PHONE": ["0983417265", "0983 417 265", "0983.417.265", "+84 983 417 265", "(024) 3825 1234", "0084983417265"],
    "VN_PASSPORT": ["hộ chiếu B1234567"],
    "VN_LICENSE_PLATE": ["30A-123.45", "29-B1 123.45", "51G 12345", "30AB-123.45", "29B1 123.45", "51G1234"],
    "VN_BANK_ACCOUNT": ["số tài khoản 0451000123456", "STK 1903 4567 8901 2345"],
    "CREDIT_CARD": ["4111 1111 1111 1111", "5500-0000-0000-0004"],
    "EMAIL_ADDRESS": ["lan.nguyen@example.vn"],
    "DOSSIER_CODE": ["000.00.24.H26-250312-0045", "H01.2026.000123"],
    "DATE_OF_BIRTH": ["sinh ngày 15/03/1990", "ngày sinh 1990-03-15", "ngày 5 tháng 3 năm 1990", "15.03.1990"],
}


def test_examples_cover_every_pattern_entity():
    catalog = load_catalog(CLASSIFIERS)
    pattern_entities = {s.entity for s in catalog.recognizers.recognizers if s.patterns}
    assert pattern_entities <= set(EXAMPLES)


@pytest.mark.parametrize(("entity", "text"), [(e, t) for e, ts in EXAMPLES.items() for t in ts])
def test_every_recognised_identifier_is_a_candidate(entity, text):
    line = f"2026-11-20T08:00:00Z INFO ho so {text} da tiep nhan"
    assert list(candidate_lines(line.encode())), (entity, text)


def test_ordinary_log_lines_are_not_candidates():
    lines = [
        b'14.160.32.7 - - [20/Nov/2026:08:15:02 +0700] "GET /dvc/thu-tuc/1.001612?page=2 HTTP/1.1" 200 5120',
        b'{"@timestamp":"2026-11-20T01:15:03.120Z","level":"info","msg":"dossier accepted","took_ms":35}',
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0",
        # every iPhone browser's build number: two digits, a capital, three digits, but no plate
        b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) Version/17.6 Mobile/15E148 Safari/604.1",
    ]
    assert list(candidate_lines(b"\n".join(lines))) == []


def test_candidates_reach_the_recogniser():
    data = "\n".join(f"x {t} y" for ts in EXAMPLES.values() for t in ts).encode()
    found = {s.type for s in analyze_text(data.decode(), score_threshold=0.3, classifiers_dir=CLASSIFIERS)}
    lines = b"\n".join(data[c.start : c.end] for c in candidate_lines(data)).decode()
    assert found == {s.type for s in analyze_text(lines, score_threshold=0.3, classifiers_dir=CLASSIFIERS)}


# Zeros of other scripts' decimal digits: fullwidth (East Asian input methods), Arabic-Indic, Extended
# Arabic-Indic, Devanagari, Thai, mathematical bold (four bytes in UTF-8)
ZEROS = [0xFF10, 0x0660, 0x06F0, 0x0966, 0x0E50, 0x1D7CE]
# Spaces a word processor or a web page puts between digit groups: no-break, narrow no-break, thin, figure,
# ideographic; and invisible ones: zero-width space, soft hyphen, word joiner, a bidirectional override
SPACES = ["\u00a0", "\u202f", "\u2009", "\u2007", "\u3000", "\u200b", "\u00ad", "\u2060", "\u202e"]


def in_script(zero: int, text: str) -> str:
    return "".join(chr(zero + int(c)) if "0" <= c <= "9" else c for c in text)


SPELLINGS = {
    **{f"digits-{zero:x}": functools.partial(in_script, zero) for zero in ZEROS},
    **{f"space-{ord(space):x}": functools.partial(lambda space, t: t.replace(" ", space), space) for space in SPACES},
    "fullwidth-forms": lambda t: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in t),
    "dashes": lambda t: t.replace("-", "\u2013").replace(".", "\uff0e"),
}


@pytest.mark.parametrize("spell", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_identifiers_spelled_otherwise_are_candidates_and_found_where_they_are(spell):
    """Typed in fullwidth or Arabic-Indic digits, grouped with no-break or zero-width spaces, every example
    is still a candidate line, and the recognisers find the same entities at the same offsets, reporting
    the text as written."""
    seen: set[str] = set()
    for entity, texts in EXAMPLES.items():
        for text in texts:
            line = f"2026-11-20T08:00:00Z INFO ho so {text} da tiep nhan"
            other = line[:32] + spell(line[32:])  # the timestamp as written, the rest spelled otherwise
            assert len(other) == len(line)
            assert spans(other.encode()) == [other.encode()], (entity, text)
            assert has_candidate(other.encode()), (entity, text)
            ascii_spans = analyze_text(line, score_threshold=0.3, classifiers_dir=CLASSIFIERS)
            found = analyze_text(other, score_threshold=0.3, classifiers_dir=CLASSIFIERS)
            assert [(s.type, s.start, s.end) for s in found] == [(s.type, s.start, s.end) for s in ascii_spans]
            assert [s.text for s in found] == [other[s.start : s.end] for s in found]
            seen.update(s.type for s in found)
    assert {"VN_CCCD", "VN_PHONE", "VN_BHXH", "VN_MST", "VN_BANK_ACCOUNT", "DATE_OF_BIRTH"} <= seen


_MIXED = st.text(
    alphabet=st.one_of(
        st.sampled_from("0123456789 -./:@+()\nAaBbxyzđĐếngàysinhố"),
        st.sampled_from([chr(z + d) for z in ZEROS for d in range(10)]),
        st.sampled_from([*SPACES, "\u2028", "\u2013", "\uff0d", "\uff20", "\uff21", "\U000e0041"]),
        st.sampled_from(["\udcff", "\x80", "é"]),  # a byte that is not UTF-8 (escaped), Latin-1
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(text=_MIXED)
def test_the_candidate_pass_reads_a_text_exactly_as_its_plain_form(text):
    """Whatever the mix of scripts and spaces, the lines found are the lines found in its plain form."""
    data = text.encode("utf-8", "surrogateescape")
    normal = plain_text(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
    assert data.count(b"\n") == normal.count(b"\n")
    got = [plain_text(line.decode("utf-8", "surrogateescape")) for line in spans(data)]
    assert got == [line.decode("utf-8", "surrogateescape") for line in spans(normal)]
    assert has_candidate(data) == has_candidate(normal) == bool(got)


def test_line_offsets():
    data = b"nothing here\nphone 0983417265 ok\nlast"
    assert [data[c.start : c.end] for c in candidate_lines(data)] == [b"phone 0983417265 ok"]


WANTED = ["PERSON", "HEALTH", "LOCATION", "VN_CCCD", "EMAIL_ADDRESS", "CREDIT_CARD", "IP_ADDRESS", "NOT_AN_ENTITY"]


@pytest.fixture
def prefilter() -> Prefilter:
    # built for each test (1-2 ms), not taken from prefilter_for's cache: every test that reads it runs its build
    return Prefilter(WANTED, CLASSIFIERS)


def test_the_prefilter_sorts_entities_by_how_they_are_found(prefilter):
    assert prefilter.shaped == {"VN_CCCD", "EMAIL_ADDRESS", "CREDIT_CARD"} and prefilter.addresses == {"IP_ADDRESS"}
    # built once per set
    assert prefilter_for(frozenset(WANTED), CLASSIFIERS) is prefilter_for(frozenset(WANTED), CLASSIFIERS)
    assert Prefilter([], CLASSIFIERS).entities_in("Nguyễn Văn An 001099012345 lan@example.vn 203.0.113.5") == set()


def test_the_prefilter_reads_the_term_lists_of_its_classifiers_folder(tmp_path):
    """A deployment's own term lists: a health term added, the street keywords left out."""
    folder = tmp_path / "classifiers"
    shutil.copytree(REPO / "classifiers", folder)
    terms = folder / "terms.yaml"
    text = terms.read_text(encoding="utf-8").replace("  health: [ung thư,", "  health: [zqxv, ung thư,")
    terms.write_text(re.sub(r"(?ms)^  street_keywords:.*?(?=^  admin_keywords:)", "", text), encoding="utf-8")
    own = Prefilter(["HEALTH", "LOCATION"], folder)
    assert own.entities_in("bị zqxv") == {"HEALTH"} and own.entities_in("ngõ 5, phường 2") == {"LOCATION"}
    assert own.entities_in("ngõ 5") == set()
    assert Prefilter(["HEALTH"], CLASSIFIERS).entities_in("bị zqxv") == set()


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("hồ sơ 001099012345 đã nhận", {"VN_CCCD", "EMAIL_ADDRESS", "CREDIT_CARD"}),  # a shape: every shaped entity
        ("gửi lan@example.vn", {"VN_CCCD", "EMAIL_ADDRESS", "CREDIT_CARD"}),
        ('{"@timestamp": 1}', set()),  # an @ that is not a mailbox's
        ("from 203.0.113.5", {"IP_ADDRESS"}),
        ("client fe80::1", {"IP_ADDRESS"}),
        ("version 1.2.3", set()),
        ("bệnh nhân mắc ung thư", {"HEALTH"}),
        ("BENH NHAN MAC UNG THU", {"HEALTH", "PERSON"}),  # without accents too ("Ung" is also a surname)
        ("bung thư", set()),  # a term inside a longer word is not the term
        ("ung thưa", set()),
        ("gặp Nguyễn Văn An", {"PERSON"}),
        ("gặp nguyễn văn an", set()),  # a surname only with its capital
        ("İzmir nguyễn", {"PERSON"}),  # where lower-casing moves the offsets the capital cannot be checked: kept
        ("phường Ba Đình", {"LOCATION"}),
        ("tp Huế", set()),  # two-letter words are everywhere
        ("nothing here", set()),
    ],
)
def test_which_entities_could_be_in_a_text(prefilter, text, entities):
    assert prefilter.entities_in(text) == entities


def test_word_lines_name_each_line_and_its_entities(prefilter):
    text = "dòng một\nbệnh nhân mắc ung thư\nNguyễn Văn An, phường 5\nnguyễn thường\nxung thư"
    second, third = text.index("bệnh"), text.index("Nguyễn")
    assert prefilter.word_lines(text) == {second: {"HEALTH"}, third: {"PERSON", "LOCATION"}}
    assert prefilter.word_lines("İzmir nguyễn") == {0: {"PERSON"}}
    assert Prefilter(["VN_CCCD"], CLASSIFIERS).word_lines(text) == {}  # no word-based entity: no automaton


def spans(data: bytes) -> list[bytes]:
    return [data[c.start : c.end] for c in candidate_lines(data)]


def test_lines_at_either_end_of_the_data():
    assert spans(b"001099012345 first") == [b"001099012345 first"]
    assert spans(b"x\nsinh ngay 1990-03-15") == [b"sinh ngay 1990-03-15"]  # an ISO date that ends the data
    assert spans(b"x\n2026-11-20 08:00") == []  # the date part of a timestamp


def test_a_rejected_place_does_not_end_the_search_for_that_shape():
    assert spans(b"at @ home\nlan@example.vn") == [b"lan@example.vn"]
    assert spans(b"Mobile/15E148 Safari/604.1\n30A-123.45") == [b"30A-123.45"]


def test_timestamps_with_an_offset_are_blanked_in_place():
    data = b"2026-11-20T08:00:00.123+07:00 ok\n2026-11-20T08:00:01+0700 call 0983417265\n2026-11-20 08:00:02 end"
    assert spans(data) == [b"2026-11-20T08:00:01+0700 call 0983417265"]


@pytest.mark.parametrize(
    ("line", "layout"),
    [
        (b'{"trace_id":"001099012345"}', b'{"trace_id":"'),
        (b"GET /api/ho-so/req-001099012345 HTTP/1.1", b"GET /api/ho-so/"),  # the glued token starts at "req-"
        (b"GET /api/ho-so/hs-001099012345 HTTP/1.1", b"GET /api/ho-so/"),
        (b"x" * 40 + b" id " + b"y" * 31 + b"0983417265", b"x" * 12 + b" id "),
        (b"k=" + b"a" * 100 + b"0983417265", b"a" * 16),  # a token longer than 64 bytes is cut at 64
    ],
)
def test_the_layout_is_what_precedes_the_candidates_token(line, layout):
    (candidate,) = candidate_lines(b"first line\n" + line)
    assert candidate.layout == layout


# the pieces identifiers and their look-alikes are made of: digit groups, separators, capitals, "@", "ngày", stamps
PIECES = ["0", "12", "345", "2026", "0983417265", " ", "-", ".", "/", ":", "\n", "A", "B1", "x", "@", "(0", "ngày ",
          "T", "Z", '"@timestamp"', "2026-11-20T08:00:00Z", "Ngày ", "é", "+84"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_the_one_pass_answer_is_the_candidate_pass_answer(text):
    data = text.encode()
    assert has_candidate(data) == bool(list(candidate_lines(data)))


def test_the_one_pass_answer_on_examples_and_long_texts():
    for ts in EXAMPLES.values():
        for t in ts:
            assert has_candidate(f"ho so {t} da tiep nhan".encode()), t
    assert not has_candidate(b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) Version/17.6 Mobile/15E148")
    long = b"x" * 5000
    assert not has_candidate(long) and has_candidate(long + b" 0983417265")


def test_a_refused_shape_does_not_hide_one_overlapping_it():
    """ "2026-11-20" is refused as a date glued to digits, but "11-201234" inside it is an identifier's grouping."""
    for data in (b"ma 2026-11-201234", b"so 0912-34-567890"):
        assert has_candidate(data) and list(candidate_lines(data))
