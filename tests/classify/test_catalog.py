from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sentinel.classify.catalog import load_catalog
from sentinel.classify.gazetteer import build_gazetteer_data
from sentinel.classify.taxonomy import load_taxonomy
from sentinel.content import ContentError
from tests.content import CLASSIFIERS


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "classifiers"
    shutil.copytree(CLASSIFIERS, target)
    return target


def test_shipped_catalog_is_valid_and_complete() -> None:
    catalog = load_catalog(CLASSIFIERS)
    assert len(catalog.terms["ethnicity"]) >= 54
    assert len(catalog.former_provinces) == 63
    assert len({p.cccd for p in catalog.former_provinces}) == 63
    assert len(catalog.gazetteer.provinces) == 34
    assert sum(len(p.communes) for p in catalog.gazetteer.provinces) == 3321
    merged_into = {p.merged_into for p in catalog.former_provinces}
    current = {p.name.removeprefix("Thành phố ").removeprefix("Tỉnh ") for p in catalog.gazetteer.provinces}
    assert merged_into == current


def test_gazetteer_file_is_what_the_generator_writes() -> None:
    data = build_gazetteer_data()
    shipped = load_catalog(CLASSIFIERS).gazetteer
    assert [p["name"] for p in data["provinces"]] == [p.name for p in shipped.provinces]
    assert [p["communes"] for p in data["provinces"]] == [p.communes for p in shipped.provinces]


def test_taxonomy_categories() -> None:
    tx = load_taxonomy(classifiers_dir=CLASSIFIERS)
    assert tx.category("VN_CCCD") == "basic"
    assert tx.category("HEALTH") == "sensitive"
    assert tx.category("UNKNOWN") == "none"
    assert tx.combine(["PERSON", "VN_BANK_ACCOUNT"]) == ("sensitive", 4)
    assert tx.combine([]) == ("none", 0)
    assert tx.personal_entities()[0] in {"VN_BANK_ACCOUNT", "CREDIT_CARD", "HEALTH", "CRIMINAL_RECORD"}


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_bad_regex_is_reported_with_file_and_line(folder: Path) -> None:
    path = folder / "recognizers.yaml"
    _replace(path, r"regex: '(?<![\w/+-])(?<!\d[.,])\d{12}", r"regex: '(?<![\w/+-])(?<!\d[.,])\d{12}(")
    line = next(i for i, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "cccd_12_digits" in t)
    with pytest.raises(ContentError, match=rf"recognizers.yaml:{line}: recognizers.0.patterns.0.regex"):
        load_catalog(folder)


def test_unknown_validator_and_missing_taxonomy_entry(folder: Path) -> None:
    _replace(folder / "recognizers.yaml", "validator: cccd", "validator: luhn9")
    with pytest.raises(ContentError, match="unknown validator 'luhn9'"):
        load_catalog(folder)
    shutil.copy(CLASSIFIERS / "recognizers.yaml", folder / "recognizers.yaml")
    _replace(folder / "taxonomy.yaml", "  HEALTH:", "  HEALTHY:")
    with pytest.raises(ContentError, match=r"entity HEALTH .* is missing"):
        load_catalog(folder)


def test_a_new_recognizer_from_yaml_only(folder: Path) -> None:
    from sentinel.classify.analyzer import analyze_text

    with (folder / "recognizers.yaml").open("a", encoding="utf-8") as fh:
        fh.write(
            "\n  - name: vneid_account\n    entity: VN_VNEID\n    patterns:\n"
            "      - {name: vneid, regex: 'VNEID-\\d{6}', score: 0.7}\n    context: [tài khoản định danh]\n"
        )
    with (folder / "taxonomy.yaml").open("a", encoding="utf-8") as fh:
        fh.write("  VN_VNEID: {category: sensitive, level: 4, role: identifying}\n")
    spans = analyze_text("mã VNEID-123456", classifiers_dir=folder)
    assert [(s.type, s.text) for s in spans] == [("VN_VNEID", "VNEID-123456")]
