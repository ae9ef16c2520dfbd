"""Writes the held-out tables of bench/classify.py (``python bench/data/classify_holdout/make_tables.py``).

Written for this set only: other column names than the classifier's hints and the
first set's, opaque legacy columns, offices, place-only columns and notes where a
few rows hold sensitive data. Values come from their own lists here (synthetic people);
the labels in ``tables.json`` say what each column holds.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
R = random.Random(2026)

SURNAMES = ["Đặng", "Lương", "Trịnh", "Vũ", "Hồ", "Ngô", "Phí", "Nông", "Bạch", "Quách", "Kiều", "Tô", "Lò", "Mai"]
MIDDLE = ["Thị", "Văn", "Đình", "Xuân", "Minh", "Thu", "Hữu", "Bích", "Quang"]
GIVEN = ["Hạnh", "Khôi", "Lụa", "Tuấn", "Ngọc", "Trường", "Duyên", "Sáng", "Lộc", "Yến", "Phúc", "Thư"]
PLACES = {
    "Nghệ An": ["Phường Vinh Phú", "Xã Yên Thành", "Xã Diễn Châu"],
    "Cao Bằng": ["Phường Thục Phán", "Xã Hòa An"],
    "Đồng Nai": ["Phường Trấn Biên", "Xã Long Thành"],
    "Lâm Đồng": ["Phường Xuân Hương - Đà Lạt", "Xã Đức Trọng"],
    "Hải Phòng": ["Phường Hồng Bàng", "Phường Lê Chân"],
}
STREETS = ["Lê Duẩn", "Trần Phú", "Nguyễn Trãi", "Hai Bà Trưng", "Quang Trung", "Lý Tự Trọng"]
OFFICES = ["UBND {c}", "Công an {c}", "Trung tâm Phục vụ hành chính công tỉnh {p}", "Sở Tư pháp tỉnh {p}",
           "Văn phòng đăng ký đất đai tỉnh {p}", "Công an tỉnh {p}"]  # fmt: skip
BANKS = ["Vietcombank", "BIDV", "Agribank", "VietinBank", "Techcombank", "MB Bank", "ACB", "Sacombank"]
ETHNIC = ["Kinh", "Kinh", "Kinh", "Tày", "Thái", "Mường", "Khmer", "Nùng", "H'Mông", "Dao", "Ê Đê"]
RELIGION = ["Không", "Không", "Phật giáo", "Công giáo", "Tin Lành", "Cao Đài", "Hòa Hảo"]
DISEASES = ["viêm gan B", "ung thư vú", "suy thận mạn", "trầm cảm", "tiểu đường type 2", "lao phổi", "HIV"]
CMND_AREAS = ["01", "02", "03", "12", "13", "17", "18", "21", "22", "24", "27", "28", "31", "36"]
BHXH_CODES = ["01", "22", "31", "38", "40", "48", "68", "75", "79", "92"]


def person() -> str:
    return f"{R.choice(SURNAMES)} {R.choice(MIDDLE)} {R.choice(GIVEN)}"


def place() -> tuple[str, str]:
    province = R.choice(list(PLACES))
    return province, R.choice(PLACES[province])


def address() -> str:
    province, commune = place()
    unit = commune.replace("Phường", "phường").replace("Xã", "xã")
    return f"{R.randint(2, 199)} {R.choice(STREETS)}, {unit}, {province}"


def phone(spaced: bool = True) -> str:
    prefix = R.choice(["096", "097", "098", "086", "035", "038", "091", "094", "083", "070", "077", "056"])
    rest = f"{R.randint(1000000, 9999999)}"
    return f"{prefix} {rest[:3]} {rest[3:]}" if spaced else f"+84{prefix[1:]}{rest}"


def mst() -> str:
    weights = (31, 29, 23, 19, 17, 13, 7, 5, 3)
    while True:
        body = f"0{R.randint(100000000, 999999999)}"[:9]
        check = 10 - sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
        if check < 10:
            return body + str(check)


def mail(login: str, i: int) -> str:
    return f"{login}{i}@{R.choice(['nghean', 'caobang', 'dongnai'])}.gov.vn"


def dossier(i: int) -> str:
    return f"000.{R.randint(10, 99)}.{R.randint(10, 40)}.H{R.randint(10, 63)}-2506{R.randint(10, 28)}-{i:04d}"


def tables() -> dict[str, tuple[list[str], list[list[str]], dict[str, dict]]]:
    out = {}
    rows = []
    for i in range(60):
        province, commune = place()
        note = R.choice(["Đủ thành phần hồ sơ", "Hẹn trả kết quả đúng hạn", "Bổ sung bản sao giấy khai sinh",
                         "Công dân nhận kết quả qua bưu điện"])  # fmt: skip
        if i in (7, 33):
            note = f"Người nộp đang điều trị {R.choice(DISEASES)}, đề nghị ưu tiên"
        rows.append([dossier(i), person(), phone(), R.choice(OFFICES).format(c=commune, p=province), province, note])
    out["tiep_nhan.csv"] = (
        ["Số biên nhận", "Tên người đứng đơn", "Điện thoại DĐ", "Nơi tiếp nhận", "Tỉnh/TP", "Ghi chú xử lý"],
        rows,
        {
            "Số biên nhận": {"category": "none", "entities": ["DOSSIER_CODE"]},
            "Tên người đứng đơn": {"category": "basic", "entities": ["PERSON"]},
            "Điện thoại DĐ": {"category": "basic", "entities": ["VN_PHONE"]},
            "Nơi tiếp nhận": {"category": "none", "entities": ["ORGANIZATION"]},
            "Tỉnh/TP": {"category": "none", "entities": ["PLACE"]},
            "Ghi chú xử lý": {"category": "sensitive", "entities": ["HEALTH"]},
        },
    )
    rows = []
    for _ in range(60):
        year = R.randint(1935, 2008)
        rows.append([
            f"{R.choice(CMND_AREAS)}{R.randint(1000000, 9999999)}",
            f"{R.randint(1, 28):02d}-{R.randint(1, 12):02d}-{year}",
            R.choice(ETHNIC),
            R.choice(RELIGION),
            f"{R.choice(BHXH_CODES)}{R.randint(10000000, 99999999)}",
            R.choice(BANKS),
            f"{R.randint(10, 99)}{R.randint(10**8, 10**12)}",
            R.choice(["Nam", "Nữ"]),
            R.choice(["A", "B", "C"]),
        ])  # fmt: skip
    out["legacy_export.csv"] = (
        ["col_1", "col_2", "col_3", "col_4", "col_5", "F6", "F7", "F8", "F9"],
        rows,
        {
            "col_1": {"category": "basic", "entities": ["VN_CMND"]},
            "col_2": {"category": "basic", "entities": ["DATE_OF_BIRTH"]},
            "col_3": {"category": "sensitive", "entities": ["ETHNICITY"]},
            "col_4": {"category": "sensitive", "entities": ["RELIGION"]},
            "col_5": {"category": "sensitive", "entities": ["VN_BHXH"]},
            "F6": {"category": "none", "entities": []},
            "F7": {"category": "sensitive", "entities": ["VN_BANK_ACCOUNT"]},
            "F8": {"category": "basic", "entities": ["GENDER"]},
            "F9": {"category": "none", "entities": []},
        },
    )
    rows = []
    for i in range(60):
        province, commune = place()
        name = person()
        login = "".join(ch for ch in name.split()[-1].lower() if ch.isascii()) or "cb"
        rows.append([f"NV{i:04d}", name, R.choice(OFFICES).format(c=commune, p=province),
                     R.choice(["Chuyên viên", "Phó trưởng phòng", "Cán bộ một cửa"]), mail(login, i),
                     f"0{R.choice(['238', '206', '251', '263'])} {R.randint(3000000, 3999999)}"])  # fmt: skip
    out["can_bo.csv"] = (
        ["ma_nv", "hovaten_cb", "noi_cong_tac", "chuc_danh", "thu_cong_vu", "dt_ban"],
        rows,
        {
            "ma_nv": {"category": "none", "entities": []},
            "hovaten_cb": {"category": "basic", "entities": ["PERSON"]},
            "noi_cong_tac": {"category": "none", "entities": ["ORGANIZATION"]},
            "chuc_danh": {"category": "none", "entities": []},
            "thu_cong_vu": {"category": "basic", "entities": ["EMAIL_ADDRESS"]},
            "dt_ban": {"category": "basic", "entities": ["VN_PHONE"]},
        },
    )
    rows = []
    for i in range(60):
        province, commune = place()
        text = R.choice([
            f"Tôi là {person()}, nhà ở {address()}, phản ánh đèn đường hỏng nhiều ngày",
            f"Gia đình {person()} tại {address()} đề nghị nạo vét cống thoát nước",
            f"Ông {person()} xây dựng lấn chiếm vỉa hè trước nhà số {R.randint(2, 99)} {R.choice(STREETS)}",
        ])  # fmt: skip
        rows.append([f"PA{i:05d}", text, commune, R.choice(["Zalo", "Cổng DVC", "Tổng đài"]),
                     f"2025-06-{R.randint(10, 28)}T{R.randint(7, 17):02d}:{R.randint(0, 59):02d}:00"])  # fmt: skip
    out["phan_anh.csv"] = (
        ["ma_pa", "noi_dung_phan_anh", "dia_ban_xa", "kenh", "thoi_diem"],
        rows,
        {
            "ma_pa": {"category": "none", "entities": []},
            "noi_dung_phan_anh": {"category": "basic", "entities": ["LOCATION", "PERSON"]},
            "dia_ban_xa": {"category": "none", "entities": ["PLACE"]},
            "kenh": {"category": "none", "entities": []},
            "thoi_diem": {"category": "none", "entities": []},
        },
    )
    rows = []
    for i in range(60):
        card = (
            f"{R.choice(['DN', 'HT', 'GD', 'TE'])}{R.randint(1, 5)}{R.choice(BHXH_CODES)}{R.randint(10**9, 10**10 - 1)}"
        )
        rows.append([f"BN{i:05d}", person().upper(), R.choice(DISEASES), card, address()])
    out["benh_nhan.csv"] = (
        ["MaBN", "HoTenBN", "ChanDoanChinh", "SoTheBH", "DiaChiBN"],
        rows,
        {
            "MaBN": {"category": "none", "entities": []},
            "HoTenBN": {"category": "basic", "entities": ["PERSON"]},
            "ChanDoanChinh": {"category": "sensitive", "entities": ["HEALTH"]},
            "SoTheBH": {"category": "sensitive", "entities": ["VN_BHXH"]},
            "DiaChiBN": {"category": "basic", "entities": ["LOCATION"]},
        },
    )
    rows = []
    for _ in range(60):
        province, commune = place()
        series = f"{R.choice(['37', '11', '60', '49', '15'])}{R.choice('ABCDEFGH')}"
        plate = f"{series}-{R.randint(100, 999)}.{R.randint(10, 99)}"
        rows.append([plate, person(), mst(), f"Phòng Cảnh sát giao thông Công an tỉnh {province}"])
    out["phuong_tien.csv"] = (
        ["BKS", "ten_chu_phuong_tien", "mst_dn", "co_quan_dang_ky"],
        rows,
        {
            "BKS": {"category": "basic", "entities": ["VN_LICENSE_PLATE"]},
            "ten_chu_phuong_tien": {"category": "basic", "entities": ["PERSON"]},
            "mst_dn": {"category": "basic", "entities": ["VN_MST"]},
            "co_quan_dang_ky": {"category": "none", "entities": ["ORGANIZATION"]},
        },
    )
    rows = []
    for _ in range(60):
        province, commune = place()
        child_year = R.randint(2018, 2025)
        rows.append([
            person(), person(), f"UBND {commune.replace('Xã', 'xã').replace('Phường', 'phường')}",
            f"{commune}, {province}", f"{R.randint(1, 28):02d}/{R.randint(1, 12):02d}/2025",
            f"0{R.choice(['40', '04', '75', '68', '31'])}{R.choice('23')}{child_year % 100:02d}"
            f"{R.randint(100000, 999999)}",
        ])  # fmt: skip
    out["ho_tich.csv"] = (
        ["Họ tên cha", "Họ tên mẹ", "Nơi đăng ký", "Quê quán", "Ngày đăng ký", "Số định danh của trẻ"],
        rows,
        {
            "Họ tên cha": {"category": "basic", "entities": ["PERSON"]},
            "Họ tên mẹ": {"category": "basic", "entities": ["PERSON"]},
            "Nơi đăng ký": {"category": "none", "entities": ["ORGANIZATION"]},
            "Quê quán": {"category": "basic", "entities": ["LOCATION"]},
            "Ngày đăng ký": {"category": "none", "entities": []},
            "Số định danh của trẻ": {"category": "basic", "entities": ["VN_CCCD"]},
        },
    )
    rows = []
    for i in range(60):
        opinion = R.choice(["Thủ tục nhanh, cán bộ nhiệt tình", "Cần rút ngắn thời gian chờ ở quầy",
                            "Trang web hay bị chậm vào buổi sáng", "Đề nghị bổ sung hướng dẫn trực tuyến"])  # fmt: skip
        if i == 11:
            opinion = "Tôi là người dân tộc Khmer, mong có hướng dẫn bằng tiếng Khmer"
        if i == 40:
            opinion = "Gia đình theo đạo Tin Lành nên không làm thủ tục vào Chủ nhật"
        account = f"{R.choice(BANKS)} - {R.randint(10, 99)}{R.randint(10**9, 10**11)}"
        rows.append([f"TC{R.randint(10**7, 10**8 - 1)}", opinion, str(R.randint(1, 50) * 10000), account])
    out["y_kien.csv"] = (
        ["Mã tra cứu", "Ý kiến người dân", "Số tiền hoàn (đồng)", "Tài khoản hoàn tiền"],
        rows,
        {
            "Mã tra cứu": {"category": "none", "entities": []},
            "Ý kiến người dân": {"category": "sensitive", "entities": ["ETHNICITY", "RELIGION"]},
            "Số tiền hoàn (đồng)": {"category": "none", "entities": []},
            "Tài khoản hoàn tiền": {"category": "sensitive", "entities": ["VN_BANK_ACCOUNT"]},
        },
    )
    return out


def main() -> None:
    folder = HERE / "tables"
    folder.mkdir(exist_ok=True)
    labels = []
    for name, (header, rows, fields) in tables().items():
        with (folder / name).open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        labels.append({"file": f"tables/{name}", "fields": fields})
    (HERE / "tables.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
