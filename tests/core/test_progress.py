"""Progress of long commands: a bar on standard error when it is a terminal, nothing when piped or ``--quiet``,
and one summary line at the end every time (read, written, errors, time, rate)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.terminal import REPO, assert_progress_only_on_a_terminal, piped, sentinel_env, three_ways

CCCD = "001099012345"  # a valid shape, no real person


def _portal_log(tmp_path: Path, lines: int) -> Path:
    path = tmp_path / "access.log"
    row = '203.0.113.{n} - - [01/Jul/2026:10:00:{s:02d} +0700] "GET /dvc/{i} HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'
    path.write_text("".join(row.format(n=i % 250, s=i % 60, i=i) for i in range(lines)), encoding="utf-8")
    return path


def test_ingest(tmp_path: Path) -> None:
    log = _portal_log(tmp_path, 5_000)
    env = sentinel_env(tmp_path / "data")
    seen = three_ways(["ingest", "--no-detect", str(log)], env, tmp_path)
    assert_progress_only_on_a_terminal(seen, "ingest", "read 5,000")
    assert "bytes/s" in seen.terminal and "lines/s" in seen.piped  # the bar counts bytes, the summary lines
    forced = piped(["ingest", "--no-detect", str(log)], {**env, "SENTINEL_PROGRESS": "1"}, tmp_path)
    assert forced.returncode == 0 and "ingest: " in forced.stderr and " bytes (" in forced.stderr  # plain lines


def test_anonymize(tmp_path: Path) -> None:
    src = tmp_path / "forms.jsonl"
    src.write_text("".join(json.dumps({"id": i, "cccd": CCCD}) + "\n" for i in range(2000)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["anonymize", str(src), "--purpose", "triage", "-o", str(out)]
    seen = three_ways(args, sentinel_env(tmp_path / "data"), tmp_path)
    assert_progress_only_on_a_terminal(seen, "anonymize", "anonymize: 2,000 records for triage written to")
    assert "records/s" in seen.piped and "VN_CCCD 2,000" in seen.piped
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2000 and CCCD not in out.read_text(encoding="utf-8")


def test_classify_scan_of_a_database(tmp_path: Path) -> None:
    db = tmp_path / "portal.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE cong_dan (id INTEGER PRIMARY KEY, ho_ten TEXT, so_cccd TEXT, ghi_chu TEXT)")
    con.executemany(
        "INSERT INTO cong_dan(ho_ten, so_cccd, ghi_chu) VALUES (?, ?, ?)",
        [("Nguyễn Văn An", f"0010990{i:05d}", "đã nhận hồ sơ") for i in range(400)],
    )
    con.execute("CREATE TABLE ho_so (ma_ho_so TEXT, trang_thai TEXT)")
    con.executemany("INSERT INTO ho_so VALUES (?, ?)", [(f"HS-{i}", "da_nhan") for i in range(50)])
    con.commit()
    con.close()
    args = ["classify", "scan", f"sqlite:///{db}", "--no-save", "--sample", "40", "--format", "json"]
    seen = three_ways(args, sentinel_env(tmp_path / "data"), tmp_path)
    assert_progress_only_on_a_terminal(seen, "classify scan", "classify scan: 2 datasets, 80 rows sampled")
    assert "6 fields, 2 with personal data" in seen.piped and "fields/s" in seen.piped
    assert "classify scan ho_so" in seen.terminal  # the table being classified (the last one), not the whole URL


def test_policy_check_of_a_tree(tmp_path: Path) -> None:
    tree = tmp_path / "repo"
    tree.mkdir()
    for i in range(10):
        (tree / f"t{i}.csv").write_text("ma_ho_so,trang_thai\nHS-001,da_nhan\n", encoding="utf-8")
    env = sentinel_env(tmp_path / "data")
    seen = three_ways(["policy", "check", str(tree), "--jobs", "1"], env, tmp_path)
    assert_progress_only_on_a_terminal(seen, "policy check", "10 files")
    forced = piped(["policy", "check", str(tree), "--jobs", "1"], {**env, "SENTINEL_PROGRESS": "1"}, tmp_path)
    assert "policy check: 1 of 10 files" in forced.stderr


def test_rules_check_of_a_rule_tree(tmp_path: Path) -> None:
    rules = str(REPO / "rules")
    seen = three_ways(["rules", "check", rules, "--problems-only"], sentinel_env(tmp_path / "data"), tmp_path)
    files = sum(1 for f in (REPO / "rules").rglob("*") if f.suffix in (".yml", ".yaml"))
    assert_progress_only_on_a_terminal(seen, "rules check", f"{files:,} files in ")
    assert "files/s" in seen.piped
