"""The shipped rule pack and the pack tooling: loading, test events, test runner, lint."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from sentinel.config import DEFAULT_CONTENT_DIR
from sentinel.content import ContentError
from sentinel.detect.pack import (
    TEST_EPOCH,
    RuleTests,
    Scenario,
    case_events,
    lint,
    load_pack,
    parse_duration,
    rule_translations,
    run_tests,
)

RULES = DEFAULT_CONTENT_DIR / "rules"
FAMILIES = {"web", "auth", "data", "network", "firewall", "host"}


@pytest.fixture(scope="module")
def pack():
    return load_pack([RULES])


def test_pack_loads_without_errors_and_has_40_alerting_rules(pack):
    assert pack.errors == []
    alerting = [r for r in pack.rules if r.rule.level and r.rule.level.name.lower() != "informational"]
    assert len(alerting) >= 40
    assert {r.path.parent.name for r in pack.rules} == FAMILIES
    assert sum(1 for r in pack.rules if r.is_correlation) >= 12


def test_every_shipped_test_case_passes(pack):
    results = run_tests(pack)
    failed = [f"{r.where} {r.rule.title} {r.kind}[{r.index}]: {r.detail}" for r in results if not r.passed]
    assert failed == []
    assert len(results) >= 150
    # every rule, correlation inputs included, has both kinds of cases
    every = {r.id for r in pack.rules}
    assert {r.rule.id for r in results if r.kind == "match"} == every
    assert {r.rule.id for r in results if r.kind == "no_match"} == every


def test_shipped_pack_is_lint_clean(pack):
    assert [str(i) for i in lint(pack)] == []


def _copy_rule(tmp_path: Path, family: str, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(RULES / family / name, target)
    return target


def test_a_broken_detection_fails_its_match_cases(tmp_path):
    path = _copy_rule(tmp_path, "web", "web_scanner_user_agent.yml")
    path.write_text(path.read_text().replace("- 'sqlmap'", "- 'sqlmapx'").replace("- 'nikto'", "- 'niktox'"))
    results = run_tests(load_pack([path]))
    failed = [r for r in results if not r.passed]
    assert [(r.kind, r.index) for r in failed] == [("match", 0), ("match", 1)]
    assert "expected an alert" in failed[0].detail
    assert failed[0].where.startswith(f"{path}:")


def test_a_too_broad_detection_fails_its_no_match_cases(tmp_path):
    path = _copy_rule(tmp_path, "web", "web_unusual_http_method.yml")
    path.write_text(path.read_text().replace("      - SEARCH\n", "      - SEARCH\n      - GET\n"))
    failed = [r for r in run_tests(load_pack([path])) if not r.passed]
    assert [(r.kind, r.index) for r in failed] == [("no_match", 0)]


def test_a_wrong_logsource_is_caught_by_the_tests(tmp_path):
    # the detection would match, but routing sends web events elsewhere: tests run with log-source routing
    path = _copy_rule(tmp_path, "web", "web_jndi_injection.yml")
    path.write_text(path.read_text().replace("  category: webserver", "  category: firewall"))
    failed = [r for r in run_tests(load_pack([path])) if not r.passed]
    assert {r.kind for r in failed} == {"match"}


def test_correlation_tests_need_the_base_rule_from_another_file(tmp_path):
    only = _copy_rule(tmp_path, "auth", "auth_bruteforce_account.yml")
    results = run_tests(load_pack([only]))
    assert results and all(not r.passed for r in results)
    assert "not evaluable" in results[0].detail
    _copy_rule(tmp_path, "auth", "auth_login_failure_base.yml")
    assert all(r.passed for r in run_tests(load_pack([tmp_path])))


def test_malformed_tests_are_reported_with_file_and_line(tmp_path):
    path = tmp_path / "bad_tests_rule.yml"
    path.write_text(
        "title: t\nid: 7f0c6f0e-8b1f-4b43-9b5f-5e7b8e2b9a01\nlogsource: {category: webserver}\n"
        "detection:\n  sel: {cs-method: PUT}\n  condition: sel\nlevel: low\n"
        "tests:\n  match:\n    - steps:\n        - repeat: 0\n          event: {a: 1}\n  no_match: [{a: 2}]\n"
    )
    pack = load_pack([path])
    assert pack.rules == []
    (err,) = pack.errors
    assert isinstance(err, ContentError)
    assert err.line == 11
    assert "repeat" in err.reason


def test_yaml_syntax_error_and_missing_path(tmp_path):
    (tmp_path / "broken_rule_file.yml").write_text("title: [unclosed\n")
    pack = load_pack([tmp_path])
    assert len(pack.errors) == 1 and pack.errors[0].line == 2
    with pytest.raises(ContentError, match="no such file"):
        load_pack([tmp_path / "missing"])


def test_lint_reports_metadata_attack_uniqueness_and_missing_tests(tmp_path):
    rule = (
        "title: {title}\nid: 7f0c6f0e-8b1f-4b43-9b5f-5e7b8e2b9a02\nstatus: test\ndescription: d\nauthor: a\n"
        "date: 2026-07-01\nlogsource: {{category: webserver}}\ndetection:\n  sel: {{cs-method: PUT}}\n"
        "  condition: sel\nlevel: low\ntags: [{tags}]\n"
    )
    (tmp_path / "first_rule_one.yml").write_text(rule.format(title="one", tags="attack.initial-access, attack.t9999"))
    (tmp_path / "second_rule_two.yml").write_text(rule.format(title="two", tags="attack.t1190"))
    issues = lint(load_pack([tmp_path]))
    text = "\n".join(str(i) for i in issues)
    assert "no technique T9999" in text
    assert "missing falsepositives" in text
    assert "no ATT&CK tactic tag" in text  # rule two
    assert "is also used by" in text  # same id twice
    assert "no tests" in text
    assert all(i.where.startswith(str(tmp_path)) for i in issues)


def test_lint_warns_when_technique_and_tactic_disagree(tmp_path):
    path = _copy_rule(tmp_path, "web", "web_unusual_http_method.yml")
    path.write_text(path.read_text().replace("attack.reconnaissance", "attack.impact"))
    issues = lint(load_pack([path]))
    assert [(i.check, i.severity) for i in issues] == [("attack", "warning")]
    assert "T1595.002 belongs to reconnaissance" in issues[0].message


def test_every_rule_has_its_vietnamese_title_and_description(pack):
    table = rule_translations([RULES])
    assert set(table) == {r.id for r in pack.rules}
    for r in pack.rules:
        vi = r.translations["vi"]
        assert vi == table[r.id]["vi"]
        # pySigma keeps the table as a custom attribute: the file stays valid Sigma for other tools
        assert r.rule.custom_attributes["translations"]["vi"]["title"] == vi.title
        assert vi.title != r.title and vi.description.strip() != str(r.rule.description).strip()
        # a rule is "quy tắc" to a Vietnamese analyst; "Luật" is only a law's name
        assert not re.search(r"luật(?! Bảo vệ| \d)", vi.title + vi.description, re.I), r.where


def test_translations_are_validated_with_file_and_line(tmp_path):
    source = (RULES / "web" / "web_unusual_http_method.yml").read_text(encoding="utf-8")
    assert "\n  vi:\n" in source
    cases = {
        "fr": (source.replace("\n  vi:\n", "\n  fr:\n"), "'fr' is not a language to translate into: use vi"),
        "typo": (source.replace("\n    title: ", "\n    titel: "), "translations.vi.titel: Extra inputs"),
        "empty": (source.replace("\n    description: >-\n", "\n    description: ''\n    x: >-\n"), "translations.vi"),
    }
    for name, (text, reason) in cases.items():
        path = tmp_path / f"rule_{name}.yml"
        path.write_text(text, encoding="utf-8")
        pack = load_pack([path])
        assert pack.rules == [], name
        (err,) = pack.errors
        assert reason in str(err), (name, str(err))
        assert err.line and err.line > 1 and str(err).startswith(f"{path}:{err.line}: "), (name, str(err))
        assert rule_translations([path]) == {}  # the page shows the English text; lint says why


def test_lint_wants_every_language_and_flags_a_copied_title(tmp_path):
    source = (RULES / "web" / "web_unusual_http_method.yml").read_text(encoding="utf-8")
    start = source.index("translations:")
    without = tmp_path / "rule_without.yml"
    without.write_text(source[:start] + source[source.index("author:") :], encoding="utf-8")
    (issue,) = lint(load_pack([without]))
    assert (issue.check, issue.severity) == ("translation", "error")
    assert "no Vietnamese title and description: add translations: {vi: {title: ..., description: ...}}" in str(issue)
    copied = tmp_path / "rule_copied.yml"
    title = source.split("\n", 1)[0].removeprefix("title: ")
    copied.write_text(source.replace(source[start:].split("\n")[2], f'    title: "{title}"', 1), encoding="utf-8")
    (issue,) = lint(load_pack([copied]))
    assert (issue.check, issue.severity, issue.message) == ("translation", "warning", "the vi title is the English one")
    assert issue.where == f"{copied}:{source[:start].count(chr(10)) + 3}"


def test_case_events_expand_steps_deterministically():
    tests = RuleTests.model_validate(
        {
            "base": {"event": {"dataset": "nginx.access"}, "source.ip": "10.0.0.1"},
            "match": [
                {
                    "steps": [
                        {"repeat": 3, "every": "10s", "event": {"user.name": "a"}, "vary": {"destination.port": "{n}"}},
                        {
                            "after": "5m",
                            "repeat": 4,
                            "vary": {"url.path": "/x/{n:02d}", "user.name": ["b", "c"]},
                            "cycle": 2,
                        },
                    ]
                }
            ],
            "no_match": [{"user.name": "z", "@timestamp": "2026-07-01T16:00:00.000Z"}],
        }
    )
    assert isinstance(tests.match[0], Scenario)
    events = case_events(tests, tests.match[0], "label")
    assert len(events) == 7
    assert [e["destination"]["port"] for e in events[:3]] == [0, 1, 2]
    assert [e["url"]["path"] for e in events[3:]] == ["/x/00", "/x/01", "/x/00", "/x/01"]
    assert [e["user"]["name"] for e in events] == ["a", "a", "a", "b", "c", "b", "c"]
    assert events[0]["@timestamp"] == "2026-07-01T02:00:00.000Z" == TEST_EPOCH.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert events[3]["@timestamp"] == "2026-07-01T02:05:30.000Z"  # 3 x 10s, then 5m gap
    assert all(e["event"]["dataset"] == "nginx.access" and e["source"]["ip"] == "10.0.0.1" for e in events)
    ids = [e["event"]["id"] for e in events]
    assert len(set(ids)) == 7 and ids == [e["event"]["id"] for e in case_events(tests, tests.match[0], "label")]
    (single,) = case_events(tests, tests.no_match[0], "other")
    assert single["@timestamp"] == "2026-07-01T16:00:00.000Z"


def test_durations():
    assert parse_duration("250ms").total_seconds() == 0.25
    assert parse_duration("2h").total_seconds() == 7200
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("5 minutes")
