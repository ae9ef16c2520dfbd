"""Fuzz the NetFlow v5/v9/IPFIX decoder with a sequence of datagrams from one exporter (templates carry over).

The decoder's last-resort handler reports ``could not decode (...)``: reaching
it means an unexpected exception inside the decoder, i.e. a bug.
"""

from __future__ import annotations

import struct

import atheris

with atheris.instrument_imports(include=["sentinel"]):
    from sentinel.collect.netflow import NetflowDecoder

import harness

EXPORTER = "198.51.100.7"


def datagrams(data: bytes) -> list[bytes]:
    """The input as datagrams, each behind a 2-byte big-endian length (the seeds are written so)."""
    out = []
    off = 0
    while off + 2 <= len(data) and len(out) < 8:
        (size,) = struct.unpack_from("!H", data, off)
        out.append(data[off + 2 : off + 2 + size])
        off += 2 + size
    return out


def test_one_input(data: bytes) -> None:
    decoder = NetflowDecoder(error_interval=0)
    sent = 0
    for datagram in datagrams(data):
        for event in decoder.decode(datagram, EXPORTER, now=float(sent)):
            assert event["event"]["id"]
            message = event.get("error", {}).get("message", "")
            assert not message.startswith("could not decode"), message
        sent += 1
    assert sent == 0 or decoder.exporters[EXPORTER].packets == sent


if __name__ == "__main__":
    harness.run(test_one_input)
