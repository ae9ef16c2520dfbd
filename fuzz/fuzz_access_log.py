"""Fuzz the line parsers (access log, JSON lines, auto detection): one event for any bytes, never an exception."""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["sentinel"]):
    from sentinel.collect.parsers import parse_line

import harness

FORMATS = ("auto", "access", "json")


def test_one_input(data: bytes) -> None:
    fmt = FORMATS[data[0] % 3] if data else "auto"
    raw = data[1:]
    event = parse_line(raw, source="fuzz", position=7, fmt=fmt)
    assert event["event"]["id"], "every event needs an id"
    if event["event"]["kind"] == "pipeline_error":
        assert event["error"]["message"], "a kept error says why"
        assert not event["error"]["message"].startswith("parser failed"), event["error"]["message"]
    # same bytes at the same position: same id (replays are deduplicated)
    assert parse_line(raw, source="fuzz", position=7, fmt=fmt)["event"]["id"] == event["event"]["id"]


if __name__ == "__main__":
    harness.run(test_one_input)
