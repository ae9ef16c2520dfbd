"""NetFlow decoding speed: Sentinel's decoder vs scapy's (netflowv9_defragment), same exports, same run.

Exports are encoded with scapy (v5, v9) and by hand (IPFIX, RFC 7011 layout):
one template, then data packets of 24 records each, sequence numbers advancing.

  sentinel v5 / v9 / ipfix   NetflowDecoder.decode -> ECS events, records/s
  scapy v9                   NetflowHeader dissection + netflowv9_defragment, records/s (first --scapy-packets)
  udp loopback               paced sender -> NetflowSource on 127.0.0.1 -> events, records/s and loss

Rates are given per wall-clock and per CPU second: the machine is shared, CPU time is the steadier figure.
Usage: python bench/netflow.py [--packets 5000] [--scapy-packets 500] [--udp-rate 10000]
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "collect"))

import netgen

from sentinel.collect.netflow import NetflowDecoder, NetflowSource

PER_PACKET = 24


def records(n: int) -> list[dict]:
    return [
        dict(
            IPV4_SRC_ADDR=f"10.{i % 34}.{i % 250}.{i % 200 + 1}",
            IPV4_DST_ADDR=f"203.113.{i % 200}.{i % 250 + 1}",
            L4_SRC_PORT=30000 + i,
            L4_DST_PORT=443,
            PROTOCOL=6,
            TCP_FLAGS=0x1B,
            IN_BYTES=1500 * (i + 1),
            IN_PKTS=i + 3,
            FIRST_SWITCHED=500_000 + i,
            LAST_SWITCHED=590_000 + i,
            INPUT_SNMP=1,
            OUTPUT_SNMP=2,
        )
        for i in range(n)
    ]


def with_sequence(data: bytes, offset: int, seq: int) -> bytes:
    return data[:offset] + struct.pack("!I", seq) + data[offset + 4 :]


def v9_exports(packets: int) -> list[bytes]:
    template = netgen.netflow_v9([], seq=0, with_data=False)
    data = netgen.netflow_v9(records(PER_PACKET), seq=1, with_template=False)
    return [template] + [with_sequence(data, 12, seq) for seq in range(1, packets + 1)]


def v5_exports(packets: int) -> list[bytes]:
    recs = [
        dict(src=f"10.0.0.{i + 1}", dst="203.113.1.1", srcport=1000 + i, dstport=443, prot=6, dpkts=5, dOctets=900)
        for i in range(PER_PACKET)
    ]
    data = netgen.netflow_v5(recs)
    return [with_sequence(data, 16, seq * PER_PACKET) for seq in range(packets)]


def ipfix_exports(packets: int) -> list[bytes]:
    fields = [
        (8, 4, 0),
        (12, 4, 0),
        (7, 2, 0),
        (11, 2, 0),
        (4, 1, 0),
        (6, 1, 0),
        (1, 8, 0),
        (2, 8, 0),
        (152, 8, 0),
        (153, 8, 0),
    ]
    body = b"".join(
        socket.inet_aton(f"10.0.{i}.1") + socket.inet_aton("203.113.1.1")
        + struct.pack("!HHBBQQQQ", 1000 + i, 443, 6, 0x1B, 900, 5, 1_767_225_600_000 + i, 1_767_225_601_000 + i)
        for i in range(PER_PACKET)
    )  # fmt: skip
    first = netgen.ipfix_message([(2, netgen.ipfix_template(300, fields)), (300, body)], seq=0)
    data = netgen.ipfix_message([(300, body)], seq=0)
    return [first] + [with_sequence(data, 8, seq * PER_PACKET) for seq in range(1, packets)]


def report(label: str, n: int, dt: float, cpu: float) -> float:
    print(
        f"{label:<16} {n:>8} records {dt:7.2f} s wall {n / dt:>9,.0f}/s   {cpu:7.2f} s CPU {n / cpu:>9,.0f}/s",
        flush=True,
    )
    return n / cpu


def sentinel_rate(label: str, exports: list[bytes]) -> float:
    d = NetflowDecoder()
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for data in exports:
        n += len(d.decode(data, "192.0.2.1"))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    c = d.exporters["192.0.2.1"]
    assert c.malformed == 0 and n == c.records, (label, c)
    return report(label, n, dt, cpu)


def scapy_rate(exports: list[bytes]) -> float:
    from scapy.layers.netflow import NetflowDataflowsetV9, NetflowHeader, netflowv9_defragment

    t0, c0 = time.perf_counter(), time.process_time()
    pkts = netflowv9_defragment([NetflowHeader(d) for d in exports])
    n = sum(len(layer.records) for p in pkts for layer in _layers(p, NetflowDataflowsetV9))
    return report("scapy v9", n, time.perf_counter() - t0, time.process_time() - c0)


def _layers(pkt, cls):
    layer = pkt.getlayer(cls)
    while layer is not None:
        yield layer
        layer = layer.payload.getlayer(cls)


def udp_loopback(exports: list[bytes], rate: float) -> None:
    """Send at ``rate`` records/s (paced: loopback has no flow control) and count what arrives as events."""
    source = NetflowSource("udp://127.0.0.1:0", batch_size=5000, flush_interval=0.2)
    stop = threading.Event()
    got = [0]

    def consume() -> None:
        for batch in source.batches(stop):
            got[0] += len(batch.events)

    t = threading.Thread(target=consume)
    t.start()
    sent = 0
    t0, c0 = time.perf_counter(), time.process_time()
    interval = PER_PACKET / rate
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i, data in enumerate(exports):
            s.sendto(data, ("127.0.0.1", source.port))
            sent += 1
            pause = t0 + (i + 1) * interval - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
    expected = (len(exports) - 1) * PER_PACKET
    deadline = time.monotonic() + 60
    while got[0] < expected and time.monotonic() < deadline:
        before = got[0]
        time.sleep(0.5)
        if got[0] == before:
            break
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    stop.set()
    t.join()
    report("udp loopback v9", got[0], dt, cpu)
    print(f"  offered {rate:,.0f} records/s; loss {1 - got[0] / expected:.1%} (sender shares the process and CPU)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=5000, help=f"data packets per format ({PER_PACKET} records each)")
    ap.add_argument("--scapy-packets", type=int, default=500)
    ap.add_argument("--udp-rate", type=float, default=10_000, help="records/s offered to the UDP receiver")
    args = ap.parse_args()
    v9 = v9_exports(args.packets)
    base = scapy_rate(v9[: args.scapy_packets + 1])
    ours = sentinel_rate("sentinel v9", v9)
    sentinel_rate("sentinel v5", v5_exports(args.packets))
    sentinel_rate("sentinel ipfix", ipfix_exports(args.packets))
    udp_loopback(v9, args.udp_rate)
    print(f"per CPU second: sentinel v9 / scapy v9 {ours / base:.1f}x")


if __name__ == "__main__":
    main()
