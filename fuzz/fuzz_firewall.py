"""Fuzz the firewall formats (FortiGate key=value, pfSense filterlog, iptables/nftables) directly.

Each parser returns ECS fields or raises ``ParseError`` with a reason; any other
exception would turn a hostile line into a lost one.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import atheris

with atheris.instrument_imports(include=["sentinel"]):
    from sentinel.collect import firewall
    from sentinel.collect.parsers import ParseError

import harness

VIETNAM = timezone(timedelta(hours=7))


def test_one_input(data: bytes) -> None:
    text = data[1:].decode("utf-8", "backslashreplace")
    which = data[0] % 3 if data else 0
    try:
        if which == 0:
            firewall.looks_fortigate(text)
            doc = firewall.parse_fortigate(text, VIETNAM)
        elif which == 1:
            doc = firewall.parse_filterlog(text)
        else:
            firewall.looks_netfilter(text)
            doc = firewall.parse_netfilter(text)
    except ParseError as exc:
        assert str(exc), "a ParseError says why"
        return
    assert isinstance(doc, dict) and "event" in doc


if __name__ == "__main__":
    harness.run(test_one_input)
