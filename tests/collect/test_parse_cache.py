"""The line parsers remember what recurs (user agents, referrers, requests, minutes, request kinds): it changes nothing.

Every event must be the one a parser with nothing remembered makes, for every line of a large, varied
corpus (``parse_corpus.py``); an event handed out must be the caller's alone (changing it changes no
later event); lines that differ in one part differ in that part only; and what is remembered stays
bounded: a fixed number of entries, no over-long value, and nothing of it travels with a pickled profile.
"""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.collect.parsers import LineReader, parse_line
from sentinel.collect.parsers.accesslog import _utc_time, access_time, parse_access_line
from sentinel.collect.parsers.common import LONGEST_REMEMBERED, ParseError, clear_caches
from sentinel.collect.parsers.normalize import decode_target
from sentinel.collect.parsers.portal import default_profile, load_profile
from tests.collect.parse_corpus import OWN_PROFILE, corpus

LINE = (
    '203.0.113.7 - - [01/Jul/2026:10:00:{second} +0700] "GET {target} HTTP/1.1" 200 512 "{referrer}" "{agent}"'
    ' rt=0.012 urt="0.010" ua="10.0.0.5:8080" us="200"'
)
PARTS = {
    "second": "05",
    "target": "/tim-kiem?tu-khoa=%C4%90%C4%83ng+K%C3%BD&page=2",
    "referrer": "https://www.google.com/search?q=d%E1%BB%8Bch+v%E1%BB%A5",
    "agent": "Mozilla/5.0 (X11; Linux x86_64) %24%7Bjndi%7D",
}


def _line(**parts: str) -> bytes:
    return LINE.format(**{**PARTS, **parts}).encode()


def _without_clock(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with what the clock writes (``event.ingested``, ``event.created``, an error's time) blanked."""
    for event in events:
        ev = event["event"]
        if event.get("@timestamp") == ev.get("ingested") or ev.get("kind") == "pipeline_error":
            event["@timestamp"] = "(clock)"
        ev["ingested"] = "(clock)"
        if "created" in ev:
            ev["created"] = "(clock)"
    return events


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return corpus(sessions=120, variants_count=1500)


@pytest.mark.parametrize("own", [False, True], ids=["default profile", "own profile"])
def test_remembered_parts_change_no_event_of_the_corpus(lines: list[bytes], own: bool, tmp_path: Path) -> None:
    (tmp_path / "profile.yaml").write_text(OWN_PROFILE)
    profile = load_profile(tmp_path / "profile.yaml") if own else None

    def read(cold: bool) -> list[dict[str, Any]]:
        reader = LineReader("auto", year=2026, profile=profile)
        events = []
        for i, raw in enumerate(lines):
            if cold:
                clear_caches()
            events += reader.parse(raw, source="corpus", position=i)
        return _without_clock(events)

    cold = read(cold=True)
    read(cold=False)  # every part remembered now
    warm = read(cold=False)
    assert len(warm) == len(cold)
    for raw, a, b in zip(lines, cold, warm, strict=True):
        assert a == b, raw[:300]


def _every_container(node: Any) -> list[Any]:
    found = [node] if isinstance(node, dict | list) else []
    for child in node.values() if isinstance(node, dict) else node if isinstance(node, list) else ():
        found += _every_container(child)
    return found


@pytest.mark.parametrize(
    "raw",
    [
        _line(),
        _line() + b' xff="1.2.3.4, 10.0.0.1" cookie_lang=vi http_x_api="%27"',
        b'{"time_local": "01/Jul/2026:10:50:00 +0700", "remote_addr": "203.0.113.77", '
        b'"request": "GET /dang-nhap?username=can.bo.07 HTTP/1.1", "status": "401", "http_user_agent": "%24x"}',
        b'203.0.113.7 - - [01/Jul/2026:10:00:05 +0700] "GET /auth/login?username=a%40b.vn HTTP/1.1" 401 0 "-" "-"',
    ],
    ids=["access", "access with headers", "json access", "login with account"],
)
def test_an_event_handed_out_is_the_callers_alone(raw: bytes) -> None:
    first = parse_line(raw, source="s", position=1)
    pristine = copy.deepcopy(first)
    for node in _every_container(first):  # change everything a caller could change
        if isinstance(node, dict):
            for key in list(node):
                if not isinstance(node[key], dict | list):
                    node[key] = "changed"
            node["added"] = True
        else:
            node.append("added")
    again = parse_line(raw, source="s", position=1)
    assert _without_clock([again]) == _without_clock([pristine])
    assert all(a is not b for a in _every_container(again) for b in _every_container(first))


def test_lines_that_differ_in_one_part_differ_in_that_part_only() -> None:
    base = parse_access_line(_line().decode())
    for part, value, changed in [
        ("second", "59", {"@timestamp": "2026-07-01T03:00:59.000Z"}),
        ("agent", "curl/8.5.0", {"user_agent": {"original": "curl/8.5.0"}}),
        ("referrer", "https://x.example/?q=a+b", {"http.request.referrer": "https://x.example/?q=a+b"}),
        ("target", "/tim-kiem?tu-khoa=abc&page=3", {"url.query": "tu-khoa=abc&page=3"}),
    ]:
        event = parse_access_line(_line(**{part: value}).decode())
        assert event != base
        for name, want in changed.items():
            node: Any = event
            for key in name.split("."):
                node = node[key]
            assert node == want, (part, name)
        # everything else as in the first line
        for key in base:
            if key not in {"@timestamp", "user_agent", "http", "url", "normalized"}:
                assert event[key] == base[key], (part, key)
    # and the first line again is the first event
    assert parse_access_line(_line().decode()) == base


@settings(max_examples=400, deadline=None)
@given(
    day=st.sampled_from(["01", "29", "31", "00", " 1", "1/"]),
    month=st.sampled_from(["Jan", "Feb", "Jul", "Dec", "Foo"]),
    year=st.sampled_from(["2026", "2028", "0001", "9999"]),
    clock=st.sampled_from(["00:00", "23:59", "10:30", "24:00", "10:60", "1:23"]),
    second=st.sampled_from(["00", "05", "59", "60", " 5", "+5", "٥٥", "xx"]),
    zone=st.sampled_from(["+0700", "+0000", "-0530", "+1400", "-1200", "+9999", "~0700", "+07:0"]),
)
def test_a_time_read_by_its_minute_is_the_time_read_whole(
    day: str, month: str, year: str, clock: str, second: str, zone: str
) -> None:
    text = f"{day}/{month}/{year}:{clock}:{second} {zone}"
    try:
        want: str | BaseException = _utc_time(text)
    except (ParseError, OverflowError) as exc:
        want = exc
    for _ in range(2):  # the second time from what was remembered
        try:
            got: str | BaseException = access_time(text)
        except (ParseError, OverflowError) as exc:
            got = exc
        if isinstance(want, BaseException):
            assert type(got) is type(want) and str(got) == str(want)
        else:
            assert got == want


def test_what_is_remembered_is_bounded() -> None:
    clear_caches()
    for n in range(5000):
        parse_line(_line(target=f"/ho-so/{n}?q=%2F{n}").decode().encode(), source="s", position=n)
    info = decode_target.cache_info()
    assert info.maxsize is not None and 0 < info.currsize <= info.maxsize < 5000
    # a value longer than the limit is decoded, never kept
    before = decode_target.cache_info().currsize
    long_target = "/a?q=%41" + "b" * LONGEST_REMEMBERED
    event = parse_line(_line(target=long_target).decode().encode(), source="s", position=0)
    assert event["normalized"]["url"] == "/a?q=A" + "b" * LONGEST_REMEMBERED
    assert decode_target.cache_info().currsize == before
    clear_caches()
    assert decode_target.cache_info().currsize == 0


def test_a_pickled_profile_tags_the_same_and_carries_nothing_remembered() -> None:
    profile = default_profile()
    raw = b'203.0.113.7 - - [01/Jul/2026:10:00:05 +0700] "GET /dang-nhap?username=cb.01 HTTP/1.1" 401 0 "-" "-"'
    event = parse_line(raw, source="s", position=0, profile=profile)
    assert event["labels"] == {"request_kind": "login"} and event["user"] == {"name": "cb.01"}
    assert profile._remembered_kind.cache_info().currsize > 0
    copied = pickle.loads(pickle.dumps(profile))
    assert copied._remembered_kind.cache_info().currsize == 0
    assert b"cb.01" not in pickle.dumps(profile)
    again = parse_line(raw, source="s", position=0, profile=copied)
    assert _without_clock([again]) == _without_clock([event])


def test_a_copied_profile_tags_by_its_own_rules() -> None:
    profile = default_profile()
    raw = b'203.0.113.7 - - [01/Jul/2026:10:00:05 +0700] "GET /dang-nhap?username=cb.01 HTTP/1.1" 401 0 "-" "-"'
    assert parse_line(raw, source="s", position=0, profile=profile)["labels"] == {"request_kind": "login"}
    without_login = profile.model_copy(update={"kinds": [k for k in profile.kinds if k.kind != "login"]})
    event = parse_line(raw, source="s", position=0, profile=without_login)
    assert "labels" not in event and "user" not in event
    assert parse_line(raw, source="s", position=0, profile=profile)["labels"] == {"request_kind": "login"}
