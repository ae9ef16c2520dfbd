"""Differential test: the ES|QL the pack converts to selects exactly the test events the streaming engine does.

No Elasticsearch runs here, so the ``WHERE`` clause of each converted rule is
evaluated by a small interpreter of the ES|QL subset :class:`SigmaESQLBackend`
emits, written from the ES|QL reference: three-valued logic (a missing field
makes a comparison null, ``and``/``or``/``not`` propagate null, ``WHERE`` keeps
only true rows), ``LIKE`` with ``*``/``?`` and backslash escapes matching the
whole value, ``RLIKE`` as a whole-value Lucene regex, ``TO_LOWER``/``TO_STRING``
returning null for a missing or multi-valued input, ``CIDR_MATCH``, ``COALESCE``.
Each rule's match cases must be selected and its no-match cases not, as in
``sentinel rules test``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest

from sentinel import ecs
from sentinel.config import DEFAULT_CONTENT_DIR
from sentinel.detect.convert import MULTI_VALUED_FIELDS, convert_rules
from sentinel.detect.pack import Scenario, case_events, load_pack

RULES = DEFAULT_CONTENT_DIR / "rules"

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|<=|>=|<|>|\(|\)|,)'
    r"|(?P<qid>`[^`]+`)|(?P<id>[A-Za-z_@][\w.@-]*))"
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise SyntaxError(f"cannot read ES|QL at {text[pos : pos + 30]!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), "\\" + e.group(1)), value[1:-1])
        elif kind == "num":
            value = float(value) if "." in value else int(value)
        elif kind == "qid":
            kind, value = "id", value[1:-1]
        out.append((kind, value))
    return out


class Where:
    """Recursive-descent evaluator: or > and > not > comparison > term."""

    def __init__(self, text: str, flat: dict[str, Any]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.flat = flat

    def run(self) -> bool | None:
        value = self.or_()
        assert self.i == len(self.toks), self.toks[self.i :]
        return value

    def peek(self, value: str | None = None) -> bool:
        return self.i < len(self.toks) and (value is None or str(self.toks[self.i][1]).lower() == value)

    def take(self) -> tuple[str, Any]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def or_(self) -> bool | None:
        values = [self.and_()]
        while self.peek("or"):
            self.take()
            values.append(self.and_())
        if len(values) == 1:
            return values[0]
        return True if True in values else None if None in values else False

    def and_(self) -> bool | None:
        values = [self.not_()]
        while self.peek("and"):
            self.take()
            values.append(self.not_())
        if len(values) == 1:
            return values[0]
        return False if False in values else None if None in values else True

    def not_(self) -> bool | None:
        if self.peek("not"):
            self.take()
            value = self.not_()
            return None if value is None else not value
        return self.comparison()

    def comparison(self) -> Any:
        left = self.term()
        if self.peek("is"):
            self.take()
            negate = self.peek("not") and self.take()
            assert self.take()[1] == "null"
            return (left is not None) if negate else (left is None)
        for op in ("like", "rlike", "==", "!=", "<=", ">=", "<", ">"):
            if self.peek(op):
                self.take()
                right = self.term()
                return _compare(op, left, right)
        return left

    def term(self) -> Any:
        kind, value = self.take()
        if kind == "op" and value == "(":
            inner = self.or_()
            assert self.take()[1] == ")"
            return inner
        if kind in ("str", "num"):
            return value
        if value in ("true", "false"):
            return value == "true"
        if self.peek("("):
            self.take()
            args = [self.or_()]
            while self.peek(","):
                self.take()
                args.append(self.or_())
            assert self.take()[1] == ")"
            return _function(value.lower(), args)
        return _field(self.flat, value)


def _field(flat: dict[str, Any], name: str) -> Any:
    value = flat.get(name)
    if isinstance(value, list):  # single values are stored unwrapped; several stay multi-valued
        return value[0] if len(value) == 1 else value
    return value


def _function(name: str, args: list[Any]) -> Any:
    value = args[0]
    if name == "coalesce":
        return next((a for a in args if a is not None), None)
    if name == "to_string" and isinstance(value, list):
        return [str(v) for v in value]  # conversion functions keep every value
    if name == "mv_concat":
        return None if value is None else args[1].join(value) if isinstance(value, list) else str(value)
    if name == "concat":
        return None if any(a is None or isinstance(a, list) for a in args) else "".join(map(str, args))
    if value is None or isinstance(value, list):
        return None  # ES|QL scalar functions return null for missing or multi-valued input
    if name == "to_lower":
        return str(value).lower()
    if name == "to_string":
        return str(value)
    if name == "cidr_match":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(args[1], strict=False)
        except ValueError:
            return None
    raise AssertionError(f"function {name} not modelled")


def _like(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None or isinstance(left, list):
        return None
    if op == "like":
        return _like(right).fullmatch(str(left)) is not None
    if op == "rlike":
        return re.fullmatch(right, str(left), re.DOTALL) is not None
    if isinstance(right, int | float) and isinstance(left, str):
        return None
    return {
        "==": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


def where_clause(query: str) -> str:
    head = query.split("\n", 1)[0]
    return head.split("| where ", 1)[1]


def test_the_interpreter_follows_esql_null_semantics():
    flat = {"a": "X", "n": 5, "m": ["p", "q"]}
    assert Where('TO_LOWER(a) like "x"', flat).run() is True
    assert Where('TO_LOWER(missing) like "x"', flat).run() is None
    assert Where('not TO_LOWER(missing) like "x"', flat).run() is None
    assert Where('not coalesce(TO_LOWER(missing) like "x", false)', flat).run() is True
    assert Where("n>=5 and missing is null and m is not null", flat).run() is True
    assert Where('TO_LOWER(m) like "p"', flat).run() is None
    assert Where('CONCAT("|", TO_LOWER(MV_CONCAT(TO_STRING(m), "|")), "|") rlike ".*\\|q\\|.*"', flat).run() is True
    assert Where('CONCAT("|", MV_CONCAT(TO_STRING(missing), "|"), "|") rlike ".*"', flat).run() is None
    # LIKE pattern \\* (a backslash, then anything) written as an ES|QL string literal
    assert Where('a like "\\\\\\\\*"', {"a": "\\x"}).run() is True
    assert Where('a like "\\\\*"', {"a": "\\x"}).run() is False  # \* is a literal asterisk


def _simple_rule_cases():
    pack = load_pack([RULES])
    for prule in pack.rules:
        if prule.is_correlation or prule.tests is None:
            continue
        for kind in ("match", "no_match"):
            for index, case in enumerate(getattr(prule.tests, kind)):
                if not isinstance(case, Scenario):
                    yield pytest.param(prule, kind, index, id=f"{prule.path.stem}-{kind}{index}")


CASES = list(_simple_rule_cases())


@pytest.fixture(scope="module")
def converted():
    pack = load_pack([RULES])
    out = {}
    for prule in pack.rules:
        if not prule.is_correlation:
            (res,) = convert_rules([prule.rule], "esql")  # alone, so base rules of correlations are output too
            assert res.error is None, (prule.title, res.error)
            out[prule.id] = where_clause(res.queries[0])
    return out


def test_every_simple_rule_has_cases_here():
    assert len(CASES) >= 120


@pytest.mark.parametrize(("prule", "kind", "index"), CASES)
def test_converted_where_selects_what_the_engine_matches(converted, prule, kind, index):
    case = getattr(prule.tests, kind)[index]
    (event,) = case_events(prule.tests, case, "semantics")
    selected = Where(converted[prule.id], ecs.flatten(event)).run() is True
    assert selected == (kind == "match"), converted[prule.id]


def _with_extra_values(event: dict[str, Any]) -> dict[str, Any]:
    """The event with one more, unrelated value in each of its list fields: Sigma's result cannot change."""
    return {k: [*v, "zz-other"] if isinstance(v, list) else v for k, v in event.items()}


def _has_list(prule: Any, kind: str, index: int) -> bool:
    (event,) = case_events(prule.tests, getattr(prule.tests, kind)[index], "semantics")
    return any(isinstance(v, list) for v in ecs.flatten(event).values())


LIST_CASES = [c for c in CASES if _has_list(*c.values)]


def test_some_cases_have_list_fields():
    assert len(LIST_CASES) >= 10


@pytest.mark.parametrize(("prule", "kind", "index"), LIST_CASES)
def test_lists_with_several_values_select_as_in_the_engine(converted, prule, kind, index):
    """ES|QL's LIKE on a multi-valued field is null; the conversion must still select on any value."""
    case = getattr(prule.tests, kind)[index]
    (event,) = case_events(prule.tests, case, "semantics")
    flat = _with_extra_values(ecs.flatten(event))
    assert (Where(converted[prule.id], flat).run() is True) == (kind == "match"), converted[prule.id]


def test_every_list_field_of_the_pack_is_known_as_multi_valued():
    pack = load_pack([RULES])
    lists = set()
    for prule in pack.rules:
        if prule.tests is None:
            continue
        for kind in ("match", "no_match"):
            for case in getattr(prule.tests, kind):
                for event in case_events(prule.tests, case, "lists"):
                    lists |= {k for k, v in ecs.flatten(event).items() if isinstance(v, list)}
    assert lists <= MULTI_VALUED_FIELDS, lists - MULTI_VALUED_FIELDS


def _convert_web_rule(detection: str) -> Any:
    """ES|QL of a web-server rule whose detection section is ``detection`` (YAML lines)."""
    from sigma.collection import SigmaCollection

    rules = SigmaCollection.from_yaml(
        "title: t\nid: 5f1c1d5e-1111-4222-8333-444455556667\nlogsource: {category: webserver}\ndetection:\n" + detection
    ).rules
    (res,) = convert_rules(rules, "esql")
    return res


def test_a_regex_on_a_list_is_refused_not_converted_wrongly():
    res = _convert_web_rule("  sel: {tags|re: 'a.*b'}\n  condition: sel\n")
    assert res.error and "multi-valued field tags" in res.error


def test_not_on_a_missing_field_holds_as_in_sigma():
    res = _convert_web_rule(
        "  sel: {cs-method: POST}\n  internal: {c-ip|cidr: 10.0.0.0/8}\n  condition: sel and not internal\n"
    )
    where = where_clause(res.queries[0])
    event = {"event.category": ["web"], "http.request.method": "POST"}  # no source.ip at all
    assert Where(where, event).run() is True
    plain_not = re.sub(r"not coalesce\((.*), false\)", r"not (\1)", where)
    assert plain_not != where and Where(plain_not, event).run() is None  # a plain NOT would drop the event


def test_them_does_not_include_the_added_logsource_condition():
    from sigma.collection import SigmaCollection

    rules = SigmaCollection.from_yaml(
        "title: t\nid: 5f1c1d5e-1111-4222-8333-444455556668\nlogsource: {category: webserver}\ndetection:\n"
        "  a: {cs-method: PUT}\n  b: {cs-method: DELETE}\n  condition: 1 of them\n"
    ).rules
    (res,) = convert_rules(rules, "esql")
    assert Where(where_clause(res.queries[0]), {"event.category": ["web"], "http.request.method": "GET"}).run() is False
