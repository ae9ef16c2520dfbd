from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.classify.analyzer import _engine as engine_for
from sentinel.classify.analyzer import analyze_text, build_analyzer, resolve_overlaps, supported_entities
from sentinel.classify.taxonomy import load_taxonomy
from tests.content import CLASSIFIERS

REQUIRED = {
    "PERSON", "VN_CCCD", "VN_CMND", "VN_BHXH", "VN_MST", "VN_PHONE", "VN_PASSPORT", "VN_LICENSE_PLATE",
    "VN_BANK_ACCOUNT", "EMAIL_ADDRESS", "IP_ADDRESS", "DATE_OF_BIRTH", "LOCATION", "CREDIT_CARD", "ETHNICITY",
    "RELIGION", "HEALTH",
}  # fmt: skip

COMPLAINT = (
    "Ông Nguyễn Văn An, sinh ngày 12/03/1985, CCCD 001085012387, SĐT 0912 384 657, email an.nv@gmail.com, "
    "trú tại số 12 ngõ 34 phố Huế, phường Hai Bà Trưng, Hà Nội phản ánh tiếng ồn karaoke."
)


def found(text: str, **kw) -> dict[str, str]:
    return {s.type: s.text for s in analyze_text(text, classifiers_dir=CLASSIFIERS, **kw)}


def test_required_entities_are_supported() -> None:
    assert set(supported_entities(classifiers_dir=CLASSIFIERS)) >= REQUIRED


def test_spans_are_character_offsets_into_the_input() -> None:
    spans = analyze_text(COMPLAINT, classifiers_dir=CLASSIFIERS)
    assert {s.type for s in spans} >= {"PERSON", "DATE_OF_BIRTH", "VN_CCCD", "VN_PHONE", "EMAIL_ADDRESS", "LOCATION"}
    for s in spans:
        assert COMPLAINT[s.start : s.end] == s.text
    by_type = {s.type: s.text for s in spans}
    assert by_type["PERSON"] == "Nguyễn Văn An"
    assert by_type["VN_CCCD"] == "001085012387"
    assert by_type["LOCATION"] == "số 12 ngõ 34 phố Huế, phường Hai Bà Trưng, Hà Nội"
    assert sorted(spans, key=lambda s: s.start) == spans
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


@pytest.mark.parametrize("label", ["số tài khoản", "So tai khoan", "STK", "tài khoản Vietcombank số"])
def test_bank_account_needs_context_and_context_works_without_diacritics(label: str) -> None:
    assert found(f"{label} 0011004123456 nhé")["VN_BANK_ACCOUNT"] == "0011004123456"


def test_context_words_really_raise_the_score() -> None:
    bare = analyze_text("0100109106", score_threshold=0, classifiers_dir=CLASSIFIERS)
    boosted = analyze_text("mã số thuế: 0100109106", score_threshold=0, classifiers_dir=CLASSIFIERS)
    assert bare[0].type == boosted[0].type == "VN_MST"
    assert boosted[0].score > bare[0].score + 0.3
    assert not analyze_text(
        "0011004123456", classifiers_dir=CLASSIFIERS
    )  # the same account number without context is not reported


def test_caller_context_such_as_a_field_name_counts() -> None:
    assert not analyze_text("125678934", classifiers_dir=CLASSIFIERS)
    assert found("125678934", context=["so cmnd"])["VN_CMND"] == "125678934"


@pytest.mark.parametrize(
    "text",
    [
        "Hồ sơ 000.00.24.H26-250312-0045 đã chuyển sang bước thẩm định.",
        "Thủ tục 1.001612 theo Công điện 111/CĐ-TTg.",
        "Số hóa đơn 0312456783 ngày 12/03/2026, thành tiền 1.250.000 đồng.",
        "Mã đơn hàng 0983217465 đang được giao.",
        "Tọa độ điểm ngập: 21.028511, 105.804817.",
        "log at 2026-03-12T02:00:00Z took 1532 ms, build 2.14.3.1",
        "Tổng số hồ sơ tháng 3 là 125436789012.",
        "Đường Lê Lợi và phố Trần Hưng Đạo bị ngập.",
    ],
)
def test_hard_negatives_are_not_personal_data(text: str) -> None:
    taxonomy = load_taxonomy(classifiers_dir=CLASSIFIERS)
    assert [s for s in analyze_text(text, classifiers_dir=CLASSIFIERS) if taxonomy.category(s.type) != "none"] == []


@pytest.mark.parametrize("name", ["Nguyễn Thị Mai", "NGUYỄN THỊ MAI", "Nguyen Thi Mai", "Lò Văn Páo"])
def test_names_with_and_without_diacritics_and_upper_case(name: str) -> None:
    assert found(f"Người nộp: {name}, đề nghị cấp lại.")["PERSON"] == name


def test_street_and_place_names_are_not_people() -> None:
    spans = analyze_text("Nhà ở 17/4 Lý Thường Kiệt, phường Cửa Nam, Hà Nội", classifiers_dir=CLASSIFIERS)
    assert [s.type for s in spans] == ["LOCATION"]
    assert not analyze_text("Hà Nội mùa thu", classifiers_dir=CLASSIFIERS)


def test_former_province_names_in_old_records() -> None:
    assert found("Quê quán: tỉnh Hải Dương")["LOCATION"] == "tỉnh Hải Dương"
    # districts were abolished in 2025 and Hà Tây in 2008, yet such addresses fill old records
    old = "trú tại thôn 3, xã Tân Lập, huyện Đan Phượng, tỉnh Hà Tây"
    assert found(old)["LOCATION"] == "thôn 3, xã Tân Lập, huyện Đan Phượng, tỉnh Hà Tây"


def test_sensitive_values_need_their_own_words() -> None:
    spans = found("Bệnh nhân mắc tiểu đường, dân tộc Tày, theo đạo Công giáo.")
    assert spans == {"HEALTH": "tiểu đường", "ETHNICITY": "Tày", "RELIGION": "Công giáo"}
    assert "ETHNICITY" not in found("Anh ấy theo đạo từ nhỏ")  # "đạo" is not the Dao people
    assert "ETHNICITY" not in found("Kinh doanh karaoke")


def test_identifier_formats() -> None:
    text = (
        "CMND số 125678934, BHXH 0123987456, thẻ BHYT DN4010123987456, hộ chiếu số B2751846, "
        "xe 30A-123.45 và 29-B1 123.45, MST chi nhánh 0100109106-001, ĐT (024) 3825 1234, IP 203.113.45.12, "
        "thẻ tín dụng 4111 1111 1111 1111"
    )
    got = [(s.type, s.text) for s in analyze_text(text, classifiers_dir=CLASSIFIERS)]
    assert got == [
        ("VN_CMND", "125678934"),
        ("VN_BHXH", "0123987456"),
        ("VN_BHXH", "DN4010123987456"),
        ("VN_PASSPORT", "B2751846"),
        ("VN_LICENSE_PLATE", "30A-123.45"),
        ("VN_LICENSE_PLATE", "29-B1 123.45"),
        ("VN_MST", "0100109106-001"),
        ("VN_PHONE", "(024) 3825 1234"),
        ("IP_ADDRESS", "203.113.45.12"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
    ]


def test_entity_filter_and_unknown_entities() -> None:
    assert {s.type for s in analyze_text(COMPLAINT, ["VN_PHONE"], classifiers_dir=CLASSIFIERS)} == {"VN_PHONE"}
    assert analyze_text("no digits here at all", ["VN_CCCD", "VN_PHONE"], classifiers_dir=CLASSIFIERS) == []
    with pytest.raises(ValueError, match="unknown entities VN_SSN"):
        analyze_text("x", ["VN_SSN"], classifiers_dir=CLASSIFIERS)


def test_fast_path_gives_the_same_result_as_the_presidio_engine() -> None:
    engine, rank = build_analyzer(classifiers_dir=CLASSIFIERS), engine_for(CLASSIFIERS).rank
    texts = [
        COMPLAINT,
        "Bà Lò Thị Xuân, dân tộc Thái, quê quán xã Mường Phăng, tỉnh Điện Biên, STK 0011004123456 BIDV",
        "Mã hồ sơ 000.00.12.H26-250101-0001, số tiền 1250000 đồng, SĐT 0983 217 465",
    ]
    for text in texts:
        fast = [(s.type, s.start, s.end, round(s.score, 6)) for s in analyze_text(text, classifiers_dir=CLASSIFIERS)]
        slow = resolve_overlaps(engine.analyze(text=text, language="vi"), rank)
        assert fast == [(r.entity_type, r.start, r.end, round(r.score, 6)) for r in slow]


def test_email_validation_is_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the analyzer tried to use the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert found("liên hệ hoa.nt@hanoi.gov.vn")["EMAIL_ADDRESS"] == "hoa.nt@hanoi.gov.vn"


def test_names_with_unlisted_surnames_come_from_the_crf_model() -> None:
    # "Giáp" and "Lữ" are not in terms.yaml; underthesea's CRF model (shipped in its wheel) finds them
    assert found("Bà Giáp Thu Ngân gửi kiến nghị về hồ sơ")["PERSON"] == "Giáp Thu Ngân"
    assert found("Người bị phản ánh là Lữ Quốc Phương, sống tại xã Tân Lập")["PERSON"] == "Lữ Quốc Phương"
    # capitalised headings and religion names are not people
    assert "PERSON" not in found("Quyết Định Phê Duyệt Kinh Phí")
    assert "PERSON" not in found("Công dân theo đạo Tin Lành")


def test_the_name_tagger_reads_only_candidates_that_context_could_report() -> None:
    from sentinel.classify.recognizers import _tagged_people

    # a capitalised run far from any context phrase scores below the threshold whatever the tagger says
    heading = "Thủ Tục Nhận Con Nuôi " + "x" * 60 + " Giấy Phép Xây Dựng"
    before = _tagged_people.cache_info()
    assert analyze_text(heading, classifiers_dir=CLASSIFIERS) == []
    assert _tagged_people.cache_info().misses == before.misses
    # the same run near a title, or with a field name as context, is read and reported
    assert found("x " * 30 + "bà Khổng Thu Ngân")["PERSON"] == "Khổng Thu Ngân"
    assert found("Khổng Thu Ngân", context=["họ tên"])["PERSON"] == "Khổng Thu Ngân"
    # at a threshold its own score reaches, no context is needed to read it
    assert "PERSON" in found("Giáp Thu Ngân gửi kiến nghị", score_threshold=0.3)


def test_the_name_tagger_answers_a_repeated_text_from_its_cache() -> None:
    from sentinel.classify.recognizers import _tagged_people

    text = "Bà Giáp Thu Ngân gửi kiến nghị lần hai"
    first = found(text)
    hits = _tagged_people.cache_info().hits
    assert found(text) == first == {"PERSON": "Giáp Thu Ngân"}
    assert _tagged_people.cache_info().hits > hits


def test_the_nearer_phrase_decides_between_positive_and_negative_context() -> None:
    assert (
        analyze_text("Chuyển khoản phí dịch vụ, nội dung ghi mã hồ sơ 250312000045", classifiers_dir=CLASSIFIERS) == []
    )
    got = found("Chuyển 2.000.000 đồng vào TK 1903 5678 9012 34 Techcombank, chủ TK Vũ Minh Khoa.")
    assert got == {"VN_BANK_ACCOUNT": "1903 5678 9012 34", "PERSON": "Vũ Minh Khoa"}


def test_luhn_valid_account_numbers_of_non_card_length_are_not_cards() -> None:
    assert found("số tài khoản 43120062452821 tại VietinBank") == {"VN_BANK_ACCOUNT": "43120062452821"}


# What the pattern recognisers look for, glued and not: digits, separators, letters, '@', brackets, '+84'.
_PIECES = st.sampled_from(
    ["0", "1", "9", "84", "+84", "0084", "(0", ")", " ", ".", "-", "/", "_", "@", "a", "B", "cb", "vneid", "G20",
     "ngày ", "tháng ", "năm ", "19", "20", "0912", "345", "678", "001099", "012345", "example.vn", "Nguyễn", "\n",
     "001099012345", "0983217465", "nguyen@example.vn", "4111 1111 1111 1111", "30A-123.45", "B1234567"]
)  # fmt: skip
_SHORT_TEXT = st.lists(_PIECES, max_size=16).map("".join)
_REQUESTS = [
    frozenset(supported_entities(CLASSIFIERS)),
    frozenset({"VN_CCCD", "VN_PHONE", "EMAIL_ADDRESS", "CREDIT_CARD"}),
]


@settings(max_examples=400, deadline=None)
@given(text=_SHORT_TEXT | st.text(max_size=40), request_index=st.sampled_from(range(len(_REQUESTS))))
def test_pattern_recognizers_skipped_by_the_gate_find_nothing(text: str, request_index: int) -> None:
    """Recognisers the one-alternation gate skips are exactly those that would report nothing in the text."""
    eng = engine_for(CLASSIFIERS)
    wanted = _REQUESTS[request_index]
    full = eng.recognizers_for(wanted, True)
    reading = eng.recognizers_reading(text, wanted, True)
    entities = sorted(wanted)
    for recognizer in full:
        if recognizer not in reading:
            assert recognizer.analyze(text=text, entities=entities, nlp_artifacts=None) == []


def test_the_gate_lets_every_identifier_format_through() -> None:
    """Values the pattern recognisers report keep their recogniser, glued or in a sentence (a control on the above)."""
    eng = engine_for(CLASSIFIERS)
    wanted = frozenset(supported_entities(CLASSIFIERS))
    for text in ("001099012345", "SĐT 0983 217 465", "nguyen.van.a@example.vn", "ĐT (024) 3825 1234"):
        found = {span.type for span in analyze_text(text, classifiers_dir=CLASSIFIERS)}
        assert found, text
        reading = eng.recognizers_reading(text, wanted, True)
        assert all(any(entity in r.supported_entities for r in reading) for entity in found), text
    skipped = eng.recognizers_reading("cb171023680", wanted, True)
    assert len(skipped) < len(eng.recognizers_for(wanted, True))  # a user name glued to its digits: skipped


# -- gates remembered per digit skeleton (analyzer.recognizers_reading) -------------------------------------------

_SKELETON = str.maketrans("123456789", "000000000")
# the recognizers whose gate cannot tell one ASCII digit from another: a pattern that starts naming digits
# (a phone's leading 0, a year's 19/20) leaves this list, and this test says so, to be looked at
_BLIND = {
    "vn_cccd", "vn_cmnd", "vn_bhxh", "vn_mst", "vn_passport", "vn_license_plate", "vn_bank_account", "email",
    "dossier_code",
}  # fmt: skip


_PARTS = ["0", "1", "4", "5", "9", "19", "20", "84", "+84", "0084", "(0", ")", "@", ".", "-", "/", " ", "G", "H",
          "cd", "vn", "ngày ", "x.y", "٣", "A1", ":", ",", "_"]  # fmt: skip


def _gated() -> list:
    from sentinel.classify.recognizers import FastPatternMixin

    return [r for r in engine_for(CLASSIFIERS).recognizers if isinstance(r, FastPatternMixin)]


def test_digit_blind_patterns() -> None:
    from sentinel.classify.analyzer import digit_blind

    for pattern in (r"\d{9}", r"[A-Z0-9]{2}\d", r"(?<![\w/+-])(?<!\d[.,])\d{12}(?![\w/-]|[.,]\d)", r"\b\w+@\w+\b",
                    r"[^\d]x", r"[^a-z]{3,4}", r"(?:ab|\d\d)+?", r"[\s\S]", r"(?>\d+)x"):  # fmt: skip
        assert digit_blind(pattern), pattern
    for pattern in (r"0\d{9}", r"[1-9]\d", r"[0-5]", r"(?:19|20)\d{2}", r"(\d)\1", r"\b(?!1\d{12})\d+", r"[^0]",
                    r"(?<!4)\d", r"(a)?(?(1)\d|x)", r"[\x30-\x35]"):  # fmt: skip
        assert not digit_blind(pattern), pattern


def test_which_gates_are_remembered_per_digit_skeleton() -> None:
    from sentinel.classify.analyzer import _gate_is_blind

    assert {r.name for r in _gated() if _gate_is_blind(r)} == _BLIND


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_PARTS),
            st.text(alphabet="0123456789", min_size=1, max_size=12),
        ),
        max_size=12,
    )
)
def test_gates_answer_the_same_for_a_text_and_its_digit_skeleton(parts: list[str]) -> None:
    text = "".join(parts)
    for recognizer in _gated():
        if recognizer.name in _BLIND:
            assert (recognizer.gate.search(text) is None) == (recognizer.gate.search(text.translate(_SKELETON)) is None)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_PARTS),
            st.text(alphabet="0123456789", min_size=1, max_size=12),
        ),
        max_size=10,
    ),
    st.sampled_from([None, ["VN_PHONE", "VN_CMND"], ["EMAIL_ADDRESS", "DATE_OF_BIRTH", "VN_BANK_ACCOUNT"]]),
    st.booleans(),
)
def test_recognizers_reading_is_each_gate_searched_in_the_text(parts: list[str], entities, free_text: bool) -> None:
    """What recognizers_reading keeps per skeleton is what each recognizer's gate says of the text itself."""
    from sentinel.classify.analyzer import _MAX_GATED
    from sentinel.classify.recognizers import FastPatternMixin

    eng = engine_for(CLASSIFIERS)
    wanted = eng.known if entities is None else frozenset(entities)
    joined = "".join(parts)
    for text in (joined, joined.translate(str.maketrans("0123456789", "9876543210")), joined[:_MAX_GATED]):
        expected = [
            r
            for r in eng.recognizers_for(wanted, free_text)
            if len(text) > _MAX_GATED or not isinstance(r, FastPatternMixin) or r.gate.search(text) is not None
        ]
        assert eng.recognizers_reading(text, wanted, free_text) == expected
