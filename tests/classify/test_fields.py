from __future__ import annotations

import pytest

from sentinel.classify.catalog import load_catalog
from sentinel.classify.fields import FieldClassifier, NameHints, iter_fields
from sentinel.classify.masking import mask_span
from tests.content import CLASSIFIERS


@pytest.fixture(scope="module")
def classifier() -> FieldClassifier:
    return FieldClassifier(classifiers_dir=CLASSIFIERS)


@pytest.mark.parametrize(
    ("name", "entity"),
    [
        ("so_cccd", "VN_CCCD"),
        ("soCCCD", "VN_CCCD"),
        ("soDienThoai", "VN_PHONE"),
        ("Số điện thoại", "VN_PHONE"),
        ("sodienthoai", "VN_PHONE"),
        ("ho_ten", "PERSON"),
        ("HoVaTen", "PERSON"),
        ("nguoi_nop.ho_ten", "PERSON"),
        ("dia_chi_thuong_tru", "LOCATION"),
        ("ngaySinh", "DATE_OF_BIRTH"),
        ("ma_so_thue", "VN_MST"),
        ("dan_toc", "ETHNICITY"),
        ("client_ip", "IP_ADDRESS"),
    ],
)
def test_name_hints_across_spellings(name: str, entity: str) -> None:
    hints = NameHints(load_catalog(CLASSIFIERS).field_names.hints)
    assert entity in hints.entities(name)


@pytest.mark.parametrize(
    "name", ["ten_thu_tuc", "dia_chi_ip_may_chu_email_address", "created_at", "content", "so_tien"]
)
def test_name_hints_exclusions_and_non_matches(name: str) -> None:
    hints = NameHints(load_catalog(CLASSIFIERS).field_names.hints)
    assert "PERSON" not in hints.entities(name)
    assert "LOCATION" not in hints.entities(name)


def test_iter_fields_reports_nested_fields_by_dotted_path() -> None:
    doc = {"a": 1, "nguoi_nop": {"ho_ten": "X", "lien_he": [{"sdt": "1"}, {"sdt": "2"}]}, "tags": ["p", "q"]}
    assert list(iter_fields(doc)) == [
        ("a", 1),
        ("nguoi_nop.ho_ten", "X"),
        ("nguoi_nop.lien_he.sdt", "1"),
        ("nguoi_nop.lien_he.sdt", "2"),
        ("tags", "p"),
        ("tags", "q"),
    ]


def test_values_decide_even_when_the_name_says_nothing(classifier: FieldClassifier) -> None:
    phones = ["0912 384 657", "0983 555 219", "+84 971 222 333", "0356 784 120", "N/A"]
    report = classifier.classify_field("col_a", phones)
    assert [e.type for e in report.entities] == ["VN_PHONE"]
    assert report.entities[0].ratio == pytest.approx(0.8)
    assert (report.category, report.sensitivity) == ("basic", 2)
    assert report.example == "0*** *** *57"


def test_name_hint_lowers_the_needed_ratio_but_values_still_decide(classifier: FieldClassifier) -> None:
    values = ["Kinh", "Kinh", "Tày", "không rõ", "chưa cập nhật", "-", "-", "-"]
    assert classifier.classify_field("dan_toc", values).category == "sensitive"
    assert classifier.classify_field("ghi_chu", values).category == "none"
    # a field named like a phone column that holds amounts is not personal data
    assert classifier.classify_field("so_dien_thoai", ["150000", "200000", "0", "50000"]).category == "none"


def test_hard_negative_columns(classifier: FieldClassifier) -> None:
    cases = {
        "ma_ho_so": ["000.00.12.H26-250101-0001", "000.00.12.H26-250101-0002"],
        "created_at": ["2026-03-12 10:22:31", "2026-01-05 08:00:00"],
        "so_hoa_don": ["0312456783", "0100109106"],
        "ma_thu_tuc": ["1.001612", "1.000894"],
    }
    for name, values in cases.items():
        assert classifier.classify_field(name, values).category == "none", name


def test_free_text_field_with_some_personal_data(classifier: FieldClassifier) -> None:
    notes = [
        "Công dân gọi lại qua số 0983 217 465 để hỏi tiến độ hồ sơ đăng ký khai sinh",
        "Đã tiếp nhận hồ sơ, chờ bổ sung giấy tờ theo quy định của thủ tục",
        "Người nộp Trần Văn Hùng đề nghị trả kết quả qua bưu điện về nhà riêng",
        "Trả kết quả trực tiếp tại bộ phận một cửa của ủy ban nhân dân xã",
        "Liên hệ 0904 112 785 khi có kết quả, công dân đang làm việc ở xa",
    ] * 3
    report = classifier.classify_field("ghi_chu", notes)
    assert {"VN_PHONE", "PERSON"} <= {e.type for e in report.entities}
    assert report.category == "basic"
    assert "0983" not in (report.example or "")


def test_sensitive_wins_over_basic(classifier: FieldClassifier) -> None:
    values = ["Bệnh nhân Trần Văn Hùng mắc tiểu đường", "Bệnh nhân Lê Thị Hoa mắc tăng huyết áp"]
    report = classifier.classify_field("benh_an", values)
    assert report.category == "sensitive"
    assert report.sensitivity == 4


def test_empty_field_reports_the_name_hint(classifier: FieldClassifier) -> None:
    report = classifier.classify_field("so_cccd", [None, "", "  "])
    assert [(e.type, e.ratio, e.hinted) for e in report.entities] == [("VN_CCCD", 0.0, True)]
    assert report.non_empty == 0


def test_classify_records_nested_json(classifier: FieldClassifier) -> None:
    records = [
        {"id": i, "nguoi_nop": {"hoTen": name, "lienHe": {"email": mail}}}
        for i, (name, mail) in enumerate(
            [("Nguyễn Văn An", "an.nv@gmail.com"), ("Trần Thị Bình", "binh.tt@hanoi.gov.vn")]
        )
    ]
    by_field = {r.field: r for r in classifier.classify_records(records)}
    assert set(by_field) == {"id", "nguoi_nop.hoTen", "nguoi_nop.lienHe.email"}
    assert by_field["nguoi_nop.hoTen"].entities[0].type == "PERSON"
    assert by_field["nguoi_nop.lienHe.email"].entities[0].type == "EMAIL_ADDRESS"
    assert by_field["id"].category == "none"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("Nguyễn Văn An", "N***** V** A*"),
        ("0912 384 657", "0*** *** *57"),
        ("30A-123.45", "3**-***.45"),
        ("Kinh", "K***"),
    ],
)
def test_masking_keeps_shape_not_content(value: str, masked: str) -> None:
    assert mask_span(value) == masked


def _digits_of(zero: int, text: str) -> str:
    """``text`` with its ASCII digits written in the script whose zero is ``zero``."""
    return "".join(chr(zero + int(c)) if "0" <= c <= "9" else c for c in text)


@pytest.mark.parametrize(
    "zero", [0xFF10, 0x0660, 0x0966, 0x1D7CE], ids=["fullwidth", "arabic-indic", "devanagari", "math"]
)
@pytest.mark.parametrize(
    ("name", "values"),
    [
        # bare nine-digit numbers: only the column profiler's distribution says they are ID card numbers
        (
            "col_b",
            [f"{a}{n:07d}" for a in ("12", "02", "27", "36", "17") for n in (1234567, 2345671, 3456712, 4567123)],
        ),
        # ten digits starting with a province code: the profiler's BHXH test compares the codes as written
        ("col_x", [f"{a}{n:08d}" for a in ("79", "01", "31", "48", "92") for n in (12345678, 23456781, 34567812)]),
        ("col_p", ["0912 384 657", "0983 555 219", "+84 971 222 333", "0356 784 120", "N/A"]),
        ("so_giay_to", ["001099012345", "079203004567", "031185001234", "048190123456", "khong co"]),
    ],
)
def test_a_column_in_another_scripts_digits_is_what_it_is_in_ascii(
    classifier: FieldClassifier, name: str, values: list[str], zero: int
) -> None:
    """A column typed with fullwidth or Arabic-Indic digits holds the same identifiers: the same report."""
    ascii_report = classifier.classify_field(name, values)
    other = classifier.classify_field(name, [_digits_of(zero, v) for v in values])
    assert ascii_report.entities  # the ASCII column is personal data to begin with
    assert [(e.type, e.ratio) for e in other.entities] == [(e.type, e.ratio) for e in ascii_report.entities]
    assert (other.category, other.sensitivity) == (ascii_report.category, ascii_report.sensitivity)
