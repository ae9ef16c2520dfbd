"""Value matching the SQLite oracle cannot check, against hand-written expectations; wildcard properties."""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection

from sentinel.detect import Engine
from sentinel.detect.needs import literals_of


def engine_for(detection: dict[str, Any], **kw: Any) -> Engine:
    rule = {
        "title": "t",
        "id": "00000000-0000-4000-8000-00000000abcd",
        "logsource": {"product": "test"},
        "detection": detection,
    }
    return Engine.from_collection(SigmaCollection.from_dicts([rule], collect_errors=True), pipeline="none", **kw)


def matches(detection: dict[str, Any], event: dict[str, Any], **kw: Any) -> bool:
    engine = engine_for(detection, **kw)
    assert engine.problems == [], engine.problems
    return bool(engine.process([event]))


def test_keyword_detection_searches_every_field() -> None:
    det = {"keywords": ["sqlmap", "nikto*scan"], "condition": "keywords"}
    assert matches(det, {"user_agent": {"original": "SQLMap/1.7"}})
    assert matches(det, {"message": "found by Nikto web scan"})
    assert matches(det, {"tags": ["x", "SQLMAP"]})  # inside a list
    assert not matches(det, {"message": "nikto"})
    assert not matches(det, {"message": "nothing here"})
    # keyword and field selection together; numbers as keywords
    det = {"keywords": ["union"], "sel": {"http.response.status_code": 200}, "condition": "keywords and sel"}
    assert matches(det, {"url": {"query": "a UNION b"}, "http": {"response": {"status_code": 200}}})
    assert not matches(det, {"url": {"query": "a UNION b"}, "http": {"response": {"status_code": 500}}})
    assert matches({"k": [404], "condition": "k"}, {"http": {"response": {"status_code": 404}}})
    # keywords are found inside text; a cased keyword keeps case
    assert matches({"k": ["Admin"], "condition": "k"}, {"m": "xadminx"})
    det = {"k": {"|cased": ["Admin"]}, "condition": "k"}
    assert matches(det, {"m": "xAdminx"}) and not matches(det, {"m": "xadminx"})


def test_list_valued_fields_match_when_any_element_does() -> None:
    det = {"sel": {"event.category": "web"}, "condition": "sel"}
    assert matches(det, {"event": {"category": ["network", "WEB"]}})
    assert not matches(det, {"event": {"category": ["network"]}})
    # negation is "no element matches"
    assert not matches({"f": {"event.category": "web"}, "condition": "not f"}, {"event": {"category": ["x", "web"]}})
    # an empty list is null
    assert matches({"sel": {"event.category": None}, "condition": "sel"}, {"event": {"category": []}})
    assert matches({"sel": {"event.category|exists": False}, "condition": "sel"}, {"event": {"category": []}})
    # numbers and cidr in lists
    assert matches({"s": {"n|gt": 10}, "condition": "s"}, {"n": [1, 20]})
    assert matches({"s": {"ip|cidr": "10.0.0.0/8"}, "condition": "s"}, {"ip": ["192.168.1.1", "10.9.9.9"]})
    # fieldref compares any pair
    assert matches({"s": {"a|fieldref": "b"}, "condition": "s"}, {"a": ["x", "Y"], "b": ["y", "z"]})


def test_wide_and_utf16_without_base64() -> None:
    cmd_wide = "powershell".encode("utf-16le").decode("utf-8")
    assert matches({"s": {"f|wide|contains": "shell"}, "condition": "s"}, {"f": "xx" + cmd_wide})
    assert matches({"s": {"f|utf16le|contains": "shell"}, "condition": "s"}, {"f": cmd_wide})
    be = "powershell".encode("utf-16be").decode("utf-8")
    assert matches({"s": {"f|utf16be|contains": "power"}, "condition": "s"}, {"f": be})
    assert not matches({"s": {"f|utf16be|contains": "power"}, "condition": "s"}, {"f": cmd_wide})
    assert matches({"s": {"f|utf16|startswith": "po"}, "condition": "s"}, {"f": "\ufeff" + cmd_wide})
    assert not matches({"s": {"f|wide|contains": "shell"}, "condition": "s"}, {"f": "powershell"})


def test_base64_modifiers() -> None:
    encoded = base64.b64encode(b"cmd /c whoami && net user").decode()
    assert matches({"s": {"f|base64offset|contains": "whoami"}, "condition": "s"}, {"f": "x=" + encoded})
    assert matches({"s": {"f|base64": "whoami"}, "condition": "s"}, {"f": base64.b64encode(b"whoami").decode()})
    assert not matches({"s": {"f|base64": "whoami"}, "condition": "s"}, {"f": encoded})


def test_cidr_off_octet_boundaries_and_ipv6() -> None:
    det = {"s": {"ip|cidr": "10.0.0.0/15", "m": "GET"}, "condition": "s"}
    assert matches(det, {"ip": "10.1.200.3", "m": "get"})
    assert not matches(det, {"ip": "10.2.0.1", "m": "GET"})
    assert not matches(det, {"ip": "10.1.0.1", "m": "POST"})  # the AND binds (the SQL backend gets this wrong)
    assert not matches(det, {"ip": "10.1.0.1x", "m": "GET"})  # not an address
    v6 = {"s": {"ip|cidr": "2001:db8::/32"}, "condition": "s"}
    assert matches(v6, {"ip": "2001:0db8:0000::1"})  # non-canonical spelling still parses
    assert not matches(v6, {"ip": "2001:db9::1"})
    assert not matches(v6, {"ip": "10.0.0.1"})


def test_case_folding_is_unicode_aware() -> None:
    det = {"s": {"labels.province|contains": "hà nội"}, "condition": "s"}
    assert matches(det, {"labels": {"province": "Thành phố HÀ NỘI"}})
    assert not matches({"s": {"p|cased": "Hà Nội"}, "condition": "s"}, {"p": "HÀ NỘI"})


def test_type_coercions() -> None:
    assert matches({"s": {"code": 404}, "condition": "s"}, {"code": "404"})
    assert matches({"s": {"code": "404"}, "condition": "s"}, {"code": 404})
    assert not matches({"s": {"code": 1}, "condition": "s"}, {"code": True})  # a boolean is not a number
    assert matches({"s": {"ok": True}, "condition": "s"}, {"ok": "TRUE"})
    assert matches({"s": {"size|gte": 1.5}, "condition": "s"}, {"size": "2.25"})
    assert not matches({"s": {"size|gte": 1}, "condition": "s"}, {"size": "big"})
    assert matches({"s": {"t|hour": 3}, "condition": "s"}, {"t": "2026-01-01T10:15:00+07:00"})  # in UTC
    assert matches({"s": {"t|minute": 15}, "condition": "s"}, {"t": 1767262500000})  # epoch milliseconds


def test_several_conditions_are_alternatives() -> None:
    det = {"a": {"x": "1"}, "b": {"y": "2"}, "condition": ["a", "b"]}
    assert matches(det, {"y": "2"}) and matches(det, {"x": "1"}) and not matches(det, {"x": "2"})


def test_invalid_values_are_problems_not_crashes() -> None:
    engine = engine_for({"s": {"f|re": "(unclosed"}, "condition": "s"})
    assert engine.rules == [] and "unterminated subpattern" in engine.problems[0].reason
    engine = engine_for({"s": {"f|cidr": "10.0.0.300/8"}, "condition": "s"})
    assert engine.rules == [] and "CIDR" in engine.problems[0].reason


# --- wildcards and escaping (property tests) -----------------------------------------------------

ALPHABET = st.sampled_from(list("aAbB*?\\%_ .-'"))
texts = st.text(ALPHABET, max_size=8)


def escape(s: str) -> str:
    """A Sigma string that means exactly ``s`` (``\\``, ``*`` and ``?`` escaped)."""
    return s.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


@settings(max_examples=150, deadline=None)
@given(literal=texts, text=texts)
def test_escaped_literal_matches_only_itself(literal: str, text: str) -> None:
    det = {"s": {"f": escape(literal)}, "c": {"f|contains": escape(literal)}}
    exact = engine_for({**det, "condition": "s"})
    contains = engine_for({**det, "condition": "c"})
    ev = {"f": text}
    assert bool(exact.process([ev])) == (text.lower() == literal.lower())
    assert bool(contains.process([ev])) == (literal.lower() in text.lower())


@settings(max_examples=150, deadline=None)
@given(pattern=texts, text=texts, cased=st.booleans())
def test_wildcards_agree_with_sqlite_like_and_glob(pattern: str, text: str, cased: bool) -> None:
    """Any pattern (wildcards, escapes, LIKE metacharacters) matches as pySigma's SQL says."""
    field = "f|cased" if cased else "f"
    rule = {"title": "w", "logsource": {"product": "t"}, "detection": {"s": {field: pattern}, "condition": "s"}}
    (sql,) = sqliteBackend().convert(SigmaCollection.from_dicts([rule]))
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE logs (f TEXT COLLATE NOCASE)")
    conn.execute("INSERT INTO logs VALUES (?)", (text,))
    expected = bool(conn.execute(sql).fetchall())
    conn.close()
    engine = Engine.from_collection(SigmaCollection.from_dicts([rule]), pipeline="none")
    assert bool(engine.process([{"f": text}])) == expected, sql


# --- event view (dotted paths without flattening) -----------------------------------------------

keys = st.sampled_from(["a", "b", "c", "a.b", "b.c", "x"])
leaves = st.one_of(st.none(), st.integers(-5, 5), st.text("ab", max_size=2), st.lists(st.integers(0, 2), max_size=2))
documents = st.recursive(leaves, lambda inner: st.dictionaries(keys, inner, max_size=4), max_leaves=12).filter(
    lambda d: isinstance(d, dict)
)
paths = st.lists(st.sampled_from(["a", "b", "c", "x"]), min_size=1, max_size=4).map(".".join)


@settings(max_examples=300, deadline=None)
@given(doc=documents, path=paths)
@example(doc={"b.c": None, "b": {"c": 0}}, path="b.c")  # a literal dotted key holding null still wins
def test_event_view_reads_what_get_field_gives(doc: dict[str, Any], path: str) -> None:
    """The lazy view agrees with the foundation's lookups, dotted keys and nesting mixed."""
    from sentinel.detect.view import EventView
    from sentinel.ecs import flatten, get_field

    found = get_field(doc, path)
    expected = None if isinstance(found, dict) and found else found  # an object with fields is no value
    view = EventView(doc)
    assert view.get(path) == expected
    assert dict(view.items()) == flatten(doc)


@settings(max_examples=300, deadline=None)
@given(doc=documents, wanted=st.lists(paths, min_size=1, max_size=5))
@example(doc={"a": {"b.c": 0, "a": None, "b": 0}}, wanted=["a.b.c"])  # a leaf on the way, the rest one dotted key
def test_field_reader_agrees_with_the_view(doc: dict[str, Any], wanted: list[str]) -> None:
    from sentinel.detect.view import EventView, FieldReader

    assert FieldReader(wanted).read(EventView(doc)) == [EventView(doc).get(p) for p in wanted]


def test_regex_literals_index_the_rule_without_losing_unicode_case_folding() -> None:
    """Literals taken from a regex admit the rule, and non-ASCII text (which re folds) is still evaluated."""
    engine = engine_for({"s": {"f|re|i": r"un(?:i|x)on\s+select"}, "condition": "s"})
    (rule,) = engine.rules
    assert literals_of(rule.need) == ["select", "union", "unxon"]
    assert engine.process([{"f": "1 UNION  SELECT 2"}])
    assert not engine.process([{"f": "nothing to see"}])
    # Python's case-insensitive regex folds the long s and the Kelvin sign onto ASCII letters
    assert engine.process([{"f": "1 union ſelect 2"}])
    kelvin = engine_for({"s": {"f|re|i": "kelvin"}, "condition": "s"})
    assert kelvin.process([{"f": "\u212aelvin"}])


# Where a case-insensitive regex and its lower-cased literals can disagree: folded letters, non-ASCII spaces.
_FOLD_PIECES = st.sampled_from(
    ["union", "UNION", "unıon", "UNİON", "select", "ſelect", "SELECT", "'", '"', " ", "\t", "\xa0", "\u2003",
     "\u3000", "or", "OR", "||", "true", "TRUE", "admin", "ADMİN", "--", "kelvin", "\u212aelvin", "đăng", "Ký", "x"]
)  # fmt: skip
_FOLD_PATTERNS = [r"un(?:i|x)on\s+select", r"['\"]\s*(?:or|\|\|)\s*true", r"admin'\s*--", "kelvin", r"đăng\s*ký"]
_FOLD_ENGINES = [engine_for({"s": {"f|re|i": p}, "condition": "s"}) for p in _FOLD_PATTERNS]


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(_FOLD_PIECES, max_size=10), which=st.sampled_from(range(len(_FOLD_PATTERNS))))
@example(parts=["union", "\xa0", "select"], which=0)
@example(parts=["UNİON", " ", "ſelect"], which=0)
@example(parts=["'", "\u3000", "OR", "\u2003", "TRUE"], which=1)
@example(parts=["'", "\xa0", "or", " ", "true"], which=1)
@example(parts=["ADMİN", "'", "--"], which=2)
@example(parts=["\u212aelvin"], which=3)
@example(parts=["đăng", "\xa0", "Ký"], which=4)
def test_the_literals_of_a_regex_never_keep_it_from_a_value_it_matches(parts: list[str], which: int) -> None:
    """Prefilter and gate trust a regex's ASCII literals only where no character folds onto them: exact."""
    import regex

    text = "".join(parts)
    expected = regex.search(_FOLD_PATTERNS[which], text, regex.IGNORECASE) is not None
    assert bool(_FOLD_ENGINES[which].process([{"f": text}])) is expected


def test_non_ascii_text_without_folding_characters_skips_the_regex() -> None:
    """Vietnamese text lacking the rule's literals does not admit the rule (its time-boxed search is the cost)."""
    prefilter = _FOLD_ENGINES[0]._all
    assert prefilter.candidates_plain({"f": "tra cứu hồ sơ đăng ký kết hôn"}) == []
    assert prefilter.candidates_plain({"f": "tra cứu\u00a0hồ sơ"}) == [0]  # a non-ASCII space: \s may match it
    assert prefilter.candidates_plain({"f": "UNION select"}) == [0]
