"""The query parser: the tree it builds, and malformed queries refused with the position of the problem."""

from __future__ import annotations

import pytest

from sentinel.store.expr import And, Not, Or, Range, Term
from sentinel.store.query import QuerySyntaxError, parse_expression, parse_query


def test_terms_side_by_side_must_all_hold():
    q = parse_query('source.ip:1.2.3.4 url.path:/api/* "union select" http://x.vn/a')
    assert q.where == And(
        (
            Term("source.ip", "1.2.3.4"),
            Term("url.path", "/api/*", "wildcard"),
            Term(None, "union select", phrase=True),
            Term(None, "http://x.vn/a"),
        )
    )
    assert parse_query('user.name:"Nguyễn Văn A"').where == Term("user.name", "Nguyễn Văn A", phrase=True)
    assert parse_query("").where is None and parse_query("   ").where is None


def test_precedence_not_then_and_then_or():
    assert parse_expression("a:1 OR b:2 AND NOT c:3") == Or(
        (Term("a", "1"), And((Term("b", "2"), Not(Term("c", "3")))))
    )
    assert parse_expression("(a:1 OR b:2) c:3") == And((Or((Term("a", "1"), Term("b", "2"))), Term("c", "3")))
    assert parse_expression("f:(x OR y*)") == Or((Term("f", "x"), Term("f", "y*", "wildcard")))
    # lower-case operators are words, as in Lucene
    assert parse_expression("a and b") == And((Term(None, "a"), Term(None, "and"), Term(None, "b")))


def test_ranges_comparisons_wildcards_and_escapes():
    assert parse_expression("n:[1 TO 5}") == Range("n", "1", "5", True, False)
    assert parse_expression("n:{* TO 5]") == Range("n", None, "5", False, True)
    assert parse_expression("n:>=10") == Range("n", "10", None, True, True)
    assert parse_expression("n:<10") == Range("n", None, "10", True, False)
    assert parse_expression('t:["2026-07-01 08:00" TO now]') == Range("t", "2026-07-01 08:00", "now")
    assert parse_expression("f:*") == Term("f", "", "exists")
    assert parse_expression("f:a?c") == Term("f", "a?c", "wildcard")
    assert parse_expression(r"f:a\*c") == Term("f", "a*c")
    assert parse_expression(r"f:a\*c*") == Term("f", r"a\*c*", "wildcard")
    assert parse_expression("adm*") == Term(None, "adm*", "wildcard")


@pytest.mark.parametrize(
    ("bad", "position", "reason"),
    [
        ('"open', 1, "never closed"),
        ("source.ip:", 1, "value after the colon"),
        ("(a:b", 1, "'(' is never closed"),
        ("a:b)", 4, "')' has no matching '('"),
        ("source.ip:1.2.3.4 AND", 19, "AND needs a term after it"),
        ("OR a", 1, "OR needs a term before it"),
        ("a OR OR b", 3, "OR needs a term after it"),
        ("NOT", 1, "NOT needs a term after it"),
        ("x:(a OR (b)", 3, "'(' is never closed"),
        ("f:[1 5]", 3, "[low TO high]"),
        ("f:[1 TO 5", 3, "never closed with ] or }"),
        ("f:[a* TO b]", 4, "not a wildcard"),
        ("f:>", 3, "give a value after >"),
        ("ab*cd", 1, "end of a word"),
        ("()", 1, "empty parentheses"),
    ],
)
def test_malformed_queries_say_where(bad, position, reason):
    with pytest.raises(QuerySyntaxError) as err:
        parse_query(bad)
    assert err.value.position == position
    assert reason in str(err.value) and str(err.value).startswith(f"position {position}:")
    message, echoed, caret = err.value.pointer().splitlines()
    assert message == str(err.value) and echoed == "  " + bad and caret.index("^") == position + 1
