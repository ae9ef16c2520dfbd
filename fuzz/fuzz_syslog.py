"""Fuzz the syslog parser (RFC 5424 / 3164 and the firewall contents it hands on): one event, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime

import atheris

with atheris.instrument_imports(include=["sentinel"]):
    from sentinel.collect.syslog_parse import parse_syslog

import harness

NOW = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)


def test_one_input(data: bytes) -> None:
    from_file = bool(data[:1]) and data[0] & 1 == 1
    raw = data[1:]
    event = parse_syslog(raw, source="fuzz", position=3, peer="192.0.2.1", now=NOW, from_file=from_file)
    assert event["event"]["id"]
    assert event["event"]["kind"] in ("event", "pipeline_error"), event["event"]["kind"]
    if event["event"]["kind"] == "pipeline_error":
        assert event["error"]["message"]
    assert isinstance(event["@timestamp"], str)


if __name__ == "__main__":
    harness.run(test_one_input)
