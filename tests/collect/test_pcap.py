"""pcap/pcapng to ECS network events: flows, DNS, HTTP, TLS, both engines, replay, link types."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import CookedLinux
from scapy.packet import Raw

sys.path.insert(0, str(Path(__file__).parent))
import netgen

from sentinel.collect.pcap import CaptureReader, decode_frame
from sentinel.collect.traffic import PcapSource
from sentinel.ingest.pipeline import Pipeline
from sentinel.store.base import EventQuery
from sentinel.store.sqlite import SQLiteStore


def read_all(path: Path, **kw) -> tuple[list[dict], PcapSource]:
    src = PcapSource(path, **kw)
    events = [e for b in src.batches(threading.Event()) for e in b.events]
    return events, src


def by_dataset(events: list[dict], dataset: str) -> list[dict]:
    return [e for e in events if e["event"]["dataset"] == dataset]


@pytest.fixture(scope="module")
def mixed_packets():
    return netgen.mixed(seed=11, sessions=60)


@pytest.fixture(scope="module", params=["pcap", "pcapng"])
def capture(request, tmp_path_factory, mixed_packets) -> Path:
    path = tmp_path_factory.mktemp("cap") / f"mixed.{request.param}"
    return netgen.write(path, mixed_packets, request.param)


def test_mixed_capture_gives_flows_and_application_events(capture, mixed_packets):
    events, src = read_all(capture)
    counts = Counter(e["event"]["dataset"] for e in events)
    # 60 sessions: 10 each of HTTP, TLS, DNS, ICMP, IPv6 TCP, VLAN TCP (+ ARP, which is not a flow)
    assert counts == {"network.flow": 60, "network.dns": 20, "network.http": 10, "network.tls": 10}
    status = src.status()
    assert status.read == len(mixed_packets)
    assert status.parse_errors == 0 and status.errors == []
    assert src.counters.non_ip == 10  # the ARP frames: counted, not flows
    assert len({e["event"]["id"] for e in events}) == len(events)
    for e in events:
        assert e["event"]["kind"] == "event" and "network" in e["event"]["category"]


def test_flow_counts_match_the_generated_packets(capture, mixed_packets):
    events, _ = read_all(capture)
    flows = {(f["source"]["ip"], f["source"].get("port")): f for f in by_dataset(events, "network.flow")}
    # Independent count from scapy's own view of what it generated.
    expected: dict[tuple, list[int]] = {}
    for _, pkt in mixed_packets:
        ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        if ip is None or TCP not in pkt:
            continue
        tcp = pkt[TCP]
        size = len(ip)  # header + payload as built
        client = (ip.src, tcp.sport) if tcp.sport >= 20000 else (ip.dst, tcp.dport)
        fwd = tcp.sport >= 20000
        row = expected.setdefault(client, [0, 0, 0, 0])
        row[0 if fwd else 2] += 1
        row[1 if fwd else 3] += size
    assert len(expected) == 40
    for client, (fp, fb, rp, rb) in expected.items():
        f = flows[client]
        assert (f["source"]["packets"], f["source"]["bytes"]) == (fp, fb)
        assert (f["destination"]["packets"], f["destination"]["bytes"]) == (rp, rb)
        assert f["network"]["bytes"] == fb + rb and f["network"]["transport"] == "tcp"
        assert f["event"]["type"] == ["connection", "end"]


def test_flow_fields(capture):
    events, _ = read_all(capture)
    flows = by_dataset(events, "network.flow")
    http = next(f for f in flows if f["destination"].get("port") == 80)
    assert http["network"]["protocol"] == "http"
    assert http["destination"]["domain"] == "dichvucong.gov.vn"
    assert http["network"]["direction"] == "outbound"  # 10.x -> 203.113.x
    assert set(http["flow"]["tcp_flags"]) == {"SYN", "ACK", "PSH", "FIN"}
    assert http["event"]["reason"] == "closed"
    assert http["network"]["community_id"].startswith("1:")
    assert http["event"]["duration"] > 0
    tls = [f for f in flows if f["network"].get("protocol") == "tls"]
    assert {f["destination"]["domain"] for f in tls} == {f"s{i}.gov.vn" for i in range(1, 60, 6)}
    v6 = [f for f in flows if f["network"]["type"] == "ipv6"]
    assert len(v6) == 10 and all("RST" in f["flow"]["tcp_flags"] for f in v6)
    icmp = [f for f in flows if f["network"]["transport"] == "icmp"]
    assert len(icmp) == 10
    # echo requests and replies are one flow: 2 each way
    assert all(f["source"]["packets"] == 2 and f["destination"]["packets"] == 2 for f in icmp)
    assert all(f["flow"]["icmp"] == {"type": 8, "code": 0} for f in icmp)


def test_application_events(capture):
    events, _ = read_all(capture)
    dns = by_dataset(events, "network.dns")
    answers = [e for e in dns if e["dns"]["type"] == "answer"]
    assert len(answers) == 10
    a = next(e for e in answers if e["dns"]["question"]["name"] == "h2.example.vn")
    assert a["dns"]["resolved_ip"] == ["203.113.1.3"]
    assert a["dns"]["answers"][0] == {
        "name": "h2.example.vn",
        "type": "A",
        "class": "IN",
        "ttl": 300,
        "data": "203.113.1.3",
    }
    assert a["dns"]["response_code"] == "NOERROR" and "RA" in a["dns"]["header_flags"]
    assert a["source"]["port"] == 53 and a["event"]["action"] == "dns_answer"
    http = by_dataset(events, "network.http")[0]
    assert http["http"]["request"]["method"] == "GET"
    assert http["url"]["full"] == "http://dichvucong.gov.vn/p/0?q=0"
    assert http["url"]["query"] == "q=0" and http["user_agent"]["original"] == "Mozilla/5.0 (test)"
    tls = by_dataset(events, "network.tls")[0]
    assert tls["tls"]["client"]["server_name"] == "s1.gov.vn"
    assert len(tls["tls"]["client"]["ja3"]) == 32
    # app events point at their flow
    flow_ids = {f["flow"]["id"] for f in by_dataset(events, "network.flow")}
    assert {e["flow"]["id"] for e in dns + by_dataset(events, "network.tls")} <= flow_ids


def test_scapy_engine_gives_the_same_events(capture):
    fast, _ = read_all(capture, engine="fast")
    slow, _ = read_all(capture, engine="scapy")

    def strip(e: dict) -> dict:
        e = dict(e)
        e["event"] = {k: v for k, v in e["event"].items() if k != "ingested"}
        return e

    assert sorted(map(repr, map(strip, fast))) == sorted(map(repr, map(strip, slow)))


def test_replay_and_renamed_copy_store_nothing_new(tmp_path, capture):
    store = SQLiteStore(tmp_path / "s.db")
    pipeline = Pipeline(store)
    events, _ = read_all(capture)
    first = pipeline.process(events)
    assert first.stored == len(events) == 100
    copy = tmp_path / ("renamed" + capture.suffix)
    copy.write_bytes(capture.read_bytes())
    again, _ = read_all(copy)
    second = pipeline.process(again)
    assert second.stored == 0 and second.duplicates == len(again)
    found = store.search_events(EventQuery(filters={"tls.client.server_name": ["s7.gov.vn"]}))
    assert len(found.events) == 1
    store.close()


def test_batches_respect_batch_size_and_progress(tmp_path, mixed_packets):
    path = netgen.write(tmp_path / "m.pcap", mixed_packets * 1)
    seen = []
    src = PcapSource(path, batch_size=10, progress=lambda s: seen.append(s.bytes_read), progress_every=0.0)
    batches = list(src.batches(threading.Event()))
    assert sum(len(b.events) for b in batches) == 100
    assert seen and seen[-1] == path.stat().st_size
    assert src.status().lag == 0.0


def test_timeouts_split_long_and_idle_flows(tmp_path):
    t0 = 1_767_225_600.0
    pkts = []
    # one UDP conversation, a packet every 10 s for 100 s: active timeout 30 s gives 4 records
    for i in range(11):
        pkts.append((t0 + 10 * i, netgen._eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5000, dport=6000)))
    # same 5-tuple again after 200 s of silence: idle timeout 20 s makes it a new flow
    pkts.append((t0 + 300, netgen._eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5000, dport=6000)))
    path = netgen.write(tmp_path / "t.pcap", pkts)
    events, _ = read_all(path, idle_timeout=20, active_timeout=30)
    flows = by_dataset(events, "network.flow")
    assert [f["source"]["packets"] for f in flows] == [3, 3, 3, 2, 1]
    assert [f["flow"]["final"] for f in flows] == [False, False, False, True, True]
    assert [f["event"]["reason"] for f in flows] == ["active timeout"] * 3 + ["idle timeout", "end of input"]
    assert len({f["flow"]["id"] for f in flows}) == 2
    assert len({f["event"]["id"] for f in flows}) == 5
    assert all(f["network"]["direction"] == "internal" for f in flows)


def test_flow_table_is_bounded(tmp_path):
    t0 = 1_767_225_600.0
    pkts = [
        (t0 + i * 0.001, netgen._eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1024 + i, dport=53))
        for i in range(50)
    ]
    path = netgen.write(tmp_path / "b.pcap", pkts)
    events, _ = read_all(path, max_flows=10)
    flows = by_dataset(events, "network.flow")
    assert len(flows) == 50
    assert Counter(f["event"]["reason"] for f in flows) == {"evicted": 40, "end of input": 10}


def test_syn_ack_first_makes_the_server_the_destination(tmp_path):
    t0 = 1_767_225_600.0
    pkts = [
        (t0, netgen._eth() / IP(src="203.113.1.1", dst="10.0.0.5") / TCP(sport=443, dport=40000, flags="SA")),
        (t0 + 0.01, netgen._eth() / IP(src="10.0.0.5", dst="203.113.1.1") / TCP(sport=40000, dport=443, flags="A")),
    ]
    events, _ = read_all(netgen.write(tmp_path / "s.pcap", pkts))
    (flow,) = events
    assert flow["source"] == {"ip": "10.0.0.5", "port": 40000, "bytes": 40, "packets": 1}
    assert flow["destination"]["port"] == 443 and flow["destination"]["packets"] == 1


def test_client_hello_split_over_two_segments(tmp_path):
    big = netgen.client_hello("tach.gov.vn")
    padded = _pad_client_hello(big, 1800)
    half = 900
    t0 = 1_767_225_600.0
    base = netgen.tcp_session("10.1.1.1", "203.113.9.9", 40001, 443, t0, [], [], close=None)
    seg = [
        (
            t0 + 1,
            netgen._eth()
            / IP(src="10.1.1.1", dst="203.113.9.9")
            / TCP(sport=40001, dport=443, flags="PA")
            / Raw(padded[:half]),
        ),
        (
            t0 + 1.1,
            netgen._eth()
            / IP(src="10.1.1.1", dst="203.113.9.9")
            / TCP(sport=40001, dport=443, flags="PA")
            / Raw(padded[half:]),
        ),
    ]
    events, _ = read_all(netgen.write(tmp_path / "split.pcap", base + seg))
    (tls,) = by_dataset(events, "network.tls")
    assert tls["tls"]["client"]["server_name"] == "tach.gov.vn"


def _pad_client_hello(record: bytes, size: int) -> bytes:
    """Grow a ClientHello with a padding extension (type 21) so it needs several TCP segments."""
    pad = size - len(record)
    ext = struct.pack("!HH", 21, pad - 4) + b"\0" * (pad - 4)
    body = bytearray(record[9:])
    # extensions length sits after the fixed fields; recompute all three enclosing lengths
    off = 34
    off += 1 + body[off]
    off += 2 + int.from_bytes(body[off : off + 2], "big")
    off += 1 + body[off]
    ext_len = int.from_bytes(body[off : off + 2], "big") + len(ext)
    body[off : off + 2] = ext_len.to_bytes(2, "big")
    body += ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + bytes(body)
    return b"\x16" + record[1:3] + len(hs).to_bytes(2, "big") + hs


def test_link_types_and_nanosecond_timestamps(tmp_path):
    ip = IP(src="10.2.0.1", dst="8.8.8.8") / UDP(sport=3333, dport=9999) / Raw(b"x")
    t = 1_767_225_600.123456789
    for linktype, frame in (
        (101, bytes(ip)),
        (113, bytes(CookedLinux(proto=0x0800) / ip)),
        (0, struct.pack("<I", 2) + bytes(ip)),
        (108, struct.pack(">I", 2) + bytes(ip)),
        (228, bytes(ip)),
    ):
        path = netgen.write_raw_pcap(tmp_path / f"l{linktype}.pcap", [(t, frame)], linktype, nanos=True)
        events, _src = read_all(path)
        (flow,) = events
        assert flow["source"] == {"ip": "10.2.0.1", "port": 3333, "bytes": 29, "packets": 1}, linktype
        assert flow["@timestamp"] == "2026-01-01T00:00:00.123Z"


def test_ipv6_extension_headers_and_fragments():
    hop = bytes(
        netgen._eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop() / TCP(sport=1, dport=2)
    )
    pkt = decode_frame(hop, 1)
    assert pkt[3] == 6 and (pkt[4], pkt[5]) == (1, 2)
    frag = (
        netgen._eth()
        / IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrFragment(offset=100, nh=17)
        / Raw(b"x" * 8)
    )
    pkt = decode_frame(bytes(frag), 1)
    assert pkt[3] == 17 and (pkt[4], pkt[5]) == (0, 0)
    assert pkt[1] == socket.inet_pton(socket.AF_INET6, "2001:db8::1")


def test_reader_reports_format_and_fingerprint(tmp_path, mixed_packets):
    a = netgen.write(tmp_path / "a.pcapng", mixed_packets, "pcapng")
    with CaptureReader(a) as r:
        assert r.format == "pcapng"
        assert sum(1 for _ in r) == len(mixed_packets) and r.error is None
        fp = r.fingerprint()
    b = netgen.write(tmp_path / "b.pcapng", mixed_packets[:-1], "pcapng")
    with CaptureReader(b) as r:
        assert r.fingerprint() != fp


def test_clienthello_reassembly_memory_is_bounded():
    from sentinel.collect.flows import FlowTable
    from sentinel.collect.traffic import TrafficAnalyzer

    table = FlowTable(source="t", module="pcap", max_pending_bytes=5000)
    analyzer = TrafficAnalyzer(table)
    head = _pad_client_hello(netgen.client_hello("x.gov.vn"), 3000)[:1000]  # first segment of a 3 KB hello
    server = socket.inet_aton("203.113.1.1")
    for i in range(20):  # twenty connections each leave a partial hello behind
        client = socket.inet_aton(f"10.0.0.{i + 1}")
        analyzer.packet(1.0 + i, (4, client, server, 6, 40000, 443, 0x18, 1040, head), i)
    assert table.pending_bytes == 5000 and analyzer.counters.unreassembled == 15
    table.flush()
    assert table.pending_bytes == 0


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (apt-get install tshark)")
def test_tshark_agrees_on_sni_ja3_dns_and_http(tmp_path):
    """Wireshark's dissectors as the reference for what the fast path extracts."""
    from scapy.layers.tls.all import (
        TLS,
        ProtocolName,
        ServerName,
        TLS_Ext_ALPN,
        TLS_Ext_ServerName,
        TLS_Ext_SupportedGroups,
        TLS_Ext_SupportedPointFormat,
        TLSClientHello,
    )

    hello = TLS(
        msg=[
            TLSClientHello(
                ciphers=[0x0A0A, 0x1301, 0xC02F],
                ext=[
                    TLS_Ext_ServerName(servernames=[ServerName(servername=b"ja3.gov.vn")]),
                    TLS_Ext_SupportedGroups(groups=[0x1A1A, 29, 23]),
                    TLS_Ext_SupportedPointFormat(ecpl=[0]),
                    TLS_Ext_ALPN(protocols=[ProtocolName(protocol=b"h2")]),
                ],
            )
        ]
    )
    pk = netgen.mixed(seed=8, sessions=18)
    pk += netgen.tcp_session("10.0.0.1", "203.113.1.1", 40000, 443, 1_767_225_700.0, [bytes(hello)], [], None)
    path = netgen.write(tmp_path / "ts.pcap", pk)
    events, _ = read_all(path)

    def tshark(display_filter: str, *fields: str) -> list[list[str]]:
        cmd = ["tshark", "-r", str(path), "-Y", display_filter, "-T", "fields", "-E", "separator=|"]
        for f in fields:
            cmd += ["-e", f]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
        return [line.split("|") for line in out.splitlines() if line]

    tls = sorted(
        (e["tls"]["client"]["server_name"], e["tls"]["client"]["ja3"]) for e in by_dataset(events, "network.tls")
    )
    assert tls == sorted(
        tuple(r) for r in tshark("tls.handshake.type == 1", "tls.handshake.extensions_server_name", "tls.handshake.ja3")
    )
    dns = sorted((e["dns"]["question"]["name"], e["dns"]["type"]) for e in by_dataset(events, "network.dns"))
    ref = tshark("dns", "dns.qry.name", "dns.flags.response")
    assert dns == sorted((name, "answer" if resp in ("1", "True") else "query") for name, resp in ref)
    http = sorted(e["url"]["original"] for e in by_dataset(events, "network.http"))
    assert http == sorted(r[0] for r in tshark("http.request", "http.request.uri"))


def test_mpls_and_pppoe_frames():
    from scapy.contrib.mpls import MPLS
    from scapy.layers.ppp import PPP, PPPoE

    ip = IP(src="10.5.0.1", dst="203.113.7.7") / TCP(sport=41000, dport=443, flags="S")
    stacked = netgen._eth() / MPLS(label=100, s=0) / MPLS(label=200, s=1) / ip
    pkt = decode_frame(bytes(stacked), 1)
    assert (pkt[0], pkt[3], pkt[4], pkt[5]) == (4, 6, 41000, 443)
    pppoe = netgen._eth() / PPPoE(sessionid=7) / PPP(proto=0x0021) / ip
    pkt = decode_frame(bytes(pppoe), 1)
    assert pkt[1] == socket.inet_aton("10.5.0.1") and pkt[6] == 0x02


def test_stopped_read_then_full_read_stores_each_flow_once_and_whole(tmp_path, mixed_packets):
    path = netgen.write(tmp_path / "m.pcap", mixed_packets)
    store = SQLiteStore(tmp_path / "s.db")
    pipeline = Pipeline(store)
    stop = threading.Event()
    src = PcapSource(path, batch_size=1)
    for batch in src.batches(stop):
        pipeline.process(batch.events)
        stop.set()  # stop after the first batch, mid-file
    partial = pipeline.totals.stored
    full, _ = read_all(path)
    pipeline.process(full)
    assert 0 < partial < 100 and pipeline.totals.stored == 100
    flows = store.search_events(EventQuery(filters={"event.dataset": ["network.flow"]}, limit=1000)).events
    assert len(flows) == 60 and not any(f["event"]["reason"] == "shutdown" for f in flows)
    store.close()
