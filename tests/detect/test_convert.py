"""Conversion to Elasticsearch: ES|QL with Sigma semantics, log-source conditions, targets, CLI."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection

from sentinel.cli.main import cli
from sentinel.config import DEFAULT_CONTENT_DIR
from sentinel.detect.convert import DEFAULT_INDEX, convert_rules
from sentinel.detect.lucene_regex import UnsupportedRegex, to_lucene
from sentinel.detect.pack import load_pack

RULES = DEFAULT_CONTENT_DIR / "rules"


def _rule(detection: str, logsource: str = "{category: webserver}") -> list:
    return SigmaCollection.from_yaml(
        f"title: t\nid: 5f1c1d5e-1111-4222-8333-444455556666\nlogsource: {logsource}\ndetection:\n{detection}"
    ).rules


def _esql(detection: str, logsource: str = "{category: webserver}") -> str:
    (res,) = convert_rules(_rule(detection, logsource), "esql")
    assert res.error is None, res.error
    (query,) = res.queries
    return query


# --- Lucene regex translation -------------------------------------------------------------------

PATTERNS = [
    r"union(?:\s|\+|%20|/\*.*?\*/)+(?:all(?:\s|\+)+)?select",
    r"(?:^|&)(?:page_?size|limit)=\d{4,}(?:&|$)",
    r"^/api/v1/(?:ho-so|cong-dan)/[^/]+$",
    r"T(?:1[5-9]|2[0-2]):",
    r"(?:file(?:name)?|tenTep)=[^&]*\.(?:jspx?|php\d?)(?:&|$|%00)",
    r"^[A-Za-z0-9+/=_-]{3,6}\.",
    r"a@b#c<d>e~f&g",
    r'x"y',
    r"[^a-c]x?$",
    r"ab|cd",  # top-level alternation: each alternative is searched on its own
    r"^ab|cd$|x\d",
]
ALPHABET = "aAbBcCxXyY0123456789&=.%/_-+*@#<>~\"' TtuUnNiIoOsSeElLpPgGzZ:fFhHjJ"


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=30), which=st.integers(0, len(PATTERNS) - 1), icase=st.booleans())
def test_lucene_translation_keeps_the_match_set(text, which, icase):
    """Lucene's regex matches the whole value; for this subset its syntax is also valid Python, so
    a full match of the translation must agree with Sigma's unanchored search of the original."""
    pattern = PATTERNS[which]
    lucene = to_lucene(pattern, icase)
    expected = re.search(pattern, text, re.IGNORECASE if icase else 0) is not None
    assert (re.fullmatch(lucene, text, re.DOTALL) is not None) == expected, lucene


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("union.*select", "1 UNION SELECT 2"),
        ("(?:^|&)cmd=", "cmd=whoami"),
        ("(?:^|&)cmd=", "a=1&CMD=x"),
        (r"(?:^|&)id=\d+(?:&|$)", "A=1&ID=5"),
    ],
)
def test_case_insensitive_examples(pattern, text):
    assert re.fullmatch(to_lucene(pattern, True), text, re.DOTALL)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"foo(?=bar)", "look-around"),
        (r"\bword\b", "word boundary"),
        (r"(a)\1", "back-references"),
        (r"a^b", "'^' inside"),
        (r"a$b", "'$' inside"),
    ],
)
def test_constructs_lucene_cannot_express_are_refused(pattern, why):
    with pytest.raises(UnsupportedRegex, match=re.escape(why)):
        to_lucene(pattern)


def test_reserved_lucene_characters_are_escaped():
    assert to_lucene("a@b") == r".*a\@b.*"
    assert to_lucene("^x&y$") == r"x\&y"


# --- ES|QL backend --------------------------------------------------------------------------------


def test_strings_compare_lowered_values_on_lowered_fields():
    q = _esql("  sel:\n    cs-uri-query|contains: 'UNION Select'\n    cs-method: PoSt\n  condition: sel")
    assert 'TO_LOWER(url.query) like "*union select*"' in q
    assert 'TO_LOWER(http.request.method) like "post"' in q
    assert "==" not in q and " in (" not in q  # no case-sensitive equality or IN lists


def test_cased_values_compare_exactly():
    q = _esql("  sel:\n    cs-method|cased: PUT\n  condition: sel")
    assert 'http.request.method like "PUT"' in q
    assert "TO_LOWER(http.request.method)" not in q


def test_literal_backslash_quote_and_wildcards_are_escaped_for_like_and_the_string():
    q = _esql("  sel:\n    cs-uri-query|contains:\n      - '..\\'\n      - 'a\\*b'\n      - 'x\"y'\n  condition: sel")
    # LIKE pattern *..\\* (a literal backslash) written as an ES|QL string literal
    assert r'like "*..\\\\*"' in q
    # Sigma \* is a literal asterisk: escaped for LIKE (\*), then for the string (\\*)
    assert r'like "*a\\*b*"' in q
    assert r'like "*x\"y*"' in q


def test_regex_goes_through_the_lucene_translation_and_to_string():
    q = _esql("  sel:\n    '@timestamp|re': 'T(?:1[5-9]|2[0-2]):'\n  condition: sel")
    assert 'TO_STRING(`@timestamp`) rlike ".*T(1[5-9]|2[0-2]):.*"' in q


def test_logsource_becomes_conditions_from_the_engines_routing_table():
    q = _esql("  sel:\n    event.outcome: failure\n  condition: sel", "{product: portal, category: authentication}")
    assert q.startswith(f"from {DEFAULT_INDEX} metadata _id, _index, _version | where ")
    # event.category is a list: any of its values, joined (ES|QL's LIKE is null on a multi-valued field)
    assert 'CONCAT("␟", TO_LOWER(MV_CONCAT(TO_STRING(event.category), "␟")), "␟") rlike ".*␟authentication␟.*"' in q
    assert '(TO_LOWER(event.dataset) like "portal.access" or TO_LOWER(event.dataset) like "portal.app"' in q
    unrouted = _esql("  sel:\n    a: b\n  condition: sel", "{product: nothing_routes_here}")
    assert 'sentinel.unrouted_logsource.product) like "nothing_routes_here"' in unrouted


def test_index_is_configurable():
    (res,) = convert_rules(_rule("  sel:\n    cs-method: PUT\n  condition: sel"), "esql", index="logs-sentinel.nginx*")
    assert res.queries[0].startswith("from logs-sentinel.nginx* ")


@pytest.fixture(scope="module")
def pack_rules():
    return [r.rule for r in load_pack([RULES]).rules]


def test_whole_pack_converts_to_esql_with_correlations_as_stats(pack_rules):
    results = convert_rules(pack_rules, "esql")
    assert [r.error for r in results if r.error] == []
    assert len(results) >= 40  # base rules used only by correlations are not output
    spraying = next(r for r in results if r.rule.title.startswith("Password spraying"))
    (q,) = spraying.queries
    assert "stats value_count=count_distinct(user.name)" in q and "by timebucket, source.ip" in q
    assert q.rstrip().endswith("where value_count >= 10")


def test_lucene_and_eql_report_what_they_cannot_convert(pack_rules):
    lucene = convert_rules(pack_rules, "lucene")
    failed = [r for r in lucene if r.error]
    assert failed and all("correlation" in r.error for r in failed)
    # the UNION SELECT rule becomes a case-insensitive regular expression on the query string
    (union,) = [r for r in lucene if r.rule.title.startswith("SQL injection with UNION SELECT")]
    assert not union.error and "url.query:/.*[uU][nN][iI][oO][nN]" in union.queries[0]
    eql = convert_rules(pack_rules, "eql")
    assert any(r.error for r in eql) and any(not r.error for r in eql)


def test_kibana_ndjson_targets_sentinel_index(pack_rules):
    results = [r for r in convert_rules(pack_rules, "kibana-ndjson", index="logs-sentinel.*") if not r.error]
    obj = results[0].queries[0]
    obj = obj[0] if isinstance(obj, list) else obj
    source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert source["index"] == "logs-sentinel.*"


def test_unknown_target():
    with pytest.raises(ValueError, match="unknown target"):
        convert_rules([], "splunk")


def test_cli_convert_writes_queries_and_reports_failures(tmp_path):
    out = tmp_path / "queries.esql"
    result = CliRunner().invoke(cli, ["rules", "convert", "--target", "esql", "-o", str(out), str(RULES / "auth")])
    assert result.exit_code == 0, result.output
    assert "converted to esql" in result.output
    text = out.read_text()
    assert text.count("from logs-sentinel.*") >= 8
    result = CliRunner().invoke(cli, ["rules", "convert", "--target", "lucene", str(RULES / "auth")])
    assert "not converted:" in result.output and "correlation" in result.output


def test_lucene_target_matches_strings_case_insensitively_with_regexes():
    (res,) = convert_rules(
        _rule("  sel:\n    cs-uri-query|contains: 'UNION Select/'\n    sc-status: 200\n  condition: sel"), "lucene"
    )
    (query,) = res.queries
    regex = re.search(r"url\.query:/(.*?)/ AND", query).group(1)
    # Lucene regexes match the whole value; this subset is also Python syntax
    for text, expected in [("id=1 union SELECT/x", True), ("UNION SELECT/", True), ("union select", False)]:
        assert (re.fullmatch(regex, text) is not None) == expected, text
    assert "http.response.status_code:200" in query
    digits = convert_rules(_rule("  sel:\n    cs-uri-query|contains: '1234'\n  condition: sel"), "lucene")[0]
    assert "url.query:*1234*" in digits.queries[0]  # nothing to fold: pySigma's plain wildcard


def test_eql_regex_is_translated_and_string_escaped():
    (res,) = convert_rules(_rule("  sel:\n    cs-uri-query|re: '(?:^|&)id=\\d+'\n  condition: sel"), "eql")
    (query,) = res.queries
    assert 'url.query regex "(()|.*\\\\&)id=\\\\d+.*"' in query
    assert 'event.category:"web"' in query  # EQL's ":" already compares case-insensitively
