"""Multi-line records: stack traces by start or continuation pattern, JSON spread over lines."""

from __future__ import annotations

import pytest

from sentinel.collect.multiline import Multiline, Record


def _feed(m: Multiline, lines: list[bytes]) -> list[Record]:
    out: list[Record] = []
    pos = 0
    for line in lines:
        out += m.feed(pos, line)
        pos += len(line) + 1
    last = m.flush()
    return [*out, last] if last else out


TRACE = [
    b"2026-07-01 10:00:00 ERROR request failed",
    b"java.lang.IllegalStateException: boom",
    b"\tat vn.gov.dvc.Handler.run(Handler.java:42)",
    b"Caused by: java.io.IOException",
    b"2026-07-01 10:00:01 INFO next",
]


def test_start_pattern_joins_a_stack_trace() -> None:
    records = _feed(Multiline("pattern", start=r"^\d{4}-\d{2}-\d{2} "), TRACE)
    assert [r.raw.count(b"\n") for r in records] == [3, 0]
    assert records[0].position == 0
    assert records[1].position == sum(len(x) + 1 for x in TRACE[:4])
    assert records[0].raw.startswith(b"2026-07-01 10:00:00 ERROR") and records[0].raw.endswith(b"IOException")


def test_continuation_pattern() -> None:
    records = _feed(Multiline("pattern", continuation=r"^(\s|Caused by:|java\.)"), TRACE)
    assert len(records) == 2 and records[0].raw.count(b"\n") == 3


def test_json_spanning_lines_with_brackets_in_strings() -> None:
    lines = [b"{", b'  "msg": "a } and a { inside",', b'  "nested": {"list": [1, 2]}', b"}", b'{"one": "line"}', b"x"]
    records = _feed(Multiline("json"), lines)
    assert [r.raw for r in records] == [b"\n".join(lines[:4]), lines[4], lines[5]]


def test_max_lines_caps_a_runaway_record() -> None:
    records = _feed(Multiline("pattern", start="^START", max_lines=3), [b"START", b"a", b"b", b"c", b"d"])
    assert [r.raw for r in records] == [b"START\na\nb", b"c\nd"]


def test_pending_position_tracks_the_open_record() -> None:
    m = Multiline("pattern", start="^S")
    assert m.feed(0, b"S1") == []
    assert m.pending_position == 0
    assert m.feed(3, b" more") == []
    done = m.feed(9, b"S2")
    assert [r.raw for r in done] == [b"S1\n more"] and m.pending_position == 9


def test_pattern_mode_needs_exactly_one_rule() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Multiline("pattern")
