"""Decoded copies of request fields: what the application sees, whatever the encoding."""

from __future__ import annotations

import time

import pytest

from sentinel.collect.parsers import parse_line
from sentinel.collect.parsers.normalize import MAX_ROUNDS, decode, decode_target


def access(target: str, agent: str = "curl/8.0", referrer: str = "-") -> dict:
    line = f'203.0.113.9 - - [01/Jul/2026:10:00:00 +0700] "GET {target} HTTP/1.1" 404 0 "{referrer}" "{agent}"'
    return parse_line(line.encode(), source="t", position=0)


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("/a?x=%2D%64+%61%6C%6C%6F%77", "/a?x=-d allow"),  # + is a space in the query
        ("/a+b/c?x=1", "/a+b/c?x=1"),  # ... but not in the path
        ("/f?t=%252e%252e%252fetc", "/f?t=../etc"),  # double encoding
        ("/f?t=%25252e%25252e%25252f", "/f?t=../"),  # triple
        ("/x?q=%u003cscript%u003e", "/x?q=<script>"),  # IIS %u escapes
        ("/x?q=\\u003cscript\\u003e", "/x?q=<script>"),  # JavaScript escapes
        ("/x?q=%E1%BB%87", "/x?q=ệ"),
        ("/x?q=%ud800", "/x?q=%ud800"),  # a lone surrogate stays as written
        ("/x?q=%zz%", "/x?q=%zz%"),
    ],
)
def test_decode_target(raw: str, decoded: str) -> None:
    assert decode_target(raw) == decoded


def test_decoding_rounds_are_bounded() -> None:
    deep = "%" + "25" * 10 + "41"
    assert decode(deep).count("%") == 1 and MAX_ROUNDS == 3


def test_access_events_carry_decoded_copies_only_when_they_differ() -> None:
    plain = access("/dich-vu-cong/tra-cuu?maHoSo=H29-1")
    assert "normalized" not in plain
    e = access(
        "/index.php?%2D%64+%61%75%74%6F%5F%70%72%65%70%65%6E%64%5F%66%69%6C%65%3D%70%68%70%3A%2F%2F%69%6E%70%75%74",
        agent="() { :;}; /bin/bash -c \\x22id\\x22",
    )
    assert e["normalized"] == {
        "url": "/index.php?-d auto_prepend_file=php://input",
        "user_agent": '() { :;}; /bin/bash -c "id"',
    }
    assert e["url"]["query"].startswith("%2D%64")  # the raw value stays, as evidence
    assert e["user_agent"]["original"] == "() { :;}; /bin/bash -c \\x22id\\x22"


def test_hostile_input_decodes_in_linear_time() -> None:
    target = "/x?" + "%25" * 200_000 + "%u0041\\x41+" * 50_000
    started = time.perf_counter()
    decode_target(target)
    assert time.perf_counter() - started < 2.0
