from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.errors import Invalid

TEXT = "Bà Trần Thị Bình, SĐT 0983 555 219, CCCD 079190004512, mã hồ sơ 000.00.12.H26-250101-0002."


def run(args: list[str], tmp_path: Path, stdin: str | None = None):
    env = {"SENTINEL_DATA_DIR": str(tmp_path / "data")}
    return CliRunner().invoke(cli, args, input=stdin, env=env, catch_exceptions=False)


def test_scan_json_contract(tmp_path: Path, citizens_csv: Path) -> None:
    result = run(["classify", "scan", str(citizens_csv), "--format", "json"], tmp_path)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["source"] == str(citizens_csv)
    fields = {f["field"]: f for f in out["fields"]}
    for f in out["fields"]:
        assert set(f) >= {"field", "entities", "category", "sensitivity", "example"}
        for e in f["entities"]:
            assert set(e) >= {"type", "score", "ratio"}
    assert fields["so_cccd"]["entities"][0]["type"] == "VN_CCCD"
    assert fields["so_cccd"]["entities"][0]["ratio"] == 1.0
    assert fields["hoTen"]["category"] == "basic"
    assert fields["dan_toc"]["category"] == "sensitive"
    assert fields["ma_ho_so"]["category"] == "none"
    assert "001085012387" not in result.output  # examples are masked
    assert (tmp_path / "data" / "classify.db").is_file()


def test_scan_table_and_errors(tmp_path: Path, citizens_csv: Path) -> None:
    table = run(["classify", "scan", str(citizens_csv), "--no-save"], tmp_path)
    assert table.exit_code == 0
    assert "VN_CCCD(100%)" in table.output
    assert not (tmp_path / "data" / "classify.db").exists()
    missing = CliRunner().invoke(cli, ["classify", "scan", str(tmp_path / "none.csv")])
    # the installed command prints this one line and exits 2 (tests/core/test_exit_codes.py)
    assert isinstance(missing.exception, Invalid) and "no such file" in str(missing.exception)


def test_text_spans_from_stdin_have_offsets(tmp_path: Path) -> None:
    result = run(["classify", "text", "-", "--format", "json"], tmp_path, stdin=TEXT)
    assert result.exit_code == 0, result.output
    spans = json.loads(result.output)["spans"]
    assert [(s["type"], TEXT[s["start"] : s["end"]]) for s in spans] == [
        ("PERSON", "Trần Thị Bình"),
        ("VN_PHONE", "0983 555 219"),
        ("VN_CCCD", "079190004512"),
        ("DOSSIER_CODE", "000.00.12.H26-250101-0002"),  # reported, but not personal data
    ]
    assert all(set(s) == {"type", "start", "end", "score"} for s in spans)


def test_text_from_file_with_entity_filter(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text(TEXT, encoding="utf-8")
    result = run(["classify", "text", str(path), "--entities", "VN_PHONE"], tmp_path)
    assert [s["type"] for s in json.loads(result.output)["spans"]] == ["VN_PHONE"]
    bad = CliRunner().invoke(cli, ["classify", "text", str(path), "--entities", "SSN"])
    assert bad.exit_code == 2
    assert "unknown entities SSN" in bad.output
