"""Generate the labelled Vietnamese evaluation set for ``bench/classify.py`` (seeded, reproducible).

Writes, next to this script:

- ``text.jsonl``: free text (citizen feedback, dossier notes, log messages)
  with gold spans ``{"type", "start", "end"}``; hard negatives (dossier and
  procedure codes, invoice and order numbers, amounts, timestamps,
  coordinates, phone-like numbers that are not phones) are in the text and
  unlabelled, so any span on them counts as a false positive.
- ``tables/*.csv`` and ``tables.json``: tables with varied column names
  (Vietnamese snake/camel case, with and without diacritics, English) and
  noise (blanks, malformed values), each column labelled with its category and
  entities.

Values are synthetic: structurally valid identifiers for made-up people.
``hard_negatives.jsonl`` (hand-written, not generated) adds tricky sentences.

    python bench/data/classify/generate.py [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import unicodedata
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent

SURNAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Đinh",
    "Trương",
    "Lương",
    "Mai",
    "Hà",
    "Cao",
    "Tạ",
    "Triệu",
    "Lò",
    "Giáp",
    "Lữ",
]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Thu", "Xuân", "Hoàng", "Công", "Bảo", "Gia"]
GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Hà",
    "Hải",
    "Hạnh",
    "Hoa",
    "Hùng",
    "Hương",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Phong",
    "Phương",
    "Quân",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Tuấn",
    "Việt",
    "Yến",
    "Khánh",
    "Duy",
    "Huy",
    "Thắng",
    "Trung",
    "Vy",
    "Ngân",
    "Tùng",
    "Hiếu",
    "Đạt",
    "Nhung",
    "Thủy",
    "Oanh",
]
STREETS = [
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Điện Biên Phủ",
    "Hùng Vương",
    "Quang Trung",
    "Nguyễn Huệ",
    "Phan Chu Trinh",
    "Bà Triệu",
    "Cách Mạng Tháng Tám",
    "Láng Hạ",
    "Kim Mã",
]
FORMER_PROVINCES = [
    "Hà Giang",
    "Bắc Kạn",
    "Yên Bái",
    "Hòa Bình",
    "Vĩnh Phúc",
    "Bắc Giang",
    "Hải Dương",
    "Thái Bình",
    "Hà Nam",
    "Nam Định",
    "Quảng Bình",
    "Quảng Nam",
    "Kon Tum",
    "Bình Định",
    "Phú Yên",
    "Ninh Thuận",
    "Bình Thuận",
    "Đắk Nông",
    "Bình Phước",
    "Bình Dương",
    "Long An",
    "Tiền Giang",
    "Bến Tre",
    "Trà Vinh",
    "Hậu Giang",
    "Sóc Trăng",
    "Bạc Liêu",
    "Kiên Giang",
]
CCCD_CODES = [
    "001",
    "002",
    "004",
    "008",
    "010",
    "015",
    "019",
    "022",
    "024",
    "026",
    "027",
    "030",
    "031",
    "034",
    "036",
    "038",
    "040",
    "042",
    "046",
    "048",
    "049",
    "052",
    "056",
    "060",
    "064",
    "066",
    "068",
    "074",
    "075",
    "079",
    "080",
    "083",
    "087",
    "089",
    "092",
    "096",
]
MOBILE_PREFIXES = [
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "38",
    "39",
    "52",
    "56",
    "58",
    "59",
    "70",
    "76",
    "77",
    "78",
    "79",
    "81",
    "82",
    "83",
    "84",
    "85",
    "86",
    "88",
    "89",
    "90",
    "91",
    "93",
    "94",
    "96",
    "97",
    "98",
    "99",
]
AREA_CODES = [
    "24",
    "28",
    "203",
    "204",
    "205",
    "206",
    "208",
    "210",
    "212",
    "220",
    "225",
    "236",
    "237",
    "238",
    "251",
    "254",
    "258",
    "263",
    "274",
    "292",
    "296",
]
ETHNICITIES = [
    "Kinh",
    "Tày",
    "Thái",
    "Mường",
    "Khmer",
    "Hoa",
    "Nùng",
    "Mông",
    "Dao",
    "Gia Rai",
    "Ê Đê",
    "Ba Na",
    "Chăm",
    "Sán Dìu",
    "Xơ Đăng",
]
RELIGIONS = ["Phật giáo", "Công giáo", "Tin Lành", "Cao Đài", "Phật giáo Hòa Hảo", "Hồi giáo"]
HEALTH = [
    "tiểu đường",
    "tăng huyết áp",
    "viêm gan B",
    "ung thư",
    "HIV",
    "trầm cảm",
    "lao phổi",
    "suy thận",
    "khuyết tật vận động",
    "hen phế quản",
]
BANKS = ["Vietcombank", "BIDV", "Agribank", "Techcombank", "VietinBank", "MB Bank", "ACB", "VPBank"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hanoi.gov.vn", "danang.gov.vn", "vnpt.vn", "fpt.com.vn"]


def strip_marks(text: str) -> str:
    out = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in out if unicodedata.category(c) != "Mn")


class Gen:
    """Synthetic personal data, structurally valid."""

    def __init__(self, rng: random.Random) -> None:
        from vietnam_provinces import Province, Ward

        self.r = rng
        self.provinces = [p.name for p in Province.iter_all()]
        self.wards = [w.name for w in Ward.iter_all()]

    def person(self) -> str:
        r = self.r
        parts = [r.choice(SURNAMES)] + ([r.choice(MIDDLE)] if r.random() < 0.85 else []) + [r.choice(GIVEN)]
        if r.random() < 0.2:
            parts.insert(2 if len(parts) > 2 else 1, r.choice(MIDDLE))
        name = " ".join(parts)
        style = r.random()
        if style < 0.15:
            return name.upper()
        if style < 0.3:
            return strip_marks(name)
        return name

    def cccd(self) -> str:
        r = self.r
        year = r.randint(1940, 2012)
        gender = r.randint(0, 1) + (2 if year >= 2000 else 0)
        return f"{r.choice(CCCD_CODES)}{gender}{year % 100:02d}{r.randint(0, 999999):06d}"

    def cmnd(self) -> str:
        return f"{self.r.randint(1, 38):02d}{self.r.randint(0, 9999999):07d}"

    def bhxh(self) -> str:
        return f"{self.r.randint(1, 96):02d}{self.r.randint(0, 99999999):08d}"

    def mst(self) -> str:
        weights = (31, 29, 23, 19, 17, 13, 7, 5, 3)
        while True:
            body = f"{self.r.randint(1, 96):02d}{self.r.randint(0, 9999999):07d}"
            check = 10 - sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
            if check < 10:
                value = body + str(check)
                return value + (f"-{self.r.randint(1, 20):03d}" if self.r.random() < 0.15 else "")

    def phone(self) -> str:
        r = self.r
        if r.random() < 0.15:
            area = r.choice(AREA_CODES)
            rest = "".join(str(r.randint(0, 9)) for _ in range(10 - len(area)))
            rest = str(r.randint(2, 9)) + rest[1:]
            return f"0{area} {rest[:4]} {rest[4:]}" if r.random() < 0.5 else f"0{area}{rest}"
        digits = r.choice(MOBILE_PREFIXES) + "".join(str(r.randint(0, 9)) for _ in range(7))
        style = r.random()
        if style < 0.4:
            return "0" + digits
        if style < 0.65:
            return f"0{digits[:3]} {digits[3:6]} {digits[6:]}"
        if style < 0.8:
            return f"0{digits[:3]}.{digits[3:6]}.{digits[6:]}"
        return f"+84 {digits[:2]} {digits[2:5]} {digits[5:]}" if r.random() < 0.5 else f"+84{digits}"

    def passport(self) -> str:
        return self.r.choice("BCNP") + f"{self.r.randint(1000000, 9999999)}"

    def plate(self) -> str:
        r = self.r
        code = r.randint(11, 99)
        if r.random() < 0.6:
            return f"{code}{r.choice('ABCDEFGHKLM')}-{r.randint(100, 999)}.{r.randint(0, 99):02d}"
        return f"{code}-{r.choice('BCDEFGHKLMNPS')}{r.randint(1, 9)} {r.randint(100, 999)}.{r.randint(0, 99):02d}"

    def bank_account(self) -> str:
        return "".join(str(self.r.randint(0, 9)) for _ in range(self.r.randint(9, 14)))

    def credit_card(self) -> str:
        digits = [4] + [self.r.randint(0, 9) for _ in range(14)]
        total = 0
        for i, d in enumerate(reversed(digits)):
            d2 = d * 2 if i % 2 == 0 else d
            total += d2 - 9 if d2 > 9 else d2
        digits.append((10 - total % 10) % 10)
        s = "".join(map(str, digits))
        return " ".join(s[i : i + 4] for i in range(0, 16, 4)) if self.r.random() < 0.5 else s

    def email(self) -> str:
        name = strip_marks(self.person()).lower().split()
        local = name[-1] + "".join(p[0] for p in name[:-1])
        return f"{local}{self.r.randint(0, 99) if self.r.random() < 0.5 else ''}@{self.r.choice(DOMAINS)}"

    def ip(self) -> str:
        r = self.r
        first = r.choice([14, 27, 42, 113, 115, 117, 171, 183, 203])
        return f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def dob(self) -> str:
        r = self.r
        y, m, d = r.randint(1940, 2012), r.randint(1, 12), r.randint(1, 28)
        return f"{d:02d}/{m:02d}/{y}" if r.random() < 0.75 else f"{y}-{m:02d}-{d:02d}"

    def address(self) -> str:
        r = self.r
        ward = r.choice(self.wards)
        province = r.choice(self.provinces) if r.random() < 0.75 else "tỉnh " + r.choice(FORMER_PROVINCES)
        if r.random() < 0.6:
            head = f"Số {r.randint(1, 300)} {r.choice(['đường', 'phố'])} {r.choice(STREETS)}"
            if r.random() < 0.3:
                head = f"{r.randint(1, 200)}/{r.randint(1, 40)} {r.choice(STREETS)}"
        else:
            head = f"{r.choice(['Thôn', 'Ấp', 'Xóm', 'Tổ dân phố'])} {r.randint(1, 12)}"
        return f"{head}, {ward}, {province}"

    # hard negatives -----------------------------------------------------------
    def dossier(self) -> str:
        r = self.r
        return f"000.00.{r.randint(10, 99)}.H{r.randint(10, 63)}-{r.randint(240101, 251231)}-{r.randint(1, 9999):04d}"

    def procedure(self) -> str:
        return f"1.{self.r.randint(0, 12999):06d}"

    def doc_number(self) -> str:
        return f"{self.r.randint(1, 999)}/{self.r.choice(['CĐ-TTg', 'QĐ-UBND', 'TB-VP', 'CV-STTTT'])}"

    def amount(self) -> str:
        v = self.r.randint(10, 50000) * 1000
        return f"{v:,}".replace(",", ".") + " đồng"

    def timestamp(self) -> str:
        r = self.r
        day = f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        return f"{day} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"

    def order_id(self) -> str:
        return str(self.r.randint(10**9, 10**12 - 1))

    def coord(self) -> str:
        return f"{self.r.uniform(8.5, 23.3):.6f}, {self.r.uniform(102.1, 109.4):.6f}"


# Free-text templates: {TYPE} slots are labelled spans, {neg:KIND} slots are hard negatives.
TEMPLATES = [
    "Ông {PERSON}, sinh ngày {DATE_OF_BIRTH}, CCCD số {VN_CCCD}, trú tại {LOCATION} phản ánh tiếng ồn karaoke.",
    "Bà {PERSON} (SĐT {VN_PHONE}) gửi kiến nghị về hồ sơ {neg:dossier}, đề nghị xử lý sớm.",
    "Người nộp: {PERSON}; Số định danh cá nhân: {VN_CCCD}; Điện thoại liên hệ: {VN_PHONE}; Email: {EMAIL_ADDRESS}.",
    "Thủ tục {neg:procedure}: công dân {PERSON} nộp lệ phí {neg:amount}, biên nhận lúc {neg:timestamp}.",
    "Doanh nghiệp có mã số thuế {VN_MST} đề nghị hoàn thuế theo công văn {neg:doc_number}.",
    "Chị {PERSON} đề nghị chuyển khoản hỗ trợ vào số tài khoản {VN_BANK_ACCOUNT} tại {bank}.",
    "Xe ô tô biển số {VN_LICENSE_PLATE} đỗ trái phép trước cổng nhà ở {LOCATION}.",
    "Anh {PERSON}, số hộ chiếu {VN_PASSPORT}, đăng ký tạm trú tại {LOCATION}.",
    "Mã số BHXH {VN_BHXH} của {PERSON} chưa được cập nhật quá trình đóng.",
    "login failed for user citizen from {IP_ADDRESS} at {neg:timestamp}, session {neg:order_id}",
    "Bệnh nhân {PERSON} mắc {HEALTH}, dân tộc {ETHNICITY}, đề nghị hỗ trợ chi phí điều trị.",
    "Công dân {PERSON} theo đạo {RELIGION}, số CMND cũ {VN_CMND}, xin cấp lại thẻ căn cước.",
    "Mã đơn hàng {neg:order_id}, tổng tiền {neg:amount}, giao lúc {neg:timestamp}.",
    "Vị trí sự cố tại tọa độ {neg:coord}, theo văn bản số {neg:doc_number}.",
    "Hồ sơ {neg:dossier} đã được tiếp nhận, mã tra cứu {neg:order_id}.",
    "Kính gửi UBND {ward}, tôi là {PERSON}, số điện thoại {VN_PHONE}, phản ánh đường xuống cấp.",
    "Thanh toán lệ phí bằng thẻ tín dụng {CREDIT_CARD} cho hồ sơ {neg:dossier}.",
    "Liên hệ {EMAIL_ADDRESS} hoặc {VN_PHONE} để được hỗ trợ, công dân {PERSON}.",
    "{PERSON} - {VN_CCCD} - {VN_PHONE}",
    "Họ tên: {PERSON}. Ngày sinh: {DATE_OF_BIRTH}. Quê quán: {LOCATION}.",
    "GET /api/dossiers/{neg:order_id} from {IP_ADDRESS} status 200 in 35 ms",
    "Người bị phản ánh là {PERSON}, sống tại {LOCATION}, thường xuyên mở nhạc lớn.",
    "Biên bản ngày {neg:timestamp}: phương tiện BKS {VN_LICENSE_PLATE} vi phạm, chủ xe {PERSON}.",
    "Quyết định {neg:doc_number} về việc phê duyệt kinh phí {neg:amount} cho {ward}.",
]


def render(template: str, gen: Gen) -> tuple[str, list[dict]]:
    out, spans, pos = [], [], 0
    makers: dict[str, Callable[[], str]] = {
        "PERSON": gen.person,
        "VN_CCCD": gen.cccd,
        "VN_CMND": gen.cmnd,
        "VN_BHXH": gen.bhxh,
        "VN_MST": gen.mst,
        "VN_PHONE": gen.phone,
        "VN_PASSPORT": gen.passport,
        "VN_LICENSE_PLATE": gen.plate,
        "VN_BANK_ACCOUNT": gen.bank_account,
        "CREDIT_CARD": gen.credit_card,
        "EMAIL_ADDRESS": gen.email,
        "IP_ADDRESS": gen.ip,
        "DATE_OF_BIRTH": gen.dob,
        "LOCATION": gen.address,
        "ETHNICITY": lambda: gen.r.choice(ETHNICITIES),
        "RELIGION": lambda: gen.r.choice(RELIGIONS),
        "HEALTH": lambda: gen.r.choice(HEALTH),
    }
    negs = {
        "dossier": gen.dossier,
        "procedure": gen.procedure,
        "doc_number": gen.doc_number,
        "amount": gen.amount,
        "timestamp": gen.timestamp,
        "order_id": gen.order_id,
        "coord": gen.coord,
    }
    i = 0
    while i < len(template):
        if template[i] == "{":
            j = template.index("}", i)
            slot = template[i + 1 : j]
            if slot.startswith("neg:"):
                value = negs[slot[4:]]()
            elif slot == "bank":
                value = gen.r.choice(BANKS)
            elif slot == "ward":
                value = gen.r.choice(gen.wards)
            else:
                value = makers[slot]()
                spans.append({"type": slot, "start": pos, "end": pos + len(value)})
            out.append(value)
            pos += len(value)
            i = j + 1
        else:
            out.append(template[i])
            pos += 1
            i += 1
    return "".join(out), spans


# Tables: column specs are (name variants, value maker key, category, entities).
COLUMNS: list[tuple[list[str], str, str, list[str]]] = [
    (["ho_ten", "hoTen", "Họ và tên", "full_name", "HO_TEN", "ten_cong_dan"], "PERSON", "basic", ["PERSON"]),
    (["so_cccd", "soCCCD", "Số CCCD", "citizen_id", "so_dinh_danh", "ma_dinh_danh"], "VN_CCCD", "basic", ["VN_CCCD"]),
    (["so_cmnd", "cmnd", "soCMND"], "VN_CMND", "basic", ["VN_CMND"]),
    (["so_bhxh", "maSoBHXH", "social_insurance_no"], "VN_BHXH", "sensitive", ["VN_BHXH"]),
    (["ma_so_thue", "mst", "taxCode", "Mã số thuế"], "VN_MST", "basic", ["VN_MST"]),
    (["so_dien_thoai", "soDienThoai", "sdt", "phone", "Điện thoại", "mobile_no"], "VN_PHONE", "basic", ["VN_PHONE"]),
    (["so_ho_chieu", "passport_no", "soHoChieu"], "VN_PASSPORT", "basic", ["VN_PASSPORT"]),
    (["bien_so_xe", "bienKiemSoat", "license_plate", "bks"], "VN_LICENSE_PLATE", "basic", ["VN_LICENSE_PLATE"]),
    (["so_tai_khoan", "stk", "bank_account", "soTaiKhoan"], "VN_BANK_ACCOUNT", "sensitive", ["VN_BANK_ACCOUNT"]),
    (["so_the", "card_number"], "CREDIT_CARD", "sensitive", ["CREDIT_CARD"]),
    (["email", "thu_dien_tu", "emailAddress", "e_mail"], "EMAIL_ADDRESS", "basic", ["EMAIL_ADDRESS"]),
    (["client_ip", "ip", "source_ip", "diaChiIP"], "IP_ADDRESS", "basic", ["IP_ADDRESS"]),
    (["ngay_sinh", "ngaySinh", "dob", "Ngày sinh", "date_of_birth"], "DATE_OF_BIRTH", "basic", ["DATE_OF_BIRTH"]),
    (
        ["dia_chi_thuong_tru", "diaChi", "address", "noi_o_hien_tai", "Địa chỉ", "que_quan"],
        "LOCATION",
        "basic",
        ["LOCATION"],
    ),
    (["dan_toc", "danToc", "ethnicity"], "ETHNICITY", "sensitive", ["ETHNICITY"]),
    (["ton_giao", "tonGiao", "religion"], "RELIGION", "sensitive", ["RELIGION"]),
    (["chan_doan", "tinh_trang_suc_khoe", "benh_nen", "diagnosis"], "HEALTH", "sensitive", ["HEALTH"]),
    # columns whose names say nothing: values must decide
    (["col_a", "field1", "gia_tri", "value", "thong_tin"], "mixed_pii", "", []),
    # hard negatives
    (["ma_ho_so", "dossier_id", "soHoSo"], "neg:dossier", "none", []),
    (["ma_thu_tuc", "procedure_code"], "neg:procedure", "none", []),
    (["so_van_ban", "so_ky_hieu"], "neg:doc_number", "none", []),
    (["so_tien", "amount", "le_phi", "tongTien"], "neg:amount_raw", "none", []),
    (["created_at", "thoi_gian_nop", "updated_at", "timestamp"], "neg:timestamp", "none", []),
    (["order_id", "ma_giao_dich", "so_hoa_don", "transaction_id", "ma_tra_cuu"], "neg:order_id", "none", []),
    (["latitude", "vi_do", "lat"], "neg:lat", "none", []),
    (["trang_thai", "status"], "neg:status", "none", []),
    (["ten_thu_tuc", "procedure_name"], "neg:procedure_name", "none", []),
    (["ma_buu_chinh", "postal_code"], "neg:postal", "none", []),
    (["so_luong", "count", "so_trang"], "neg:count", "none", []),
    (["ghi_chu", "noi_dung", "note"], "neg:note", "none", []),
]

MIXED = ["VN_PHONE", "VN_CCCD", "EMAIL_ADDRESS", "PERSON", "VN_MST"]
PROCEDURE_NAMES = [
    "Đăng ký khai sinh",
    "Cấp đổi giấy phép lái xe",
    "Đăng ký thường trú",
    "Cấp phiếu lý lịch tư pháp",
    "Đăng ký kết hôn",
    "Cấp giấy chứng nhận quyền sử dụng đất",
    "Đăng ký hộ kinh doanh",
]
NOTES = [
    "Đã tiếp nhận, chờ bổ sung giấy tờ",
    "Hồ sơ hợp lệ",
    "Trả kết quả qua bưu điện",
    "Cần xác minh thêm",
    "Đã thu phí, in biên nhận",
    "Chuyển phòng chuyên môn xử lý",
    "",
]


def table_value(kind: str, gen: Gen, mixed_kind: str) -> str:
    r = gen.r
    if kind == "mixed_pii":
        kind = mixed_kind
    if not kind.startswith("neg:"):
        return {
            "PERSON": gen.person,
            "VN_CCCD": gen.cccd,
            "VN_CMND": gen.cmnd,
            "VN_BHXH": gen.bhxh,
            "VN_MST": gen.mst,
            "VN_PHONE": gen.phone,
            "VN_PASSPORT": gen.passport,
            "VN_LICENSE_PLATE": gen.plate,
            "VN_BANK_ACCOUNT": gen.bank_account,
            "CREDIT_CARD": gen.credit_card,
            "EMAIL_ADDRESS": gen.email,
            "IP_ADDRESS": gen.ip,
            "DATE_OF_BIRTH": gen.dob,
            "LOCATION": gen.address,
            "ETHNICITY": lambda: r.choice(ETHNICITIES),
            "RELIGION": lambda: r.choice([*RELIGIONS, "Không"]),
            "HEALTH": lambda: r.choice(HEALTH),
        }[kind]()
    neg = kind[4:]
    return {
        "dossier": gen.dossier,
        "procedure": gen.procedure,
        "doc_number": gen.doc_number,
        "amount_raw": lambda: str(r.randint(1, 5000) * 1000),
        "timestamp": gen.timestamp,
        "order_id": gen.order_id,
        "lat": lambda: f"{r.uniform(8.5, 23.3):.6f}",
        "status": lambda: r.choice(["DA_TIEP_NHAN", "DANG_XU_LY", "HOAN_THANH", "TU_CHOI"]),
        "procedure_name": lambda: r.choice(PROCEDURE_NAMES),
        "postal": lambda: f"{r.randint(10000, 99999)}0",
        "count": lambda: str(r.randint(0, 500)),
        "note": lambda: r.choice(NOTES),
    }[neg]()


def make_tables(gen: Gen, count: int, rows: int) -> list[dict]:
    r = gen.r
    (HERE / "tables").mkdir(exist_ok=True)
    labels = []
    for t in range(count):
        cols = r.sample(COLUMNS, r.randint(6, 11))
        used: set[str] = set()
        header, kinds, field_labels = [], [], {}
        for names, kind, category, entities in cols:
            name = r.choice(names)
            if name in used:
                continue
            used.add(name)
            mixed_kind = r.choice(MIXED)
            if kind == "mixed_pii":
                category = "sensitive" if mixed_kind in ("VN_BHXH",) else "basic"
                entities = [mixed_kind]
            header.append(name)
            kinds.append((kind, mixed_kind))
            field_labels[name] = {"category": category, "entities": entities}
        path = HERE / "tables" / f"table_{t:02d}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for _ in range(rows):
                row = []
                for kind, mixed_kind in kinds:
                    noise = r.random()
                    if noise < 0.08:
                        row.append("")  # missing value
                    elif noise < 0.11 and not kind.startswith("neg:"):
                        row.append(r.choice(["N/A", "không có", "-", "chưa cập nhật"]))  # junk
                    else:
                        row.append(table_value(kind, gen, mixed_kind))
                w.writerow(row)
        labels.append({"file": f"tables/{path.name}", "fields": field_labels})
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--tables", type=int, default=40)
    parser.add_argument("--rows", type=int, default=150)
    args = parser.parse_args()
    gen = Gen(random.Random(args.seed))
    with (HERE / "text.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(args.texts):
            text, spans = render(TEMPLATES[i % len(TEMPLATES)], gen)
            fh.write(json.dumps({"text": text, "spans": spans}, ensure_ascii=False) + "\n")
    labels = make_tables(gen, args.tables, args.rows)
    (HERE / "tables.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {args.texts} texts and {args.tables} tables to {HERE}")


if __name__ == "__main__":
    main()
