"""Open-data release by risk: time, k reached, records left out and information lost, by table size.

Generates a table of dossiers (name, ID, date of birth, sex, province, commune,
procedure, religion, notes, status) with its own seeded generator, runs
``sentinel anonymize --purpose open_data`` in-process, and compares in the same
run with the streaming ``analytics_export`` purpose over the same file (the
baseline: one pass, no risk search).

    python bench/release.py [--rows 10000 100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from sentinel.cli.main import cli  # noqa: E402

PLACES = {
    "Hà Nội": ["Phường Hoàn Kiếm", "Phường Cầu Giấy", "Xã Sóc Sơn", "Phường Long Biên"],
    "Nghệ An": ["Phường Vinh Phú", "Xã Yên Thành", "Xã Diễn Châu"],
    "Cần Thơ": ["Phường Ninh Kiều", "Phường Cái Răng"],
    "Lâm Đồng": ["Xã Đức Trọng", "Phường Xuân Hương - Đà Lạt"],
    "Quảng Ninh": ["Phường Hạ Long", "Phường Bãi Cháy"],
}


def write_table(path: Path, rows: int, seed: int = 3) -> None:
    r = random.Random(seed)
    provinces = list(PLACES)
    weights = [5, 3, 2, 1, 1]  # a few large provinces, some small ones: outliers exist
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ma_ho_so", "ho_ten", "so_cccd", "ngay_sinh", "gioi_tinh", "tinh", "xa", "thu_tuc", "ton_giao",
                    "ghi_chu", "trang_thai"])  # fmt: skip
        for i in range(rows):
            province = r.choices(provinces, weights)[0]
            year = int(r.triangular(1935, 2010, 1985))
            note = "Đang điều trị ung thư, ưu tiên" if i % 40 == 7 else r.choice(["Đủ hồ sơ", "Bổ sung giấy tờ"])
            w.writerow([
                f"000.00.{r.randint(10, 99)}.H{r.randint(10, 63)}-2506{r.randint(10, 28)}-{i % 10000:04d}",
                f"{r.choice(['Nguyễn', 'Trần', 'Lê', 'Phạm'])} {r.choice(['Văn', 'Thị', 'Minh'])} "
                f"{r.choice(['An', 'Bình', 'Hoa', 'Tuấn', 'Lan'])}",
                f"0{r.randint(10, 96):02d}{r.randint(0, 3)}{year % 100:02d}{r.randint(0, 999999):06d}",
                f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{year}",
                r.choice(["Nam", "Nữ"]), province, r.choice(PLACES[province]),
                r.choices(["Đăng ký khai sinh", "Cấp lại căn cước", "Đăng ký thường trú", "Đăng ký kết hôn",
                           "Cấp phiếu lý lịch tư pháp"], [6, 4, 3, 2, 1])[0],
                r.choices(["Không", "Phật giáo", "Công giáo", "Tin Lành", "Cao Đài"], [10, 5, 3, 1, 1])[0],
                note, r.choice(["Đã tiếp nhận", "Đang xử lý", "Đã trả kết quả"]),
            ])  # fmt: skip


def run(args: list[str], data: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["anonymize", *args], env={"SENTINEL_DATA_DIR": str(data)})
    seconds = time.perf_counter() - started
    if result.exit_code not in (0, 1):
        raise SystemExit(f"anonymize failed ({result.exit_code}): {result.output}")
    return seconds, result.output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="release-bench-") as folder:
        measure(Path(folder), args.rows)


def measure(work: Path, sizes: list[int]) -> None:
    """Release and stream tables of each size in ``work``, one row of figures each."""
    write_table(work / "warm.csv", 100)
    run(["--check", str(work / "warm.csv")], work / "data")  # load the analyzer and the gazetteer once
    print("| rows | release (s) | rows/s | k | left out | loss | unique before -> after | generalisation | "
          "analytics_export stream (s) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for rows in sizes:
        src = work / f"dossiers-{rows}.csv"
        write_table(src, rows)
        out = work / f"open-{rows}.csv"
        seconds, _ = run([str(src), "--purpose", "open_data", "-o", str(out)], work / "data")
        report = json.loads((work / f"open-{rows}.csv.risk.json").read_text(encoding="utf-8"))
        base, _ = run([str(src), "--purpose", "analytics_export", "-o", str(work / f"an-{rows}.csv")], work / "data")
        gen = ", ".join(f"{c} {lvl}" for c, lvl in report["generalisation"].items())
        rec = report["records"]
        print(
            f"| {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | {report['k_reached']} | "
            f"{rec['suppressed']:,} ({rec['suppressed_share']:.1%}) | {report['information_loss']:.3f} | "
            f"{report['unique_share']['before']:.1%} -> {report['unique_share']['after']:.1%} | {gen} | {base:.1f} |"
        )


if __name__ == "__main__":
    main()
