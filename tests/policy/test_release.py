"""Open-data release by measured risk: hierarchies, the lattice search, the CLI with its report, --check."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.content import ContentError
from sentinel.policy.hierarchies import DATE, ETHNICITY, PLACE, PROVINCE, VALUE, load_generalizer
from sentinel.policy.release import ColumnPlan, Release
from tests.content import CLASSIFIERS

QUASI = ["ngay_sinh", "gioi_tinh", "tinh", "xa", "thu_tuc"]


def test_hierarchies_climb_dates_places_and_groups() -> None:
    g = load_generalizer(classifiers_dir=CLASSIFIERS)
    assert g.chain(DATE, "15/03/1987") == ["1987-03-15", "1987-03", "1987", "1985-1989", "*"]
    assert g.chain(DATE, "1990-07-21") == ["1990-07-21", "1990-07", "1990", "1990-1994", "*"]
    assert g.chain(PLACE, "Phường Hoàn Kiếm") == ["Phường Hoàn Kiếm", "Hà Nội", "Đồng bằng sông Hồng", "*"]
    assert g.chain(PLACE, "Phường Ba Đình")[1] == "*"  # a name two provinces share needs the row's province
    assert g.chain(PLACE, "Phường Ba Đình", "Thành phố Hà Nội")[1] == "Hà Nội"
    assert g.chain(PLACE, "Xã Tân Lập", "Phú Thọ")[1:3] == ["Phú Thọ", "Trung du và miền núi phía Bắc"]
    assert g.chain(PROVINCE, "Cần Thơ") == ["Cần Thơ", "Đồng bằng sông Cửu Long", "*"]
    assert g.chain(ETHNICITY, "Tày") == ["Tày", "Dân tộc thiểu số", "*"]
    assert g.chain(ETHNICITY, "Kinh")[1] == "Kinh"
    assert g.chain(VALUE, "Nam") == ["Nam", "*"]


def test_hierarchy_content_is_checked_against_the_gazetteer(tmp_path: Path) -> None:
    import shutil

    from tests.content import CLASSIFIERS

    folder = tmp_path / "classifiers"
    shutil.copytree(CLASSIFIERS, folder)
    text = (folder / "hierarchies.yaml").read_text(encoding="utf-8").replace("Tây Nguyên: [Gia Lai,", "Tây Nguyên: [")
    (folder / "hierarchies.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ContentError, match="provinces without a region: Gia Lai"):
        load_generalizer(folder)


def _release(rows: list[dict], quasi: list[tuple[str, object]], sensitive=(), **kw) -> Release:
    plans = [ColumnPlan(name, "quasi", [], "generalised", "", h) for name, h in quasi]
    plans += [ColumnPlan(name, "sensitive", [], "kept l-diverse", "") for name in sensitive]
    release = Release(
        plans, load_generalizer(classifiers_dir=CLASSIFIERS), **{"k": 3, "l": 1, "max_suppression": 0.0, **kw}
    )
    for row in rows:
        release.add(row)
    return release


def test_the_search_takes_the_least_generalisation_that_reaches_k() -> None:
    rows = [{"d": f"{1 + i % 28:02d}/0{1 + i % 3}/{1980 + i % 4}", "s": "Nam" if i % 2 else "Nữ"} for i in range(48)]
    release = _release(rows, [("d", DATE), ("s", VALUE)], k=3)
    solution = release.search()
    assert solution.satisfied and solution.suppressed == 0
    assert solution.levels == (1, 0)  # the month keeps sex exact: the lowest height that works
    after = release.risk(solution.levels)
    assert after.k >= 3 and after.unique_share == 0.0


def test_outliers_are_left_out_within_the_limit_and_l_diversity_holds() -> None:
    rows = [{"p": "Hà Nội", "r": "Phật giáo" if i % 2 else "Không"} for i in range(20)]
    rows.append({"p": "Cà Mau", "r": "Không"})  # alone: left out rather than generalise everyone
    release = _release(rows, [("p", PROVINCE)], sensitive=["r"], k=3, l=2, max_suppression=0.1)
    solution = release.search()
    assert (solution.levels, solution.suppressed) == ((0,), 1)
    release.apply(solution)
    assert release.released({"p": "Cà Mau", "r": "Không"}) is None
    assert release.released({"p": "Hà Nội", "r": "Không"}) == {"p": "Hà Nội", "r": "Không"}
    strict = _release(rows, [("p", PROVINCE)], sensitive=["r"], k=3, l=2, max_suppression=0.0)
    assert strict.search().levels == (2,)  # no suppression allowed: alone in its region too, so everything is *
    same = [{"p": "Hà Nội", "r": "Không"} for _ in range(10)]
    assert not _release(same, [("p", PROVINCE)], sensitive=["r"], k=3, l=2).search().satisfied


def dossiers(n: int, seed: int = 5) -> str:
    r = random.Random(seed)
    places = [("Hà Nội", ["Phường Ba Đình", "Phường Hoàn Kiếm"]), ("Thanh Hóa", ["Phường Hạc Thành"]),
              ("Cần Thơ", ["Phường Ninh Kiều", "Phường Cái Răng"])]  # fmt: skip
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["ma_ho_so", "ho_ten", "so_cccd", "ngay_sinh", "gioi_tinh", "tinh", "xa", "thu_tuc", "ton_giao",
                "ghi_chu", "trang_thai"])  # fmt: skip
    for i in range(n):
        province, communes = r.choice(places)
        year = r.randint(1950, 2005)
        note = "Công dân đang điều trị ung thư" if i % 25 == 3 else r.choice(["Hồ sơ đầy đủ", "Bổ sung giấy tờ"])
        w.writerow([
            f"000.00.{r.randint(10, 99)}.H{r.randint(10, 63)}-2503{r.randint(10, 28)}-{i:04d}",
            f"{r.choice(['Nguyễn', 'Trần', 'Lê'])} {r.choice(['Văn', 'Thị'])} {r.choice(['An', 'Lan', 'Minh'])}",
            f"0{r.randint(10, 96):02d}{r.randint(0, 3)}{year % 100:02d}{r.randint(0, 999999):06d}",
            f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{year}",
            r.choice(["Nam", "Nữ"]), province, r.choice(communes),
            r.choice(["Đăng ký khai sinh", "Cấp lại căn cước", "Đăng ký thường trú"]),
            r.choice(["Không", "Phật giáo", "Công giáo"]), note, r.choice(["Đã tiếp nhận", "Đã trả kết quả"]),
        ])  # fmt: skip
    return out.getvalue()


def run(tmp_path: Path, *args: str):
    return CliRunner().invoke(cli, ["anonymize", *args], env={"SENTINEL_DATA_DIR": str(tmp_path / "data")})


def test_open_data_release_reaches_k_and_reports_beside_the_output(tmp_path: Path) -> None:
    src = tmp_path / "dossiers.csv"
    src.write_text(dossiers(400), encoding="utf-8")
    out = tmp_path / "open.csv"
    result = run(tmp_path, str(src), "--purpose", "open_data", "-o", str(out))
    assert result.exit_code == 0, result.output
    released = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(released[0]) == [*QUASI, "ton_giao", "trang_thai"]  # identifiers and notes removed
    text = out.read_text(encoding="utf-8")
    assert "ung thư" not in text and "Nguyễn" not in text and "000.00." not in text
    groups = Counter(tuple(r[c] for c in QUASI) for r in released)
    assert min(groups.values()) >= 5  # k-anonymous, counted independently of the report
    religions: dict[tuple, set[str]] = {}
    for r in released:
        religions.setdefault(tuple(r[c] for c in QUASI), set()).add(r["ton_giao"])
    assert min(len(v) for v in religions.values()) >= 2
    report = json.loads((tmp_path / "open.csv.risk.json").read_text(encoding="utf-8"))
    assert report["satisfied"] and report["k_reached"] >= 5
    assert report["records"]["in"] == 400 and report["records"]["out"] == len(released)
    assert report["records"]["suppressed"] == 400 - len(released) <= 20
    assert report["unique_share"]["before"] > 0.9 and report["unique_share"]["after"] == 0.0
    assert set(report["generalisation"]) == set(QUASI) and 0 < report["information_loss"] < 1
    actions = {c["column"]: (c["action"], c["reason"]) for c in report["columns"]}
    assert actions["ghi_chu"] == ("removed", "free text")
    assert actions["so_cccd"] == ("removed", "direct identifier (VN_CCCD)")
    assert actions["ma_ho_so"][0] == "removed"
    assert "k=5 reached" in (tmp_path / "open.csv.risk.txt").read_text(encoding="utf-8")
    stricter = run(tmp_path, str(src), "--purpose", "open_data", "-o", str(tmp_path / "k10.csv"), "--k", "10")
    assert stricter.exit_code == 0
    k10 = json.loads((tmp_path / "k10.csv.risk.json").read_text(encoding="utf-8"))
    assert k10["k_reached"] >= 10 and k10["information_loss"] >= report["information_loss"]


def test_check_measures_a_table_without_changing_it(tmp_path: Path) -> None:
    src = tmp_path / "dossiers.csv"
    src.write_text(dossiers(200), encoding="utf-8")
    before = src.read_bytes()
    raw = run(tmp_path, "--check", str(src), "--report", "json")
    assert raw.exit_code == 1 and src.read_bytes() == before
    result = json.loads(raw.output)
    assert result["risk"]["unique_share"] > 0.9 and not result["passes"]
    assert {"ho_ten", "so_cccd", "ma_ho_so", "ghi_chu"} <= set(result["direct_identifiers"])
    out = tmp_path / "open.csv"
    assert run(tmp_path, str(src), "--purpose", "open_data", "-o", str(out)).exit_code == 0
    clean = run(tmp_path, "--check", str(out))
    assert clean.exit_code == 0 and "passes k>=5" in clean.output


def test_release_refuses_standard_input_and_odd_files(tmp_path: Path) -> None:
    assert run(tmp_path, "-", "--purpose", "open_data").exit_code == 2
    (tmp_path / "x.sql").write_text("select 1", encoding="utf-8")
    bad = run(tmp_path, "--check", str(tmp_path / "x.sql"))
    assert bad.exit_code == 2 and "reads CSV or JSON-lines tables" in bad.output
    assert run(tmp_path).exit_code == 2
