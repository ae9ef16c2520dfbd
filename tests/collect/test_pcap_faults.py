"""Hostile captures: truncation, bad magic, lying lengths, random bytes -> counted errors, never a crash."""

from __future__ import annotations

import random
import struct
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP

sys.path.insert(0, str(Path(__file__).parent))
import contextlib

import netgen

from sentinel.collect import netdecode
from sentinel.collect.pcap import CaptureReader, MalformedFrame, decode_frame
from sentinel.collect.traffic import PcapSource


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("good")
    pk = netgen.mixed(seed=5, sessions=24)
    return {fmt: netgen.write(d / f"g.{fmt}", pk, fmt).read_bytes() for fmt in ("pcap", "pcapng")}


def run(path: Path) -> tuple[list[dict], PcapSource]:
    src = PcapSource(path)
    return [e for b in src.batches(threading.Event()) for e in b.events], src


def errors_of(events: list[dict]) -> list[dict]:
    return [e for e in events if e["event"]["kind"] == "pipeline_error"]


def test_bad_magic_is_one_error_event(tmp_path):
    path = tmp_path / "notes.pcap"
    path.write_bytes(b"this is a text file, not a capture\n" * 3)
    events, src = run(path)
    (err,) = events
    assert err["event"]["kind"] == "pipeline_error"
    assert "not a capture" in err["error"]["message"] and "pcap or pcapng" in err["error"]["message"]
    assert src.status().parse_errors == 1


@pytest.mark.parametrize("content", [b"", b"\xd4\xc3\xb2\xa1"])
def test_empty_and_tiny_files(tmp_path, content):
    path = tmp_path / "tiny.pcap"
    path.write_bytes(content)
    events, src = run(path)
    assert len(errors_of(events)) == 1 and src.status().errors


def test_missing_file_is_an_error_event(tmp_path):
    events, _src = run(tmp_path / "nope.pcap")
    assert "No such file" in errors_of(events)[0]["error"]["message"]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_truncated_capture_keeps_what_was_read(tmp_path, good, fmt):
    data = good[fmt]
    whole, _ = run(_write(tmp_path / f"whole.{fmt}", data))
    cut = _write(tmp_path / f"cut.{fmt}", data[: len(data) * 2 // 3 + 7])
    events, src = run(cut)
    (err,) = errors_of(events)
    assert "truncated" in err["error"]["message"]
    assert err["log"]["offset"] > 0 and err["event"]["original"]  # hex evidence of where it broke
    flows = [e for e in events if e["event"]["dataset"] == "network.flow" and e["event"]["kind"] == "event"]
    assert 0 < len(flows) < len([e for e in whole if e["event"]["dataset"] == "network.flow"])
    assert src.status().parse_errors == 1


def test_caplen_larger_than_any_snaplen_stops_with_an_error(tmp_path, good):
    data = bytearray(good["pcap"])
    # second record's caplen := 10 MB (first record starts at 24, its caplen is at 24+8)
    first_len = struct.unpack_from("<I", data, 32)[0]
    second = 24 + 16 + first_len
    struct.pack_into("<I", data, second + 8, 10_000_000)
    events, src = run(_write(tmp_path / "lie.pcap", bytes(data)))
    (err,) = errors_of(events)
    assert "claims 10000000 captured bytes" in err["error"]["message"]
    assert src.counters.packets == 1


def test_pcapng_block_with_impossible_length(tmp_path, good):
    data = bytearray(good["pcapng"])
    shb_len = struct.unpack_from("<I", data, 4)[0]
    idb_len = struct.unpack_from("<I", data, shb_len + 4)[0]
    struct.pack_into("<I", data, shb_len + idb_len + 4, 13)  # not a multiple of 4
    events, _ = run(_write(tmp_path / "bad.pcapng", bytes(data)))
    (err,) = errors_of(events)
    assert "impossible length 13" in err["error"]["message"]


def test_short_frames_are_counted_not_fatal(tmp_path):
    good_frame = bytes(netgen._eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2))
    frames = [(1.0, good_frame), (2.0, good_frame[:20]), (3.0, good_frame[:30]), (4.0, good_frame)]
    events, src = run(netgen.write_raw_pcap(tmp_path / "short.pcap", frames))
    assert src.counters.malformed == 2 and src.counters.packets == 4
    assert src.status().parse_errors == 2
    (flow,) = events
    assert flow["source"]["packets"] == 2


def test_unknown_link_type_is_counted(tmp_path):
    events, src = run(netgen.write_raw_pcap(tmp_path / "lt.pcap", [(1.0, b"\x00" * 60)], linktype=147))
    assert events == [] and src.counters.malformed == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=600), fmt=st.sampled_from(["pcap", "pcapng"]))
def test_random_bytes_after_a_valid_header_never_crash(tmp_path_factory, body, fmt):
    header = (
        struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
        if fmt == "pcap"
        else struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    )
    path = tmp_path_factory.mktemp("fz") / f"r.{fmt}"
    path.write_bytes(header + body)
    events, src = run(path)
    assert src.done
    c = src.counters
    # every frame read is counted once: malformed and non-IP frames are among the packets, and flows never hold more
    assert c.malformed + c.non_ip <= c.packets
    flows = [e for e in events if "packets" in e.get("source", {})]
    assert sum(e["source"]["packets"] + e.get("destination", {}).get("packets", 0) for e in flows) <= c.packets
    for e in events:
        assert e["event"]["id"]


def test_bit_flipped_captures_never_crash(tmp_path, good):
    rng = random.Random(1234)
    for fmt, data in good.items():
        for i in range(60):
            mutated = bytearray(data)
            for _ in range(rng.randrange(1, 40)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            if rng.random() < 0.3:
                mutated = mutated[: rng.randrange(len(mutated))]
            events, src = run(_write(tmp_path / f"m{i}.{fmt}", bytes(mutated)))
            assert src.done and all(e["event"]["id"] for e in events)


@settings(max_examples=300, deadline=None)
@given(frame=st.binary(max_size=200), linktype=st.sampled_from([0, 1, 101, 108, 113, 228, 229, 276]))
def test_decode_frame_on_random_bytes_returns_or_raises_malformed(frame, linktype):
    with contextlib.suppress(MalformedFrame):
        decode_frame(frame, linktype)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=300))
def test_application_decoders_on_random_bytes(payload):
    for decode in (netdecode.parse_dns, netdecode.parse_http_request, netdecode.parse_client_hello):
        with contextlib.suppress(netdecode.DecodeError):
            decode(payload)
    # and with a plausible prefix, so the decoders get past their first checks
    for prefix, decode in (
        (b"\x16\x03\x01\x01\x00\x01", netdecode.parse_client_hello),
        (b"GET / HTTP/1.1\r\n", netdecode.parse_http_request),
    ):
        with contextlib.suppress(netdecode.DecodeError):
            decode(prefix + payload)


def test_dns_compression_loop_is_an_error():
    # header with one question whose name is a pointer to itself
    msg = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    with pytest.raises(netdecode.DecodeError, match="loop"):
        netdecode.parse_dns(msg)


def test_reader_iteration_on_truncated_header(tmp_path):
    path = _write(tmp_path / "h.pcap", struct.pack("<IHH", 0xA1B2C3D4, 2, 4) + b"\0" * 8)
    with CaptureReader(path) as r:
        assert list(r) == [] and "truncated file header" in r.error


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_scapy_engine_reports_a_truncated_file_too(tmp_path, good):
    cut = _write(tmp_path / "cut.pcap", good["pcap"][: len(good["pcap"]) // 2 + 5])
    src = PcapSource(cut, engine="scapy")
    events = [e for b in src.batches(threading.Event()) for e in b.events]
    assert src.done
    flows = [e for e in events if e["event"]["kind"] == "event"]
    assert flows  # what was read before the cut is kept
    (err,) = errors_of(events)
    assert "truncated record" in err["error"]["message"]
