"""Regular expressions from rules meet attacker-written input: no search may stall detection.

Python's ``re`` backtracks: ``(a+)+$`` against ``aaaa...b`` takes exponential time,
and so does the pack's own UNION-SELECT pattern against ``union/**/**/...``
(``(?:/\\*.*?\\*/|...)+`` splits the comments in exponentially many ways). The
engine runs every ``|re`` search with a time box (``sentinel.detect.values``).
"""

from __future__ import annotations

import time
from pathlib import Path

from sigma.collection import SigmaCollection

from sentinel.collect.parsers import parse_line
from sentinel.detect import values
from sentinel.detect.engine import Engine

REPO = Path(__file__).resolve().parents[2]
EVIL = """
title: Catastrophic pattern
id: 0b5e0000-0000-4000-8000-00000000000e
status: test
logsource: {category: test}
detection:
  sel:
    message|re: '(a+)+$'
  condition: sel
level: low
"""


def access_event(query: str, n: int = 0) -> dict:
    raw = f'203.0.113.9 - - [01/Jul/2026:10:00:00 +0700] "GET /dvc/tra-cuu?{query} HTTP/1.1" 200 12 "-" "curl"'
    return parse_line(raw.encode(), source="regex-test", position=n)


def test_nested_quantifier_on_a_long_value_gives_up_quickly() -> None:
    engine = Engine.from_collection(SigmaCollection.from_yaml(EVIL), pipeline="none")
    before = values.regex_timeouts["(a+)+$"]
    event = {"@timestamp": "2026-07-01T03:00:00Z", "event": {"id": "x1"}, "message": "a" * 5000 + "b"}
    started = time.perf_counter()
    alerts = engine.process([event])
    assert time.perf_counter() - started < 3.0
    assert alerts == [] and engine.stats["errors"] == 0
    assert values.regex_timeouts["(a+)+$"] == before + 1
    # the same rule still matches what it should, at full speed
    assert engine.process([{**event, "event": {"id": "x2"}, "message": "xaaa"}])


def test_pack_union_select_rule_against_a_crafted_url_stays_fast_and_still_detects() -> None:
    engine = Engine.from_paths([REPO / "rules" / "web" / "web_sqli_union_select.yml"])
    assert not engine.problems
    # "select" later in the URL gets it past the literal prefilter, so the regex really runs
    crafted = access_event("id=1%20union" + "/**/" * 40 + "x&sort=select")
    gave_up = values.regex_timeouts.total()
    started = time.perf_counter()
    engine.process([crafted])
    assert time.perf_counter() - started < 0.5, "a single crafted URL must not stall detection"
    # the rule's comment patterns match one way only, so the search ends without needing the time box
    assert values.regex_timeouts.total() == gave_up
    real = access_event("id=1%20union/**/select%20username,password%20from%20users", 1)
    assert [a.rule.title for a in engine.process([real])], "a real UNION SELECT still raises its alert"


class _Descheduled:
    """A compiled pattern whose first searches run out of their box without spending it (the thread waited)."""

    def __init__(self, real, stalls: int) -> None:
        self.real, self.stalls = real, stalls

    def search(self, text: str, timeout: float | None = None):
        if self.stalls:
            self.stalls -= 1
            raise TimeoutError("regex timed out")
        return self.real.search(text, timeout=timeout)


def test_a_search_that_waited_for_a_core_is_tried_again_not_counted_as_no_match(monkeypatch) -> None:
    """On a loaded machine the wall-clock box runs out while the thread waits: the match must still be found."""
    import regex

    compile_ = regex.compile
    monkeypatch.setattr(values.regex, "compile", lambda p, f=0: _Descheduled(compile_(p, f), stalls=2))
    rule = EVIL.replace("(a+)+$", "union.*select").replace(
        "0b5e0000-0000-4000-8000-00000000000e", "0b5e0000-0000-4000-8000-00000000000f"
    )
    engine = Engine.from_collection(SigmaCollection.from_yaml(rule), pipeline="none")
    before = values.regex_timeouts.total()
    event = {"@timestamp": "2026-07-01T03:00:00Z", "event": {"id": "x3"}, "message": "1 union all select 2"}
    assert engine.process([event]), "a match found on the retry raises its alert"
    assert values.regex_timeouts.total() == before
