"""`sentinel anonymize`: CSV and JSON lines, per purpose, streaming to stdout or a file."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.policy.operators import TOKEN

from .conftest import CCCD, NAME, PHONE

CSV = (
    "ho_ten,so_cccd,ngay_sinh,dia_chi,ghi_chu,thu_tuc\n"
    f'{NAME},{CCCD},15/03/1999,"12 Lý Thường Kiệt, phường Cửa Nam, Thành phố Hà Nội",gọi lại {PHONE},1.001612\n'
    f'Trần Thị Bình,{CCCD},01/02/1985,"Phường Thuận Hóa, Thành phố Huế",không,2.000123\n'
)


@pytest.fixture
def run(tmp_path):
    def invoke(*args: str, input: str | None = None):
        env = {"SENTINEL_DATA_DIR": str(tmp_path / "data")}
        return CliRunner().invoke(cli, ["anonymize", *args], env=env, input=input)

    return invoke


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_for_analytics_keeps_joins(run, tmp_path):
    src = tmp_path / "citizens.csv"
    src.write_text(CSV, encoding="utf-8")
    result = run(str(src), "--purpose", "analytics_export")
    assert result.exit_code == 0, result.output
    out = rows(result.stdout)
    assert [r["thu_tuc"] for r in out] == ["1.001612", "2.000123"]  # not personal: untouched
    assert out[0]["so_cccd"] == out[1]["so_cccd"] and TOKEN.fullmatch(out[0]["so_cccd"])  # joinable pseudonym
    assert out[0]["ho_ten"] != out[1]["ho_ten"] and out[0]["ho_ten"].startswith("pz-person-")
    assert [r["ngay_sinh"] for r in out] == ["1999", "1985"] and [r["dia_chi"] for r in out] == ["Hà Nội", "Huế"]
    assert PHONE not in result.stdout and out[0]["ghi_chu"].startswith("gọi lại pz-vn_phone-")
    assert "records for analytics_export" in result.stderr
    again = run(str(src), "--purpose", "analytics_export")
    assert again.stdout == result.stdout  # the managed key makes pseudonyms stable across runs


def test_jsonl_with_a_bad_line(run, tmp_path):
    src = tmp_path / "forms.jsonl"
    src.write_text(
        json.dumps({"form": {"so_dien_thoai": PHONE, "ho_ten": NAME}, "status": "ok"}, ensure_ascii=False)
        + f"\nnot json, call {PHONE}\n",
        encoding="utf-8",
    )
    result = run(str(src), "--purpose", "triage")
    assert result.exit_code == 0
    first, second = result.stdout.splitlines()
    doc = json.loads(first)
    assert doc["form"]["so_dien_thoai"] == "*******265" and doc["form"]["ho_ten"] == "<PERSON>"
    assert doc["status"] == "ok"
    assert second == "not json, call *******265"  # kept, never dropped, still protected
    assert "line 2: not a JSON object" in result.stderr and PHONE not in result.stderr


def test_standard_input_and_unknown_purpose(run):
    line = json.dumps({"cccd": CCCD})
    result = run("-", "--purpose", "triage", input=line + "\n")
    assert json.loads(result.stdout) == {"cccd": "*********345"}
    bad = run("-", "--purpose", "marketing", input=line)
    assert bad.exit_code == 2 and "defined: ingest, triage, analytics_export, open_data" in bad.output


def test_ragged_csv_rows_are_kept_and_reported(run, tmp_path):
    src = tmp_path / "ragged.csv"
    src.write_text(f"sdt,sdt\n{PHONE},{PHONE}\n{PHONE}\n{PHONE},x,{CCCD}\n", encoding="utf-8")
    result = run(str(src), "--purpose", "triage")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "sdt,sdt",
        "*******265,*******265",
        "*******265",
        "*******265,*,*********345",
    ]
    assert "row 3: 1 cells, the header has 2" in result.stderr
    assert "2 malformed records anonymised as text" in result.stderr
