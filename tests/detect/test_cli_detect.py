"""``sentinel detect``, ``sentinel rules test|lint|check`` end to end through the real CLI."""

from __future__ import annotations

import gzip
import json
import re
import shutil

import pytest
from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.config import DEFAULT_CONTENT_DIR

RULES = DEFAULT_CONTENT_DIR / "rules"

ACCESS_LOG = (
    '203.0.113.50 - - [01/Jul/2026:09:00:01 +0700] "GET /dich-vu-cong/ho-so/tra-cuu?maHoSo=1%27%20UNION%20SELECT'
    '%20NULL-- HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'
    '14.161.2.3 - - [01/Jul/2026:09:00:02 +0700] "GET /dich-vu-cong/ho-so/tra-cuu?maHoSo=000.00.01.H29-260701-0001 '
    'HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'
    "this is not a log line\n"
    '198.51.100.60 - - [01/Jul/2026:09:00:03 +0700] "GET /tai-lieu/tai-ve?tep=../../../../etc/passwd HTTP/1.1" 404 0 '
    '"-" "curl/8.0"\n'
)


def _run(args, input=None):
    return CliRunner().invoke(cli, args, input=input)


def _alerts(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture
def access_log(tmp_path):
    path = tmp_path / "access.log"
    path.write_text(ACCESS_LOG)
    return path


def test_detect_prints_one_json_alert_per_line_with_the_contract_fields(access_log):
    result = _run(["detect", "--rules", str(RULES), str(access_log)])
    assert result.exit_code == 0, result.output
    alerts = _alerts(result.stdout)
    titles = sorted(a["rule"]["title"] for a in alerts)
    assert titles == [
        "Path traversal or local file read attempt against the portal",
        "SQL injection with UNION SELECT in a portal query string",
    ]
    for a in alerts:
        assert {"id", "title", "level", "tags"} <= a["rule"].keys()
        assert a["rule"]["tags"] and a["rule"]["level"] == "high"
        assert a["@timestamp"].endswith("Z")
        (event,) = a["events"]
        assert event["event"]["id"] and event["source"]["ip"] in ("203.0.113.50", "198.51.100.60")
        assert event["url"]["original"].startswith(("/dich-vu-cong", "/tai-lieu"))
    sqli = next(a for a in alerts if "UNION" in a["rule"]["title"])
    assert sqli["@timestamp"] == "2026-07-01T02:00:01.000Z"
    # the unparsable line is reported with its place, not dropped silently
    assert f"{access_log}:3: skipped: not an access-log line" in result.stderr
    assert "3 events, 1 unparsable lines, 2 alerts" in result.stderr


def test_detect_correlation_from_json_app_logs(tmp_path):
    lines = [
        json.dumps(
            {
                "@timestamp": f"2026-07-01T02:00:{i:02d}Z",
                "action": "login",
                "outcome": "failure",
                "user": "001090012345",
                "ip": f"113.161.10.{i % 3}",
            }
        )
        for i in range(12)
    ]
    path = tmp_path / "portal.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = _run(["detect", "--rules", str(RULES / "auth"), str(path)])
    assert result.exit_code == 0, result.output
    (alert,) = [a for a in _alerts(result.stdout) if a["rule"]["title"] == "Brute force against one portal account"]
    assert alert["entity"] == {"user.name": "001090012345"}
    assert alert["count"] >= 10 and len(alert["events"]) >= 10
    assert all(e["event"]["id"] for e in alert["events"])


def test_pipeline_none_takes_json_fields_as_they_are_and_ignores_logsource(tmp_path):
    rule = tmp_path / "windows_rule_raw.yml"
    rule.write_text(
        "title: Raw field rule\nid: 0d5d6a4e-6c55-4b8e-9a57-1d2f0b6c9e11\nlogsource: {product: windows, "
        "service: security}\ndetection:\n  sel:\n    CommandLine|contains: mimikatz\n    EventID: 4688\n"
        "  condition: sel\nlevel: high\n"
    )
    events = tmp_path / "raw.jsonl"
    events.write_text(
        '{"EventID": 4688, "CommandLine": "C:\\\\tools\\\\MIMIKATZ.exe", "source.ip": "10.1.1.1"}\n'
        '{"EventID": 4624, "CommandLine": "mimikatz"}\n'
        "{not json\n"
        "[1, 2]\n"
    )
    result = _run(["detect", "--pipeline", "none", "--rules", str(rule), str(events)])
    assert result.exit_code == 0, result.output
    (alert,) = _alerts(result.stdout)
    assert alert["events"] == [{"EventID": 4688, "CommandLine": "C:\\tools\\MIMIKATZ.exe", "source.ip": "10.1.1.1"}]
    assert alert["entity"] == {"source.ip": "10.1.1.1"}
    assert f"{events}:3: skipped: invalid JSON" in result.stderr
    assert f"{events}:4: skipped: expected a JSON object, got list" in result.stderr
    # with the ecs pipeline the same rule does not apply (log source windows/security is not routed here)
    ecs = _run(["detect", "--pipeline", "ecs", "--rules", str(rule), str(events)])
    assert _alerts(ecs.stdout) == []


def test_table_format_gzip_and_stdin(access_log, tmp_path):
    gz = tmp_path / "access.log.gz"
    gz.write_bytes(gzip.compress(access_log.read_bytes()))
    result = _run(["detect", "--format", "table", "--rules", str(RULES / "web"), str(gz)])
    assert result.exit_code == 0, result.output
    assert "@timestamp" in result.stdout.splitlines()[0]
    assert "SQL injection with UNION SELECT" in result.stdout
    piped = _run(["detect", "--rules", str(RULES / "web"), "-"], input=ACCESS_LOG)
    assert len(_alerts(piped.stdout)) == 2


def test_detect_errors_are_clear(tmp_path, access_log):
    missing = _run(["detect", "--rules", str(RULES), str(tmp_path / "nope.log")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    empty = tmp_path / "empty_rules"
    empty.mkdir()
    none = _run(["detect", "--rules", str(empty), str(access_log)])
    assert none.exit_code == 2 and "no evaluable rules" in none.output


def test_rules_test_and_lint_commands(tmp_path):
    ok = _run(["rules", "test", str(RULES / "firewall")])
    assert ok.exit_code == 0, ok.output
    assert "0 failed" in ok.output
    one = _run(["rules", "test", "--only", "auth_bruteforce_account", str(RULES)])
    assert one.exit_code == 0 and "1 rules, 3 cases: 3 passed" in one.output
    assert _run(["rules", "test", "--only", "no-such-rule", str(RULES)]).exit_code == 2
    broken = tmp_path / "web_scanner_user_agent.yml"
    shutil.copy(RULES / "web" / "web_scanner_user_agent.yml", broken)
    broken.write_text(broken.read_text().replace("- 'sqlmap'", "- 'sqlmapx'"))
    bad = _run(["rules", "test", "--format", "jsonl", str(broken)])
    assert bad.exit_code == 1
    rows = [json.loads(line) for line in bad.stdout.splitlines()]
    assert [r["case"] for r in rows if not r["passed"]] == ["match[0]"]
    lint = _run(["rules", "lint", str(broken)])
    assert lint.exit_code == 1 and "[tests]" in lint.output and "match case 1" in lint.output


def test_rules_check_reports_each_rule_with_the_reason(tmp_path):
    shutil.copy(RULES / "web" / "web_xss_payload.yml", tmp_path / "web_xss_payload.yml")
    (tmp_path / "bad_condition_rule.yml").write_text(
        "title: Bad condition\nid: 1c7d1a0e-6c55-4b8e-9a57-1d2f0b6c9e12\nlogsource: {category: webserver}\n"
        "detection:\n  sel: {cs-method: PUT}\n  condition: sel and missing\nlevel: low\n"
    )
    (tmp_path / "orphan_correlation.yml").write_text(
        "title: Orphan\nid: 2c7d1a0e-6c55-4b8e-9a57-1d2f0b6c9e13\ncorrelation:\n  type: event_count\n"
        "  rules: [no_such_rule]\n  group-by: [source.ip]\n  timespan: 5m\n  condition: {gte: 3}\nlevel: low\n"
    )
    result = _run(["rules", "check", "--format", "jsonl", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = {r["rule.title"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["Cross-site scripting payload in a portal request"]["evaluable"] is True
    assert rows["Bad condition"]["evaluable"] is False and "missing" in rows["Bad condition"]["reason"]
    assert rows["Orphan"]["evaluable"] is False and rows["Orphan"]["reason"]
    assert "3 rules: 1 evaluable, 2 not evaluable" in result.stderr


def test_inputs_are_merged_by_event_time_so_correlations_see_every_file(tmp_path):
    # the access log covers a whole hour; the app log's burst sits in its middle: read one file after
    # the other, the burst would be an hour "late" for the correlation windows
    access = tmp_path / "access.log"
    access.write_text(
        "".join(
            f'14.161.2.{m} - - [01/Jul/2026:09:{m:02d}:00 +0700] "GET /dich-vu-cong HTTP/1.1" 200 5 "-" "Mozilla/5.0"\n'
            for m in range(60)
        )
    )
    app = tmp_path / "portal.jsonl"
    app.write_text(
        "\n".join(
            json.dumps(
                {
                    "@timestamp": f"2026-07-01T02:10:{i:02d}Z",
                    "action": "login",
                    "outcome": "failure",
                    "user": "cb.79.101",
                    "ip": "45.1.2.3",
                }
            )
            for i in range(12)
        )
        + "\n"
    )
    result = _run(["detect", "--rules", str(RULES / "auth"), str(access), str(app)])
    assert result.exit_code == 0, result.output
    titles = {a["rule"]["title"] for a in _alerts(result.stdout)}
    assert "Brute force against one portal account" in titles
    assert "warning" not in result.stderr
    # one stream that really is out of order is reported, not silently miscounted
    late = tmp_path / "late.jsonl"
    late.write_text(
        app.read_text()
        + json.dumps(
            {
                "@timestamp": "2026-07-01T01:00:00Z",
                "action": "login",
                "outcome": "failure",
                "user": "x",
                "ip": "1.1.1.1",
            }
        )
        + "\n"
    )
    result = _run(["detect", "--rules", str(RULES / "auth"), str(late)])
    assert re.search(r"warning: \d+ rule matches came more than 60s behind", result.stderr)
