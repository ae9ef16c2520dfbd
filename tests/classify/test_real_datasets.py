"""Classification that holds on tables written outside the project: offices, bare places, opaque columns, notes."""

from __future__ import annotations

import pytest

from sentinel.classify.analyzer import analyze_text
from sentinel.classify.fields import FieldClassifier
from tests.content import CLASSIFIERS


@pytest.fixture(scope="module")
def classifier() -> FieldClassifier:
    return FieldClassifier(classifiers_dir=CLASSIFIERS)


def by_field(classifier: FieldClassifier, records: list[dict]) -> dict:
    return {r.field: r for r in classifier.classify_records(records)}


@pytest.mark.parametrize(
    "office",
    [
        "UBND phường Ba Đình",
        "Ủy ban nhân dân xã Tân Lập",
        "Công an tỉnh Thanh Hóa",
        "Sở Tư pháp tỉnh Phú Thọ",
        "Sở Giáo dục và Đào tạo tỉnh Nghệ An",
        "Trung tâm Phục vụ hành chính công tỉnh Quảng Ninh",
        "Công an phường Hoàn Kiếm",
        "Bộ Công an",
        "ubnd xa tan lap",
    ],
)
def test_public_bodies_are_organisations_not_addresses(office: str) -> None:
    spans = analyze_text(f"Hồ sơ đã chuyển {office} xử lý.", classifiers_dir=CLASSIFIERS)
    assert [(s.type, s.text) for s in spans] == [("ORGANIZATION", office)]


def test_an_office_in_a_sentence_leaves_the_citizen_and_the_address_alone() -> None:
    text = "Ông Nguyễn Văn An, trú tại số 12 phố Hàng Bạc, phường Hoàn Kiếm, nộp hồ sơ tại UBND xã Tân Lập."
    types = {s.type: s.text for s in analyze_text(text, classifiers_dir=CLASSIFIERS)}
    assert types["PERSON"] == "Nguyễn Văn An"
    assert types["LOCATION"] == "số 12 phố Hàng Bạc, phường Hoàn Kiếm"
    assert types["ORGANIZATION"] == "UBND xã Tân Lập"


@pytest.mark.parametrize("text", ["cơ sở 2 của trường", "số 5 đường Láng", "phòng 302 tầng 3", "sở thích đọc sách"])
def test_head_words_need_a_capital_and_a_name(text: str) -> None:
    assert "ORGANIZATION" not in {s.type for s in analyze_text(text, classifiers_dir=CLASSIFIERS)}


def test_a_place_alone_is_a_place_unless_context_makes_it_a_persons() -> None:
    assert [(s.type, s.text) for s in analyze_text("Xã Tân Lập, tỉnh Phú Thọ", classifiers_dir=CLASSIFIERS)] == [
        ("PLACE", "Xã Tân Lập, tỉnh Phú Thọ")
    ]
    assert [s.type for s in analyze_text("Thường trú tại xã Tân Lập, tỉnh Phú Thọ", classifiers_dir=CLASSIFIERS)] == [
        "LOCATION"
    ]
    assert [
        s.type for s in analyze_text("Xã Tân Lập, tỉnh Phú Thọ", context=["que quan"], classifiers_dir=CLASSIFIERS)
    ] == ["LOCATION"]
    # the policy asks for LOCATION only: a bare place is not reported, a person's is
    assert analyze_text("Xã Tân Lập, tỉnh Phú Thọ", ["LOCATION"], classifiers_dir=CLASSIFIERS) == []


def test_office_and_place_columns_are_not_personal_addresses(classifier: FieldClassifier) -> None:
    rows = [
        {"co_quan_tiep_nhan": o, "tinh": p, "xa": c, "dia_chi_thuong_tru": a}
        for o, p, c, a in [
            ("UBND phường Ba Đình", "Hà Nội", "Phường Ba Đình", "Số 5 phố Đội Cấn, phường Ba Đình, Hà Nội"),
            ("Công an tỉnh Thanh Hóa", "Thanh Hóa", "Phường Hạc Thành", "12 Lê Lợi, phường Hạc Thành, Thanh Hóa"),
            ("Sở Tư pháp tỉnh Phú Thọ", "Phú Thọ", "Xã Tân Lập", "Thôn 3, xã Tân Lập, Phú Thọ"),
            (
                "Trung tâm Phục vụ hành chính công tỉnh Quảng Ninh",
                "Quảng Ninh",
                "Phường Hạ Long",
                "Tổ 5, phường Bãi Cháy",
            ),
        ]
    ]
    fields = by_field(classifier, rows)
    assert [e.type for e in fields["co_quan_tiep_nhan"].entities] == ["ORGANIZATION"]
    assert fields["co_quan_tiep_nhan"].category == "none"
    for name in ("tinh", "xa"):
        assert [e.type for e in fields[name].entities] == ["PLACE"], name
        assert fields[name].category == "none"
    assert [e.type for e in fields["dia_chi_thuong_tru"].entities] == ["LOCATION"]
    assert fields["dia_chi_thuong_tru"].category == "basic"


OPAQUE = [
    ("Kinh", "Phật giáo", "125678934", "0134567891", "15/03/1985", "Vietcombank", "0011004455667"),
    ("Tày", "Không", "031928374", "7912837465", "1990-07-21", "BIDV", "12010003456789"),
    ("Kinh", "Công giáo", "241837465", "0198273645", "02/11/1962", "Agribank", "1500205123456"),
    ("Mường", "Phật giáo", "350192837", "3819283746", "30/01/1975", "Techcombank", "19034567812019"),
    ("Kinh", "Phật giáo", "171928364", "0129384756", "12/12/2001", "MB Bank", "0801019283746"),
    ("Thái", "Tin Lành", "221837465", "4819283746", "05/05/1948", "ACB", "2198374651"),
    ("Hoa", "Phật giáo", "011928374", "0119283746", "23/09/1999", "VPBank", "182736451"),
    ("Kinh", "Cao Đài", "281736452", "7919283746", "14/02/1957", "Sacombank", "060123456789"),
]


def test_opaque_columns_are_classified_from_their_distribution(classifier: FieldClassifier) -> None:
    names = ["col_1", "col_2", "F12", "F13", "truong_3", "F14", "F15"]
    fields = by_field(classifier, [dict(zip(names, row, strict=True)) for row in OPAQUE])
    want = {
        "col_1": "ETHNICITY",
        "col_2": "RELIGION",
        "F12": "VN_CMND",
        "F13": "VN_BHXH",
        "truong_3": "DATE_OF_BIRTH",
        "F15": "VN_BANK_ACCOUNT",
    }
    for name, entity in want.items():
        assert entity in [e.type for e in fields[name].entities], (name, fields[name].entities)
    cmnd = fields["F12"].entities[0]
    assert cmnd.evidence["method"] == "distribution"
    assert "issuing-area code 01-38" in cmnd.evidence["validators"]
    assert "9 digits" in cmnd.evidence["test"]
    assert "bank names" in fields["F15"].entities[0].evidence["test"]
    assert fields["F14"].entities == []


def test_distribution_tests_refuse_look_alikes(classifier: FieldClassifier) -> None:
    rows = [
        {
            # submission dates of one period are not births; order numbers are not account numbers without banks
            "F1": f"2024-0{m}-1{m}",
            "F2": f"{9_000_000_00 + 7919 * m}",
            "F3": f"04{m}1928374",  # 9 digits whose area code 04x... is fine, but 95x is not a CMND area
        }
        for m in range(1, 9)
    ]
    for row in rows:
        row["F3"] = "95" + row["F3"][2:]
    fields = by_field(classifier, rows)
    assert fields["F1"].entities == []
    assert "VN_BANK_ACCOUNT" not in [e.type for e in fields["F2"].entities]
    assert "VN_CMND" not in [e.type for e in fields["F3"].entities]


def test_a_notes_column_with_few_sensitive_values_is_sensitive_and_sparse(classifier: FieldClassifier) -> None:
    notes = ["Hồ sơ đầy đủ, đã chuyển bộ phận thẩm định"] * 24 + ["Công dân có tiền sử bệnh tim, cần hỗ trợ"]
    report = classifier.classify_field("ghi_chu", notes)
    assert report.category == "sensitive"
    finding = report.entities[0]
    assert (finding.type, finding.sparse) == ("HEALTH", True)
    assert (finding.evidence["method"], finding.evidence["values"], finding.evidence["share"]) == ("sparse", 1, 0.04)


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("bị bệnh tim từ nhỏ", "HEALTH"),
        ("benh nhan ung thu giai doan 2", "HEALTH"),
        ("là thương binh hạng 2/4", "HEALTH"),
        ("đang điều trị HIV", "HEALTH"),
        ("có biểu hiện tâm thần", "HEALTH"),
        ("anh ấy là người đồng tính", "SEXUAL_ORIENTATION"),
        ("nguoi chuyen gioi", "SEXUAL_ORIENTATION"),
        ("đã có tiền án về tội trộm cắp", "CRIMINAL_RECORD"),
    ],
)
def test_sensitive_terms_with_and_without_diacritics(text: str, entity: str) -> None:
    assert entity in {s.type for s in analyze_text(text, classifiers_dir=CLASSIFIERS)}


@pytest.mark.parametrize(
    "phone",
    ["0912 834 571", "0912.834.571", "+84 912 834 571", "+84 912.834.571", "(+84) 912 834 571", "+84 (0)912 834 571"],
)
def test_phone_numbers_with_spaces_dots_and_country_code(phone: str) -> None:
    assert [(s.type, s.text) for s in analyze_text(f"Liên hệ {phone} giờ hành chính", classifiers_dir=CLASSIFIERS)] == [
        ("VN_PHONE", phone)
    ]


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        # a diacritics-free negative phrase ("đồng", the currency) must not match "lao động"
        ("Mã số BHXH của người lao động: 0118273645, đề nghị kiểm tra", "VN_BHXH", "0118273645"),
        # "cán bộ" is a title, not the ministry ("Bộ") a name may not follow
        ("Cán bộ Lò Văn Sáng đã xác minh thực địa", "PERSON", "Lò Văn Sáng"),
    ],
)
def test_folded_spellings_do_not_collide(text: str, entity: str, value: str) -> None:
    assert (entity, value) in {(s.type, s.text) for s in analyze_text(text, classifiers_dir=CLASSIFIERS)}


@pytest.mark.parametrize(
    "text", ["Văn bản số 245/UBND-VP ngày 12/06/2025", "nhà số 45 phố Trường Chinh, phường Kim Liên"]
)
def test_document_symbols_and_streets_are_not_offices(text: str) -> None:
    assert "ORGANIZATION" not in {s.type for s in analyze_text(text, classifiers_dir=CLASSIFIERS)}


@pytest.mark.parametrize(
    ("note", "entity"),
    [
        ("Công dân là người dân tộc Tày, cần phiên dịch", "ETHNICITY"),
        ("Gia đình theo đạo Công giáo, hẹn lại ngày khác", "RELIGION"),
        ("Người nộp có tiền án, chuyển bộ phận xác minh", "CRIMINAL_RECORD"),
        ("Hoàn phí vào STK 0451001938274 Vietcombank", "VN_BANK_ACCOUNT"),
    ],
)
def test_one_sensitive_note_in_twenty_five_makes_the_column_sensitive(
    classifier: FieldClassifier, note: str, entity: str
) -> None:
    report = classifier.classify_field("ghi_chu_xu_ly", ["Đã tiếp nhận, hẹn trả kết quả đúng hạn"] * 24 + [note])
    assert report.category == "sensitive"
    assert [(e.type, e.sparse) for e in report.entities] == [(entity, True)]
