"""Fuzz the capture reader (pcap / pcapng) and the frame decoder.

``CaptureReader`` may refuse a file with ``CaptureError`` and stops early on a
corrupt record (``reader.error``); ``decode_frame`` may raise ``MalformedFrame``.
Nothing else may escape: either would end a capture import with a traceback.
"""

from __future__ import annotations

import contextlib

import atheris

with atheris.instrument_imports(include=["sentinel"]):
    from sentinel.collect.pcap import CaptureError, CaptureReader, MalformedFrame, decode_frame

import harness

LINKTYPES = (0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147)


def _decode(frame: bytes, linktype: int) -> None:
    with contextlib.suppress(MalformedFrame):
        decode_frame(frame, linktype)


def test_one_input(data: bytes) -> None:
    if data[:1] == b"F":  # a bare frame: link type byte, then the frame
        if len(data) > 1:
            _decode(data[2:], LINKTYPES[data[1] % len(LINKTYPES)])
        return
    path = harness.scratch_file("capture.pcap", data)
    try:
        reader = CaptureReader(path)
    except CaptureError as exc:
        assert str(exc)
        return
    with reader:
        for n, (ts, linktype, frame, wirelen) in enumerate(reader):
            assert isinstance(ts, float) and wirelen >= 0
            _decode(bytes(frame), linktype)
            if n > 2000:
                break
        assert reader.error is None or reader.error


if __name__ == "__main__":
    harness.run(test_one_input)
