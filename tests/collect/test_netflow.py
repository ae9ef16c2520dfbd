"""NetFlow v5/v9 and IPFIX decoding, template handling and the UDP receiver on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import netgen

from sentinel.collect.netflow import NetflowDecoder, NetflowSource, parse_listen
from sentinel.ingest.pipeline import Pipeline
from sentinel.store.sqlite import SQLiteStore

EXPORTER = "192.0.2.10"


def v9rec(i: int, **kw) -> dict:
    rec = dict(
        IPV4_SRC_ADDR=f"10.1.0.{i}",
        IPV4_DST_ADDR="203.113.5.5",
        L4_SRC_PORT=40000 + i,
        L4_DST_PORT=443,
        PROTOCOL=6,
        TCP_FLAGS=0x1B,
        IN_BYTES=1000 + i,
        IN_PKTS=10 + i,
        FIRST_SWITCHED=590_000,
        LAST_SWITCHED=599_500,
        INPUT_SNMP=3,
        OUTPUT_SNMP=7,
    )
    rec.update(kw)
    return rec


def flows(events: list[dict]) -> list[dict]:
    return [e for e in events if e["event"]["kind"] == "event"]


def test_v5_records():
    data = netgen.netflow_v5(
        [
            dict(
                src="10.0.0.2",
                dst="8.8.8.8",
                srcport=5353,
                dstport=53,
                prot=17,
                dpkts=1,
                dOctets=70,
                first=598_000,
                last=598_000,
                input=2,
                output=9,
            ),
            dict(
                src="198.51.100.7",
                dst="10.0.0.9",
                srcport=0,
                dstport=0x0800,
                prot=1,
                dpkts=4,
                dOctets=336,
                first=590_000,
                last=593_000,
            ),
        ],
        seq=4242,
    )
    d = NetflowDecoder()
    udp, icmp = d.decode(data, EXPORTER)
    assert udp["observer"]["ip"] == EXPORTER
    assert udp["source"] == {"ip": "10.0.0.2", "port": 5353, "bytes": 70, "packets": 1}
    assert udp["destination"] == {"ip": "8.8.8.8", "port": 53}
    assert udp["network"]["transport"] == "udp" and udp["network"]["direction"] == "outbound"
    assert udp["observer"]["ingress"]["interface"]["id"] == "2"
    # export at 1767225600 with uptime 600 s; the flow started at uptime 598 s
    assert udp["@timestamp"] == "2025-12-31T23:59:58.000Z"
    assert udp["netflow"] == {"version": 5, "sequence": 4242, "observation_domain": 0}
    sampled = bytearray(data)
    sampled[22:24] = (0x4000 | 64).to_bytes(2, "big")  # mode 1, 1 in 64
    assert d.decode(bytes(sampled), EXPORTER)[0]["netflow"]["sampling_interval"] == 64
    assert icmp["flow"]["icmp"] == {"type": 8, "code": 0} and icmp["network"]["direction"] == "inbound"
    assert icmp["event"]["duration"] == 3_000_000_000
    assert d.exporters[EXPORTER].records == 4  # two exports of two records


def test_v9_template_then_data_and_ids_are_stable():
    d = NetflowDecoder()
    both = netgen.netflow_v9([v9rec(1), v9rec(2)], seq=10)
    events = d.decode(both, EXPORTER)
    assert len(events) == 2
    e = events[0]
    assert e["source"] == {"ip": "10.1.0.1", "port": 40001, "bytes": 1001, "packets": 11}
    assert e["flow"]["tcp_flags"] == ["FIN", "SYN", "PSH", "ACK"]
    assert e["observer"]["egress"]["interface"]["id"] == "7"
    assert e["event"]["end"] == "2025-12-31T23:59:59.500Z"
    # data-only packets use the cached template
    later = d.decode(netgen.netflow_v9([v9rec(3)], seq=11, with_template=False), EXPORTER)
    assert later[0]["source"]["ip"] == "10.1.0.3"
    # the same export decoded again (retransmission, replay) gets the same ids
    again = NetflowDecoder().decode(both, EXPORTER)
    assert [x["event"]["id"] for x in again] == [x["event"]["id"] for x in events]
    # ... but not from another exporter
    other = NetflowDecoder().decode(both, "192.0.2.99")
    assert {x["event"]["id"] for x in other}.isdisjoint(x["event"]["id"] for x in events)


def test_v9_data_before_template_is_parked_then_decoded():
    d = NetflowDecoder()
    assert d.decode(netgen.netflow_v9([v9rec(1)], seq=1, with_template=False), EXPORTER) == []
    assert d.exporters[EXPORTER].missing_template == 1
    events = d.decode(netgen.netflow_v9([], seq=2, with_data=False), EXPORTER)
    assert [e["source"]["ip"] for e in events] == ["10.1.0.1"]
    assert events[0]["netflow"]["sequence"] == 1  # the parked export's own header


def test_templates_are_per_exporter_and_domain():
    d = NetflowDecoder()
    short = [(8, 4), (12, 4), (4, 1), (1, 4), (2, 4)]
    d.decode(netgen.netflow_v9([v9rec(1)], seq=1), "192.0.2.1")
    d.decode(netgen.netflow_v9([], seq=1, fields=short, with_data=False), "192.0.2.2")
    a = d.decode(netgen.netflow_v9([v9rec(5)], seq=2, with_template=False), "192.0.2.1")
    b_rec = dict(IPV4_SRC_ADDR="10.9.9.9", IPV4_DST_ADDR="10.8.8.8", PROTOCOL=17, IN_BYTES=5, IN_PKTS=1)
    b = d.decode(netgen.netflow_v9([b_rec], seq=2, fields=short, with_template=False), "192.0.2.2")
    assert a[0]["source"]["port"] == 40005
    assert b[0]["source"] == {"ip": "10.9.9.9", "port": 0, "bytes": 5, "packets": 1}
    # same exporter, other source id: the template is not shared
    c = d.decode(netgen.netflow_v9([v9rec(6)], seq=3, source_id=77, with_template=False), "192.0.2.1")
    assert c == [] and d.exporters["192.0.2.1"].missing_template == 1


def test_ipfix_with_ipv6_enterprise_and_variable_length_fields():
    fields = [(27, 16, 0), (28, 16, 0), (7, 2, 0), (11, 2, 0), (4, 1, 0), (1, 8, 0), (2, 8, 0)]
    fields += [(152, 8, 0), (153, 8, 0), (1001, 4, 29305), (82, 65535, 0), (136, 1, 0)]
    tpl = netgen.ipfix_template(300, fields)
    src = socket.inet_pton(socket.AF_INET6, "2001:db8::5")
    dst = socket.inet_pton(socket.AF_INET6, "2404:6800::1")
    start_ms = 1_767_225_600_250
    rec = src + dst + struct.pack("!HHBQQQQ", 50000, 443, 6, 12345, 20, start_ms, start_ms + 1500)
    rec += b"\xde\xad\xbe\xef" + bytes([4]) + b"eth0" + bytes([3])
    long_name = b"x" * 300  # a variable-length field in the 3-byte form
    rec2 = src + dst + struct.pack("!HHBQQQQ", 50001, 443, 6, 1, 1, start_ms, start_ms) + b"\0" * 4
    rec2 += b"\xff" + struct.pack("!H", len(long_name)) + long_name + bytes([1])
    msg = netgen.ipfix_message([(2, tpl), (300, rec + rec2 + b"\0\0\0")], seq=900, domain=5)
    d = NetflowDecoder()
    e1, e2 = d.decode(msg, EXPORTER)
    assert e1["source"] == {"ip": "2001:db8::5", "port": 50000, "bytes": 12345, "packets": 20}
    assert e1["network"]["type"] == "ipv6" and e1["network"]["direction"] == "external"
    assert e1["@timestamp"] == "2026-01-01T00:00:00.250Z" and e1["event"]["duration"] == 1_500_000_000
    assert e1["event"]["reason"] == "end of flow detected"
    assert e2["event"]["reason"] == "idle timeout" and e2["source"]["port"] == 50001
    assert e1["netflow"] == {"version": 10, "sequence": 900, "observation_domain": 5}
    assert d.exporters[EXPORTER].malformed == 0
    # withdrawal (field count 0) forgets the template
    d.decode(netgen.ipfix_message([(2, struct.pack("!HH", 300, 0))], seq=901, domain=5), EXPORTER)
    assert d.decode(netgen.ipfix_message([(300, rec)], seq=902, domain=5), EXPORTER) == []


def test_ipfix_bidirectional_counters_and_uptime_times():
    fields = [
        (8, 4, 0),
        (12, 4, 0),
        (4, 1, 0),
        (231, 8, 0),
        (232, 8, 0),
        (298, 8, 0),
        (299, 8, 0),
        (22, 4, 0),
        (21, 4, 0),
    ]
    fields += [(160, 8, 0)]
    rec = (
        socket.inet_aton("10.0.0.1")
        + socket.inet_aton("10.0.0.2")
        + struct.pack("!BQQQQII", 17, 500, 7000, 5, 9, 1000, 3000)
    )
    rec += struct.pack("!Q", 1_767_225_000_000)
    msg = netgen.ipfix_message([(2, netgen.ipfix_template(400, fields)), (400, rec)])
    (e,) = NetflowDecoder().decode(msg, EXPORTER)
    assert e["source"]["bytes"] == 500 and e["destination"] == {
        "bytes": 7000,
        "packets": 9,
        "ip": "10.0.0.2",
        "port": 0,
    }
    assert e["network"]["bytes"] == 7500 and e["network"]["packets"] == 14
    assert e["event"]["start"] == "2025-12-31T23:50:01.000Z" and e["event"]["end"] == "2025-12-31T23:50:03.000Z"


def test_v9_options_records_are_counted_not_flows():
    # options template 257: scope system (1) 4 bytes, option sampling interval (34) 4 bytes
    opt_tpl = struct.pack("!HHH", 257, 4, 4) + struct.pack("!HHHH", 1, 4, 34, 4)
    opt_set = struct.pack("!HH", 1, 4 + len(opt_tpl) + 2) + opt_tpl + b"\0\0"
    data_set = struct.pack("!HH", 257, 4 + 8) + struct.pack("!II", 0, 100)
    body = opt_set + data_set
    msg = struct.pack("!HHIIII", 9, 2, 1000, 1_767_225_600, 1, 1) + body
    d = NetflowDecoder()
    assert d.decode(msg, EXPORTER) == []
    assert d.exporters[EXPORTER].options_records == 1 and d.exporters[EXPORTER].malformed == 0
    # the sampling rate it announced is carried on that exporter's flows
    (flow,) = d.decode(netgen.netflow_v9([v9rec(1)], seq=2), EXPORTER)
    assert flow["netflow"]["sampling_interval"] == 100
    (other,) = d.decode(netgen.netflow_v9([v9rec(1)], seq=2, source_id=9), EXPORTER)
    assert "sampling_interval" not in other["netflow"]


def test_parse_listen():
    assert parse_listen("udp://127.0.0.1:2055") == ("127.0.0.1", 2055)
    assert parse_listen("udp://[::1]:9995") == ("::1", 9995)
    assert parse_listen("0.0.0.0:2055") == ("0.0.0.0", 2055)
    for bad in ("tcp://1.2.3.4:2055", "udp://127.0.0.1", "udp://:x"):
        with pytest.raises(ValueError, match="udp://"):
            parse_listen(bad)


def _run_source(source: NetflowSource, send) -> list[dict]:
    stop = threading.Event()
    got: list[dict] = []

    def consume() -> None:
        for batch in source.batches(stop):
            got.extend(batch.events)

    t = threading.Thread(target=consume)
    t.start()
    try:
        send(source.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and source.decoder.exporters.get("127.0.0.1", None) is None:
            time.sleep(0.02)
        time.sleep(0.5)
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()
    return got


def test_receiver_on_loopback_into_the_store(tmp_path):
    datagrams = [
        netgen.netflow_v5([dict(src="10.0.0.2", dst="8.8.8.8", prot=17, dpkts=1, dOctets=70)], seq=1),
        netgen.netflow_v9([v9rec(1), v9rec(2)], seq=1),
        netgen.netflow_v9([v9rec(3)], seq=2, with_template=False),
        netgen.ipfix_message([(2, netgen.ipfix_template(300, [(8, 4, 0), (12, 4, 0), (4, 1, 0)])), (300, bytes(9))]),
        b"\x00",  # garbage: too short
        b"GET / HTTP/1.1\r\n\r\n",  # garbage: not NetFlow
        netgen.netflow_v9([v9rec(4)], seq=3)[:30],  # truncated
    ]

    def send(port: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for d in datagrams:
                s.sendto(d, ("127.0.0.1", port))
                time.sleep(0.005)

    source = NetflowSource("udp://127.0.0.1:0", flush_interval=0.1)
    events = _run_source(source, send)
    good = flows(events)
    errors = [e for e in events if e["event"]["kind"] == "pipeline_error"]
    assert len(good) == 5
    assert {e["observer"]["ip"] for e in good} == {"127.0.0.1"}
    c = source.decoder.exporters["127.0.0.1"]
    assert c.packets == 7 and c.malformed == 3 and c.records == 5
    assert len(errors) == 1  # rate-limited: one report, the rest counted
    status = source.status()
    assert status.read == 5 and status.parse_errors == 3 and "3 malformed" in status.errors[0]

    store = SQLiteStore(tmp_path / "nf.db")
    pipeline = Pipeline(store)
    assert pipeline.process(events).stored == 6
    # the exporter resends the same datagrams (or the collector replays them): nothing new
    replayed = NetflowDecoder(error_interval=0)
    again = [e for d in datagrams for e in replayed.decode(d, "127.0.0.1")]
    assert pipeline.process(flows(again)).stored == 0
    store.close()


def test_port_in_use_is_a_clear_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        with pytest.raises(OSError):
            NetflowSource(f"udp://127.0.0.1:{s.getsockname()[1]}")


@pytest.mark.skipif(shutil.which("softflowd") is None, reason="softflowd not installed (apt-get install softflowd)")
@pytest.mark.parametrize("version", ["9", "10"])
def test_softflowd_exports_match_the_pcap_flows(tmp_path, version):
    """A real exporter: softflowd turns a capture into v9/IPFIX; totals must match the pcap path."""
    from sentinel.collect.traffic import PcapSource

    pk = [p for p in netgen.mixed(seed=3, sessions=30) if p[1].haslayer("IP")]
    cap = netgen.write(tmp_path / "s.pcap", pk)
    source = NetflowSource("udp://127.0.0.1:0", flush_interval=0.1)

    def send(port: int) -> None:
        subprocess.run(
            ["softflowd", "-r", str(cap), "-n", f"127.0.0.1:{port}", "-v", version, "-d", "-D"],
            check=True,
            timeout=30,
            capture_output=True,
        )

    got = flows(_run_source(source, send))
    assert got, "softflowd sent no flows"
    pcap_events = [e for b in PcapSource(cap).batches(threading.Event()) for e in b.events]
    pcap_flows = [e for e in pcap_events if e["event"]["dataset"] == "network.flow"]
    # softflowd reports each direction as its own record; totals agree
    assert sum(e["network"]["bytes"] for e in got) == sum(e["network"]["bytes"] for e in pcap_flows)
    assert sum(e["network"]["packets"] for e in got) == sum(e["network"]["packets"] for e in pcap_flows)
    assert {e["network"]["community_id"] for e in got} == {e["network"]["community_id"] for e in pcap_flows}


def test_receive_buffer_overflow_is_reported_as_dropped():
    source = NetflowSource("udp://127.0.0.1:0", flush_interval=0.1, receive_buffer=4096)
    export = netgen.netflow_v5([dict(src="10.0.0.2", dst="8.8.8.8", prot=17, dpkts=1, dOctets=70)] * 30)

    def send(port: int, count: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(count):
                s.sendto(export, ("127.0.0.1", port))

    send(source.port, 300)  # before the receiver reads anything: most cannot be queued
    # the kernel reports the drop count with the next datagram queued after the drops
    events = _run_source(source, lambda port: (time.sleep(0.3), send(port, 1)))
    status = source.status()
    assert status.dropped > 0 and "receive buffer full" in status.errors[-1]
    assert len(events) + status.dropped * 30 == 301 * 30


def test_sequence_gaps_count_exports_lost_on_the_way():
    d = NetflowDecoder()
    rec = dict(src="10.0.0.2", dst="8.8.8.8", prot=17)
    for seq in (0, 3, 6, 12):  # v5 counts flows: 3 records each, the export at 9 never came
        d.decode(netgen.netflow_v5([rec] * 3, seq=seq), "192.0.2.1")
    assert d.exporters["192.0.2.1"].sequence_gap == 3
    for seq in (1, 2, 5, 6, 1):  # v9 counts packets: 3 and 4 lost; the jump back to 1 is a restart
        d.decode(netgen.netflow_v9([v9rec(1)], seq=seq), "192.0.2.2")
    assert d.exporters["192.0.2.2"].sequence_gap == 2
    tpl = netgen.ipfix_template(300, [(8, 4, 0), (12, 4, 0), (4, 1, 0)])
    two = bytes(9) * 2
    for seq in (0, 2, 6):  # IPFIX counts data records: 2 per message, the message at 4 is missing
        d.decode(netgen.ipfix_message([(2, tpl), (300, two)], seq=seq), "192.0.2.3")
    assert d.exporters["192.0.2.3"].sequence_gap == 2
