"""`sentinel policy check` on small repositories: each finding, the clean case, sampling and the report formats."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.policy.check import RULES, run_check
from tests.content import CLASSIFIERS

from .conftest import CCCD, PHONE, POLICY, write_policy

TOKEN_CCCD = "pz-vn_cccd-abcdefghijklmnop"


def repo(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "repo"
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


CLEAN = {
    "fixtures/citizens.csv": f"ho_ten,so_cccd,ngay_sinh,thu_tuc\n<PERSON>,{TOKEN_CCCD},1990,1.001612\n"
    f"<PERSON>,{TOKEN_CCCD},1985,2.000123\n",
    "samples/access.log": '14.160.32.7 - - [20/Nov/2026:08:15:02 +0700] "GET /dvc/1.001612 HTTP/1.1" 200 51\n' * 50,
    "schemas/dossier.schema.json": json.dumps(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "properties": {"ma_ho_so": {"type": "string"}, "so_cccd": {"type": "string"}, "ho_ten": {"type": "string"}},
        }
    ),
    "README.md": f"call {PHONE}",  # not a data file: not scanned
}


def check(root: Path, policy: Path | None = None):
    return run_check([root], policy or POLICY, root=root, jobs=1, classifiers_dir=CLASSIFIERS)


def rules_of(report) -> set[tuple[str, str]]:
    return {(f.rule, f.path) for f in report.findings}


def test_clean_tree_passes(tmp_path):
    root = repo(tmp_path, CLEAN)
    report = check(root)
    assert report.findings == [] and not report.failed and report.files == 3


def test_uncovered_field_and_its_raw_values(tmp_path):
    rows = "".join(f"KH{i:03d},{CCCD[:-3]}{i:03d}\n" for i in range(30))
    root = repo(tmp_path, {"data/customers.csv": "ma_kh,gia_tri_dinh_danh\n" + rows})
    report = check(root)
    pd001 = [f for f in report.findings if f.rule == "PD001"]
    assert len(pd001) == 1 and pd001[0].entity == "VN_CCCD" and "'gia_tri_dinh_danh'" in pd001[0].message
    assert pd001[0].line == 2
    assert ("PD002", "data/customers.csv") in rules_of(report) and report.failed


def test_raw_values_in_a_covered_column(tmp_path):
    root = repo(tmp_path, {"tests/fixtures/form.jsonl": json.dumps({"so_dien_thoai": PHONE, "ho_ten": "<PERSON>"})})
    report = check(root)
    assert [(f.rule, f.entity, f.line) for f in report.findings] == [("PD002", "VN_PHONE", 1)]


def test_identifiers_in_a_log_sample_with_line_numbers(tmp_path):
    lines = ["2026-11-20 08:00:00 INFO request ok"] * 40
    lines[25] = f"2026-11-20 08:00:25 INFO citizen {CCCD} called back on {PHONE}"
    root = repo(tmp_path, {"samples/app.log": "\n".join(lines) + "\n"})
    found = {(f.rule, f.entity, f.line) for f in check(root).findings}
    assert found == {("PD002", "VN_CCCD", 26), ("PD002", "VN_PHONE", 26)}


def test_identifiers_typed_in_another_scripts_digits_fail_the_check(tmp_path):
    """A fixture holding a citizen ID in fullwidth digits, a phone in Arabic-Indic ones: found, on their lines."""
    lines = ["2026-11-20 08:00:00 INFO request ok"] * 40
    lines[9] = "2026-11-20 08:00:09 INFO citizen " + CCCD.translate({48 + d: 0xFF10 + d for d in range(10)})
    lines[30] = "2026-11-20 08:00:30 INFO gọi lại " + PHONE.translate({48 + d: 0x0660 + d for d in range(10)})
    root = repo(tmp_path, {"samples/app.log": "\n".join(lines) + "\n"})
    report = check(root)
    assert {(f.rule, f.entity, f.line) for f in report.findings} == {
        ("PD002", "VN_CCCD", 10),
        ("PD002", "VN_PHONE", 31),
    }
    assert report.failed


def test_schema_declarations(tmp_path):
    root = repo(
        tmp_path,
        {
            "api/openapi.json": json.dumps(
                {"openapi": "3.1.0", "components": {"schemas": {"Ho": {"properties": {"soDienThoaiDiDong": {}}}}}}
            ),
            "db/schema.sql": "CREATE TABLE ho_so (\n  id INTEGER PRIMARY KEY,\n  email_lien_he TEXT,\n"
            "  so_cccd TEXT\n);\n",
        },
    )
    found = {(f.rule, f.path, f.entity) for f in check(root).findings}
    assert found == {("PD001", "api/openapi.json", "VN_PHONE"), ("PD001", "db/schema.sql", "EMAIL_ADDRESS")}


def test_allow_rule_and_inconsistent_policy(tmp_path, policy_text):
    root = repo(tmp_path, {"tests/fixtures/form.jsonl": json.dumps({"so_dien_thoai": PHONE})})
    allowed = policy_text.replace(
        "  allow:\n",
        '  allow:\n    - paths: ["tests/fixtures/**"]\n      entities: [VN_PHONE]\n      reason: synthetic\n',
    )
    assert check(root, write_policy(tmp_path, allowed)).findings == []
    broken = policy_text.replace(
        "dpo: {scope: national, basic: allow, sensitive: allow}",
        "dpo: {scope: national, basic: deny, sensitive: allow}",
    )
    report = check(root, write_policy(tmp_path, broken))
    pd003 = [f for f in report.findings if f.rule == "PD003"]
    assert len(pd003) == 1 and pd003[0].line and report.failed
    # a policy that contradicts itself is reported and still used: the files are checked with it
    assert report.files == 1 and ("PD002", "tests/fixtures/form.jsonl") in rules_of(report)


def test_large_file_is_sampled_head_middle_tail(tmp_path):
    line = '14.160.32.7 - - [20/Nov/2026:08:15:02 +0700] "GET /dvc/thu-tuc/1.001612 HTTP/1.1" 200 5120\n'
    body = line * 40_000 + f"tail: contact {PHONE}\n"  # ~3.6 MB, the identifier in the last line
    root = repo(tmp_path, {"samples/big.log": body})
    report = check(root)
    assert report.sampled_files == 1 and report.bytes_read < 300_000
    assert [(f.rule, f.entity, f.line) for f in report.findings] == [("PD002", "VN_PHONE", None)]


def test_bad_input_is_reported_not_fatal(tmp_path):
    root = repo(tmp_path, {"a.jsonl": b'{"so_cccd": "' + CCCD.encode() + b'"\n\xff\xfe not json\n', "b.csv": b'"\n'})
    (root / "gone.csv").symlink_to(root / "missing.csv")
    report = check(root)
    assert ("PD004", "gone.csv") in rules_of(report)
    assert any(f.rule == "PD002" and f.path == "a.jsonl" for f in report.findings)


def test_parallel_run_gives_the_same_findings(tmp_path):
    files = {f"d{i}/rows.csv": f"id,so_cccd\n{i},{CCCD}\n" for i in range(70)}
    root = repo(tmp_path, files)
    one = run_check([root], POLICY, root=root, jobs=1, classifiers_dir=CLASSIFIERS)
    two = run_check([root], POLICY, root=root, jobs=2, classifiers_dir=CLASSIFIERS)
    assert sorted(map(str, one.findings)) == sorted(map(str, two.findings)) and len(one.findings) == 70


@pytest.fixture
def dirty(tmp_path, monkeypatch):
    root = repo(tmp_path, {**CLEAN, "data/x.csv": f"ma_kh,so_cccd\n1,{CCCD}\n"})
    monkeypatch.chdir(root)
    return root


def run_cli(*args: str):
    return CliRunner().invoke(cli, ["policy", "check", *args])


def test_cli_exit_codes_and_text(dirty):
    result = run_cli(".")
    assert result.exit_code == 1
    assert "data/x.csv:2: PD002 unmasked-personal-data" in result.output and "FAILED" in result.output
    assert CCCD not in result.output  # findings never repeat the raw value
    assert run_cli("fixtures", "schemas").exit_code == 0


def test_sarif_is_well_formed(dirty):
    result = run_cli(".", "--format", "sarif")
    log = json.loads(result.output)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"] and res["level"] in ("error", "warning", "note")
        loc = res["locations"][0]["physicalLocation"]
        assert not loc["artifactLocation"]["uri"].startswith("/")
        assert loc.get("region", {"startLine": 1})["startLine"] >= 1
        assert res["message"]["text"]


def test_junit_and_json(dirty, tmp_path):
    out = tmp_path / "report.xml"
    result = run_cli(".", "--format", "junit", "-o", str(out))
    assert result.exit_code == 1
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures")) == 1
    assert suite.find("testcase/failure").get("type") == "PD002"
    data = json.loads(run_cli(".", "--format", "json").output)
    assert data["summary"]["findings"]["PD002"] == 1 and data["summary"]["passed"] is False


def test_sensitive_columns_names_in_logs_home_addresses_and_sparse_notes(tmp_path):
    notes = ["Hồ sơ đầy đủ, đã chuyển bộ phận thẩm định"] * 40
    notes[31] = "Công dân có tiền sử bệnh tim, ưu tiên tiếp nhận"
    rows = "".join(f"HS{i:03d},Kinh,Phật giáo,{note}\n" for i, note in enumerate(notes))
    log = ["2026-11-20 08:00:00 INFO request ok"] * 30
    log[7] = "2026-11-20 08:00:07 INFO ho so nop boi Nguyễn Thị Hồng Nhung da tiep nhan"
    log[12] = "2026-11-20 08:00:12 INFO dia chi moi: số 18 ngõ 42 phố Trần Duy Hưng, phường Trung Hòa, Hà Nội"
    root = repo(
        tmp_path,
        {"data/dossiers.csv": "ma_hs,dan_toc_cu,ton_giao_cu,ghi_chu\n" + rows, "samples/app.log": "\n".join(log)},
    )
    found = {(f.rule, f.path, f.entity, f.line) for f in check(root).findings}
    assert ("PD002", "samples/app.log", "PERSON", 8) in found
    assert ("PD002", "samples/app.log", "LOCATION", 13) in found
    csv_found = {(f.rule, f.entity) for f in check(root).findings if f.path == "data/dossiers.csv"}
    assert {("PD001", "ETHNICITY"), ("PD002", "ETHNICITY"), ("PD001", "RELIGION"), ("PD002", "RELIGION")} <= csv_found
    assert {("PD001", "HEALTH"), ("PD002", "HEALTH")} <= csv_found
    health = next(f for f in check(root).findings if f.rule == "PD002" and f.entity == "HEALTH")
    assert "holds 1 unmasked HEALTH value(s)" in health.message


def test_the_shipped_policy_forbids_every_sensitive_entity(tmp_path, policy_text):
    from sentinel.classify.taxonomy import load_taxonomy
    from sentinel.policy.model import load_policy

    forbid = set(load_policy(POLICY, classifiers_dir=CLASSIFIERS).policy.repository.forbid)
    taxonomy = load_taxonomy(classifiers_dir=CLASSIFIERS)
    assert {e for e in taxonomy.entities if taxonomy.category(e) == "sensitive"} <= forbid
    loose = policy_text.replace("RELIGION, HEALTH,", "HEALTH,")
    assert loose != policy_text
    report = check(repo(tmp_path, {"a.csv": "x\n1\n"}), write_policy(tmp_path, loose))
    assert [f.message for f in report.findings if f.rule == "PD003"] == [
        "sensitive RELIGION is not forbidden in the repository; forbid it and allow the paths that need it"
    ]


def test_this_repository_passes_its_own_check():
    root = Path(__file__).resolve().parents[2]
    report = run_check([root], POLICY, root=root, jobs=1, classifiers_dir=CLASSIFIERS)
    assert [f"{f.path}:{f.line}: {f.message}" for f in report.findings] == []


def findings_of(report) -> list[tuple]:
    return sorted((f.rule, f.path, f.entity, f.line) for f in report.findings)


def test_an_unreadable_policy_is_one_finding(tmp_path, policy_text):
    broken = write_policy(tmp_path, policy_text.replace("  min_score: 0.5", "  min_score: many"))
    report = check(repo(tmp_path, {"a.csv": f"so_cccd\n{CCCD}\n"}), broken)
    ((rule, path, line),) = [(f.rule, f.path, f.line) for f in report.findings]
    assert (rule, path) == ("PD003", str(broken)) and line == policy_text.splitlines().index("  min_score: 0.5") + 1
    assert report.failed and report.files == 0


def test_progress_is_reported_per_file(tmp_path):
    root = repo(tmp_path, {f"d{i}.csv": "id,status\n1,open\n" for i in range(3)})
    seen: list[tuple[int, int]] = []
    run_check([root], POLICY, root=root, jobs=1, classifiers_dir=CLASSIFIERS, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_raw_value_in_the_sampled_tail_of_a_large_file_has_no_line_number(tmp_path):
    """The middle and the tail of a sampled file start at a line whose number is not known: none is made up."""
    # pseudonyms in the head and the middle, raw values through the whole tail (the last quarter of the budget)
    csv_rows = [f"{i},{TOKEN_CCCD}\n" for i in range(12_000)] + [f"{i},{CCCD}\n" for i in range(12_000, 16_000)]
    json_rows = [json.dumps({"id": i, "so_cccd": TOKEN_CCCD if i < 9_000 else CCCD}) + "\n" for i in range(11_000)]
    root = repo(tmp_path, {"big.csv": "id,so_cccd\n" + "".join(csv_rows), "big.jsonl": "".join(json_rows)})
    report = check(root)
    assert report.sampled_files == 2
    assert findings_of(report) == [("PD002", "big.csv", "VN_CCCD", None), ("PD002", "big.jsonl", "VN_CCCD", None)]


def test_a_column_keeps_its_forbidden_entity_when_another_is_allowed_there(tmp_path, policy_text):
    """Phones are expected under fixtures/, citizen IDs are not: the second entity of the column is still reported."""
    allowed = policy_text.replace(
        "  allow:\n",
        '  allow:\n    - paths: ["fixtures/**"]\n      entities: [VN_PHONE]\n      reason: synthetic\n',
    )
    phone = f"Công dân hẹn gọi lại số {PHONE} để bổ sung giấy tờ còn thiếu"
    cccd = f"Đã đối chiếu số CCCD {CCCD} với cơ sở dữ liệu dân cư"
    notes = [phone] * 5 + [cccd] * 3 + ["Đã nhận đủ giấy tờ và chuyển bộ phận thẩm định hồ sơ trong ngày"] * 2
    rows = "".join(f"{i},{n}\n" for i, n in enumerate(notes))
    root = repo(tmp_path, {"fixtures/contacts.csv": "ma,ghi_chu\n" + rows})
    found = {(f.rule, f.entity) for f in check(root, write_policy(tmp_path, allowed)).findings}
    assert found == {("PD001", "VN_CCCD"), ("PD002", "VN_CCCD")}


def test_values_with_accents_are_ranked_at_their_own_line(tmp_path):
    """Only 12 values of a column are classified: the three phones among 40 accented notes must be among them."""
    notes = ["Đã nhận đủ giấy tờ và chuyển bộ phận thẩm định hồ sơ trong ngày"] * 40
    for row in (33, 35, 38):
        notes[row] = f"Công dân hẹn gọi lại số {PHONE} để bổ sung giấy tờ còn thiếu"
    root = repo(tmp_path, {"notes.csv": "ma,ghi_chu\n" + "".join(f"{i},{n}\n" for i, n in enumerate(notes))})
    found = {(f.rule, f.entity, f.line) for f in check(root).findings}
    assert ("PD001", "VN_PHONE", 35) in found  # row 33, after the header


def test_columns_declared_on_one_line_of_sql(tmp_path):
    root = repo(
        tmp_path, {"db/schema.sql": "CREATE TABLE ho_so (id INTEGER PRIMARY KEY, email_lien_he TEXT, ghi_chu TEXT);\n"}
    )
    assert findings_of(check(root)) == [("PD001", "db/schema.sql", "EMAIL_ADDRESS", None)]


def test_lines_of_one_layout_are_read_on_while_they_hold_identifiers(tmp_path):
    """Every line of the log holds a citizen ID in the same place: the count goes to the cap, not to 3."""
    lines = [f'{{"level":"info","msg":"lookup","cccd":"{CCCD[:-3]}{i:03d}"}}' for i in range(40)]
    root = repo(tmp_path, {"app.log": "\n".join(lines) + "\n"})
    (finding,) = check(root).findings
    assert (finding.rule, finding.entity, finding.line) == ("PD002", "VN_CCCD", 1)
    assert finding.message.startswith("at least 20 unmasked VN_CCCD value(s)")
    few = repo(tmp_path / "few", {"app.log": "\n".join(lines[:7]) + "\n"})
    assert check(few).findings[0].message.startswith("7 unmasked VN_CCCD value(s)")


def test_the_minimum_score_applies_to_words_and_identifiers(tmp_path, policy_text):
    log = ["2026-11-20 08:00:00 INFO request ok"] * 10
    log[3] = "2026-11-20 08:00:03 INFO ho so nop boi Nguyễn Thị Hồng Nhung, goi lai 0983417265"
    root = repo(tmp_path, {"app.log": "\n".join(log) + "\n"})
    assert {f.entity for f in check(root).findings} == {"PERSON", "VN_PHONE"}
    strict = write_policy(tmp_path, policy_text.replace("  min_score: 0.5", "  min_score: 1.0"))
    assert check(root, strict).findings == []


def test_a_file_that_cannot_be_parsed_is_reported_and_read_as_text(tmp_path):
    # a field beyond the csv module's limit (128 KiB): the file is read as text instead
    root = repo(tmp_path, {"b.csv": b'id,note\n1,"' + b"x" * 140_000 + b'"\n' + f'2,"CCCD {CCCD}"\n'.encode()})
    assert findings_of(check(root)) == [("PD002", "b.csv", "VN_CCCD", 3), ("PD004", "b.csv", None, None)]
    (unparsed,) = [f for f in check(root).findings if f.rule == "PD004"]
    assert unparsed.message == "cannot parse (Error); checked as text"


def test_the_summary_rounds_seconds_to_milliseconds():
    from sentinel.policy.check import CheckReport

    assert CheckReport("policy.yaml", [], 2, 10, 0, 1.23456).summary()["seconds"] == 1.235


def test_each_hit_of_a_batch_is_placed_on_its_own_line(tmp_path):
    log = ["2026-11-20 08:00:00 INFO request ok"] * 12
    log[1] = f"2026-11-20 08:00:01 INFO goi lai so dien thoai {PHONE}"
    log[4] = "2026-11-20 08:00:04 INFO goi lai so dien thoai 0912345678"
    log[8] = f"2026-11-20 08:00:08 INFO so CCCD {CCCD} da xac minh"
    log[2] = "Nguyễn Thị Hồng Nhung nộp hồ sơ lúc 8 giờ"  # a name at the very start of a line
    log[10] = "2026-11-20 08:00:10 INFO ho so cua ông Trần Văn Bình da tiep nhan"
    root = repo(tmp_path, {"app.log": "\n".join(log) + "\n"})
    found = {(f.entity, f.line) for f in check(root).findings}
    assert found == {("VN_PHONE", 2), ("VN_CCCD", 9), ("PERSON", 3)}
