"""Hostile NetFlow input: random bytes, truncation, lying lengths, missing templates -> counted, never a crash."""

from __future__ import annotations

import functools
import random
import struct
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import netgen

from sentinel.collect import netflow
from sentinel.collect.netflow import NetflowDecoder

EXPORTER = "198.51.100.1"


def unexpected(events: list[dict]) -> list[str]:
    """Errors from the decoder's last-resort handler: those would be bugs, not bad input."""
    return [
        e["error"]["message"] for e in events if e.get("error", {}).get("message", "").startswith("could not decode")
    ]


@functools.cache
def _valid_exports() -> tuple[bytes, ...]:
    rec = dict(IPV4_SRC_ADDR="10.0.0.1", IPV4_DST_ADDR="10.0.0.2", PROTOCOL=6, IN_BYTES=1, IN_PKTS=1)
    return (
        netgen.netflow_v5([dict(src="10.0.0.1", dst="10.0.0.2", prot=6)] * 3),
        netgen.netflow_v9([rec, rec], seq=5),
        netgen.ipfix_message(
            [
                (2, netgen.ipfix_template(300, [(8, 4, 0), (82, 65535, 0), (1, 8, 0)])),
                (300, bytes(4) + b"\x02ab" + bytes(8)),
            ]
        ),
    )


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_datagrams_never_raise(data):
    d = NetflowDecoder(error_interval=0)
    events = d.decode(data, EXPORTER)
    c = d.exporters[EXPORTER]
    assert c.packets == 1
    assert all(e["event"]["id"] for e in events)
    assert not unexpected(events)
    # every datagram is accounted for: its records, or one error event (never reported once and counted twice)
    errors = sum(1 for e in events if e["event"]["kind"] == "pipeline_error")
    assert c.malformed == errors <= 1
    assert len(events) == c.records + errors


@settings(max_examples=300, deadline=None)
@given(version=st.sampled_from([5, 9, 10]), body=st.binary(max_size=300))
def test_random_bodies_behind_a_valid_version_never_raise(version, body):
    d = NetflowDecoder(error_interval=0)
    assert not unexpected(d.decode(struct.pack("!H", version) + body, EXPORTER))
    # and after a template is known, random data sets for it
    d.decode(_valid_exports()[1], EXPORTER)
    data_set = struct.pack("!HHIIII", 9, 1, 0, 0, 0, 1) + struct.pack("!HH", 256, 4 + len(body)) + body
    assert not unexpected(d.decode(data_set, EXPORTER))


def test_every_truncation_of_valid_exports_is_counted():
    for data in _valid_exports():
        for cut in range(len(data)):
            d = NetflowDecoder(error_interval=0)
            d.decode(_valid_exports()[1], EXPORTER)  # template known
            d.decode(data[:cut], EXPORTER)
            assert d.exporters[EXPORTER].packets == 2


def test_bit_flips_never_raise():
    rng = random.Random(99)
    exports = _valid_exports()
    d = NetflowDecoder(error_interval=0)
    for _ in range(3000):
        data = bytearray(rng.choice(exports))
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        assert not unexpected(d.decode(bytes(data), EXPORTER))
    assert d.exporters[EXPORTER].packets == 3000


def test_lying_lengths_are_reported_with_the_reason():
    d = NetflowDecoder(error_interval=0)
    v5 = bytearray(netgen.netflow_v5([dict(src="10.0.0.1", dst="10.0.0.2")]))
    struct.pack_into("!H", v5, 2, 30)  # claims 30 records, carries 1
    (err,) = d.decode(bytes(v5), EXPORTER)
    assert err["event"]["kind"] == "pipeline_error" and "30 records" in err["error"]["message"]
    assert err["observer"]["ip"] == EXPORTER and err["event"]["original"].startswith("0005")
    v9 = bytearray(_valid_exports()[1])
    struct.pack_into("!H", v9, 22, 60000)  # first flowset length
    (err,) = d.decode(bytes(v9), EXPORTER)
    assert "claims 60000 bytes" in err["error"]["message"]
    (err,) = d.decode(b"\x00\x07" + bytes(30), EXPORTER)
    assert "version 7" in err["error"]["message"]
    assert d.exporters[EXPORTER].malformed == 3


def test_errors_are_rate_limited_per_exporter_but_all_counted():
    d = NetflowDecoder(error_interval=10)
    reports = [e for i in range(100) for e in d.decode(b"junk" * 3, EXPORTER, now=i * 0.5)]
    # t = 0, 10, 20, 30, 40 -> five reports; the later ones say how many were suppressed
    assert len(reports) == 5
    assert "19 more malformed datagrams" in reports[1]["error"]["message"]
    assert d.exporters[EXPORTER].malformed == 100
    other = d.decode(b"junk", "198.51.100.2", now=1.0)
    assert len(other) == 1  # another exporter is reported on its own


def test_data_without_template_is_bounded(monkeypatch):
    monkeypatch.setattr(netflow, "MAX_PENDING_SETS", 5)
    d = NetflowDecoder(error_interval=0)
    rec = dict(IPV4_SRC_ADDR="10.0.0.1", IPV4_DST_ADDR="10.0.0.2", PROTOCOL=6, IN_BYTES=1, IN_PKTS=1)
    errors = []
    for seq in range(8):
        errors += d.decode(netgen.netflow_v9([rec], seq=seq, with_template=False), EXPORTER)
    c = d.exporters[EXPORTER]
    assert c.missing_template == 8 and c.dropped_sets == 3 and len(errors) == 3
    assert "no template 256" in errors[0]["error"]["message"]
    assert d.pending_count == 5
    # when the template arrives, the parked five are decoded
    events = d.decode(netgen.netflow_v9([], seq=9, with_data=False), EXPORTER)
    assert [e["netflow"]["sequence"] for e in events] == [3, 4, 5, 6, 7]
    assert d.pending_count == 0


def test_reserved_template_id_and_zero_length_field_are_errors():
    d = NetflowDecoder(error_interval=0)
    bad_id = struct.pack("!HHIIII", 9, 1, 0, 0, 1, 1) + struct.pack("!HHHHHH", 0, 12, 5, 1, 8, 4)
    (err,) = d.decode(bad_id, EXPORTER)
    assert "reserved" in err["error"]["message"]
    zero = struct.pack("!HHIIII", 9, 1, 0, 0, 2, 1) + struct.pack("!HHHHHH", 0, 12, 300, 1, 8, 0)
    (err,) = d.decode(zero, EXPORTER)
    assert "zero-length" in err["error"]["message"]
