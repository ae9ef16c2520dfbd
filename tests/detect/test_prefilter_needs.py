"""The prefilter's needs: conjunctions of literal groups, anchors, regex expansion, and what they admit."""

from __future__ import annotations

from typing import Any

from sigma.collection import SigmaCollection

from sentinel.detect import Engine
from sentinel.detect.needs import any_of, literal_need, literals_of, regex_need
from sentinel.detect.view import EventView


def engine(detection: dict[str, Any]) -> Engine:
    rule = {
        "title": "t",
        "id": "00000000-0000-4000-8000-0000000000aa",
        "logsource": {"product": "test"},
        "detection": detection,
    }
    built = Engine.from_collection(SigmaCollection.from_dicts([rule]), pipeline="none")
    assert built.problems == []
    return built


def admitted(built: Engine, event: dict[str, Any]) -> bool:
    return bool(built._all.candidates(EventView(event)))


def test_an_and_needs_every_group_and_suffixes_are_anchored() -> None:
    """A script under /static/ needs both literals; '.php' must end the value, not merely occur in it."""
    built = engine({"sel": {"p|contains": "/static/", "p|endswith": ".php"}, "condition": "sel"})
    (rule,) = built.rules
    assert rule.need is not None and len(rule.need) == 2
    assert literals_of(rule.need) == [".php\0", "/static/"]
    assert not admitted(built, {"p": "/static/app.js"})  # the common literal alone admits nothing
    assert not admitted(built, {"p": "/static/x.php.bak"})  # .php inside, not at the end
    assert not admitted(built, {"p": "/home/x.php"})
    assert admitted(built, {"p": "/static/x.php"})
    assert built.process([{"p": "/static/X.PHP"}])  # case-insensitive like Sigma


def test_whole_values_are_anchored_on_both_sides_and_lists_item_by_item() -> None:
    built = engine({"sel": {"m": "DELETE", "u|startswith": "/admin"}, "condition": "sel"})
    assert literals_of(built.rules[0].need) == ["\0/admin", "\0delete\0"]
    assert not admitted(built, {"m": "DELETED", "u": "/admin/x"})
    assert not admitted(built, {"m": "DELETE", "u": "/x/admin"})
    assert admitted(built, {"m": ["GET", "DELETE"], "u": "/admin/x"})
    assert built.process([{"m": ["GET", "DELETE"], "u": "/admin/x"}])


def test_regex_pieces_expand_to_the_exact_strings_they_can_match() -> None:
    need = regex_need("f", r"(?:^|&)(?:page_?size|limit)=\d{4,}(?:&|$)")
    assert literals_of(need) == ["limit=", "page_size=", "pagesize="]
    # a string that contains another alternative adds nothing: the shorter one fires anyway
    assert literals_of(regex_need("f", r"(?:file(?:name)?|name)=x")) == ["file=x", "name=x"]
    # every required piece is its own group
    assert len(regex_need("f", r"union\s+select") or ()) == 2


def test_an_or_of_conjunctions_is_distributed() -> None:
    a, b, c = (literal_need("f", [w]) for w in ("alpha", "bravo", "charlie"))
    both = (a[0], b[0])  # type: ignore[index]
    need = any_of([both, c])
    assert need is not None
    assert {frozenset(lit for _, lit, _ in g) for g in need} == {
        frozenset({"alpha", "charlie"}),
        frozenset({"bravo", "charlie"}),
    }
    built = engine(
        {"s1": {"f|contains|all": ["alpha", "bravo"]}, "s2": {"f|contains": "charlie"}, "condition": "1 of s*"}
    )
    assert not admitted(built, {"f": "alpha only"})
    assert admitted(built, {"f": "alpha and bravo"})
    assert admitted(built, {"f": "charlie"})


def test_events_with_dotted_keys_take_the_general_path_with_the_same_result() -> None:
    built = engine({"sel": {"url.path|endswith": ".php"}, "condition": "sel"})
    nested = {"url": {"path": "/a/shell.php"}}
    dotted = {"url.path": "/a/shell.php"}
    partly = {"url": {"path.x": 1}, "url.path": "/a/shell.php"}
    assert [len(built.process([e])) for e in (nested, dotted, partly)] == [1, 1, 1]
    assert built.process([{"url": {"path": "/a/shell.js"}}]) == []


def test_an_optional_gap_does_not_end_a_run() -> None:
    """``'\\s*or``: what follows the gap is preceded by the run itself or by a gap character, never by nothing."""
    need = regex_need("f", r"['\"]\s*or\s+1=1", 2)
    lits = literals_of(need)
    assert {"'or", '"or', " or", "\tor", "\x1for"} <= set(lits)
    assert all(len(lit) >= 3 for lit in lits)
    built = engine({"sel": {"q|re|i": r"['\"]\s*(?:or|\|\|)\s*true"}, "condition": "sel"})
    assert built.rules[0].need is not None  # was evaluated on every event before
    for text in ("x' or true", "x'OR true", "x'\t\tor true", "x'||true", 'x"||  true'):
        assert admitted(built, {"q": text}) and built.process([{"q": text}]), repr(text)
    assert not admitted(built, {"q": "tra-cuu ho so"})
    assert built.process([{"q": "x'\u00a0or true"}])  # a non-ASCII space: evaluated anyway, still found


def test_an_enumerated_whole_value_is_not_the_literal_a_rule_is_looked_up_by() -> None:
    """A refused login: the method (POST on many requests) is checked after the status is found, not before."""
    built = engine({"sel": {"m": "POST", "s": [401, 403]}, "condition": "sel"})
    (first, *_rest) = built.rules[0].need
    assert {lit for _, lit, _ in first} == {"401", "403"}
    assert not admitted(built, {"m": "POST", "s": 200})
    assert built.process([{"m": "post", "s": 401}])
