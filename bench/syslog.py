"""Syslog benchmark: messages/s over UDP and TCP on loopback, with measured loss; rsyslog as the reference.

A receiver process (Sentinel's syslog source -> disk queue -> SQLite store, no transforms) listens on
127.0.0.1; this process sends a mix of commune firewall messages (FortiGate, pfSense filterlog,
iptables, RFC 5424), UDP paced at ``--udp-rate`` for ``--seconds``, then TCP (octet counting) as fast as
one connection goes. Loss is counted, not estimated: messages sent minus events stored, with the
kernel's UDP receive-buffer drops (``/proc/net/snmp``) alongside. The same traffic is then sent to
rsyslogd (``imudp``/``imtcp`` -> file) as the reference, when it is installed.

    python bench/syslog.py --udp-rate 20000 --seconds 5 --tcp-messages 100000
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MESSAGES = [
    b'<189>date=2026-07-01 time=10:00:{s:02d} devname="FGT-MuongPhang" devid="FG100FTK" logid="0000000013" '
    b'type="traffic" subtype="forward" level="notice" srcip=10.11.25.{h} srcport={p} srcintf="lan" '
    b'dstip=203.0.113.7 dstport=443 dstintf="wan1" policyid=3 proto=6 action="accept" service="HTTPS" '
    b'sentbyte=1200 rcvdbyte=5400 tz="+0700"',
    b"<134>Jul  1 10:00:{s:02d} filterlog[4242]: 5,,,1000000103,igb1,match,block,in,4,0x0,,64,12345,0,none,6,tcp,"
    b"60,198.51.100.{h},10.11.27.2,{p},3389,0,S,1234,,64240,,mss",
    b"<4>Jul  1 10:00:{s:02d} gw-hoankiem kernel: [12345.678] DROP-IN: IN=eth0 OUT= SRC=198.51.100.{h} "
    b"DST=10.1.70.1 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=0 DF PROTO=TCP SPT={p} DPT=22 WINDOW=64240 SYN URGP=0",
    b"<165>1 2026-07-01T10:00:{s:02d}.120+07:00 fe1.dichvucong.gov.vn portal 8710 AUDIT "
    b'[origin ip="10.0.1.{h}"] dossier submitted port {p}',
]


def message(i: int) -> bytes:
    return (
        MESSAGES[i % 4]
        .replace(b"{s:02d}", b"%02d" % (i % 60))
        .replace(b"{h}", str(i % 250).encode())
        .replace(b"{p}", str(1024 + i % 60000).encode())
    )


def udp_drops() -> int:
    lines = Path("/proc/net/snmp").read_text().splitlines()
    heads, values = [ln.split() for ln in lines if ln.startswith("Udp:")][:2]
    row = dict(zip(heads[1:], values[1:], strict=True))
    return int(row.get("RcvbufErrors", 0))


def send_udp(port: int, rate: int, seconds: float) -> tuple[int, float]:
    """Paced sender: ``rate`` messages/s in 5 ms slots. Returns (sent, seconds taken)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    total = int(rate * seconds)
    per_slot = max(1, rate // 200)
    sent = 0
    start = time.perf_counter()
    while sent < total:
        for _ in range(min(per_slot, total - sent)):
            s.sendto(message(sent), ("127.0.0.1", port))
            sent += 1
        ahead = start + sent / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    return sent, time.perf_counter() - start


def send_tcp(port: int, n: int) -> tuple[int, float]:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as c:
        chunk = []
        for i in range(n):
            m = message(i)
            chunk.append(b"%d " % len(m) + m)
            if len(chunk) == 500:
                c.sendall(b"".join(chunk))
                chunk = []
        if chunk:
            c.sendall(b"".join(chunk))
    return n, time.perf_counter() - start


# -- receivers ---------------------------------------------------------------------------------------
def receiver(data: Path, udp: int, tcp: int) -> None:
    """Child process: Sentinel's syslog collector into a SQLite store until SIGTERM."""
    import gc

    gc.set_threshold(50_000, 20, 100)  # as `sentinel collect` does
    sys.setswitchinterval(float(os.environ.get("BENCH_SWITCH", "0.005")))
    from sentinel.collect.syslog import Listen, SyslogSource
    from sentinel.ingest.collector import Runner, RunOptions
    from sentinel.ingest.pipeline import Pipeline
    from sentinel.ingest.queue import DiskQueue
    from sentinel.ingest.sinks import StoreSink
    from sentinel.store.sqlite import SQLiteStore

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    source = SyslogSource("bench", [Listen("udp", "127.0.0.1", udp), Listen("tcp", "127.0.0.1", tcp)])
    sink = StoreSink(Pipeline(SQLiteStore(data / "s.db")))
    runner = Runner("bench", [source], sink, DiskQueue(data / "q.db"), options=RunOptions(status_interval=0.5),
                    status_path=data / "status.json")  # fmt: skip
    runner.run(once=False, stop=stop)


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=10) as c:
            return c.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def lines_in(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def received(status: Path) -> int:
    """Messages the collector received and queued on disk (its own counter)."""
    try:
        return int(orjson.loads(status.read_bytes())["read"])
    except (OSError, ValueError, KeyError):
        return 0


def settle(count: Any, target: int, quiet: float = 10.0, limit: float = 300.0) -> tuple[int, float]:
    """Wait until ``count()`` reaches ``target`` or stops growing for ``quiet`` s; (count, seconds)."""
    start = time.perf_counter()
    last, last_change = -1, time.perf_counter()
    while True:
        n = count()
        now = time.perf_counter()
        if n != last:
            last, last_change = n, now
        if n >= target or now - last_change > quiet or now - start > limit:
            return n, last_change - start
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_case(name: str, count: Any, send: Any, expected_total: int) -> dict[str, Any]:
    base = count()
    drops0 = udp_drops()
    sent, send_s = send()
    got, settle_s = settle(lambda: count() - base, sent)
    return {"name": name, "sent": sent, "send_rate": sent / send_s, "received": got,
            "lost": sent - got, "kernel_drops": udp_drops() - drops0, "seconds": send_s + settle_s}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--udp-rate", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--tcp-messages", type=int, default=100_000)
    ap.add_argument("--receiver", nargs=3, metavar=("DIR", "UDP", "TCP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receiver:
        receiver(Path(args.receiver[0]), int(args.receiver[1]), int(args.receiver[2]))
        return
    root = Path(tempfile.mkdtemp(prefix="sentinel-syslog-"))
    results = []
    try:
        udp, tcp = free_port(), free_port()
        child = subprocess.Popen([sys.executable, __file__, "--receiver", str(root), str(udp), str(tcp)])
        try:
            deadline = time.monotonic() + 60
            while not (root / "status.json").exists():
                assert time.monotonic() < deadline and child.poll() is None, "receiver did not start"
                time.sleep(0.05)
            db, status = root / "s.db", root / "status.json"
            results.append(run_case("Sentinel, UDP", lambda: received(status),
                                    lambda: send_udp(udp, args.udp_rate, args.seconds), 0))  # fmt: skip
            results.append(run_case("Sentinel, TCP octet-counted", lambda: received(status),
                                    lambda: send_tcp(tcp, args.tcp_messages), 0))  # fmt: skip
            total = sum(r["received"] for r in results)
            t0 = time.perf_counter()
            in_store, _ = settle(lambda: stored(db), total, quiet=30.0, limit=600.0)
            print(f"Sentinel: {in_store:,} of {total:,} received events in the SQLite store "
                  f"({time.perf_counter() - t0:.1f}s after the last message was received)")  # fmt: skip
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(300)
        rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        if Path(rsyslogd).exists():
            udp, tcp = free_port(), free_port()
            out = root / "rsyslog.out"
            conf = root / "rsyslog.conf"
            conf.write_text(
                textwrap.dedent(f"""
                global(workDirectory="{root}")
                module(load="imudp")
                module(load="imtcp")
                input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="r")
                input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="r")
                ruleset(name="r") {{ action(type="omfile" file="{out}") }}
            """)
            )
            rs = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(root / "rs.pid")])
            try:
                deadline = time.monotonic() + 20
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", tcp), timeout=0.2).close()
                        break
                    except OSError:
                        assert time.monotonic() < deadline, "rsyslogd did not start"
                        time.sleep(0.05)
                results.append(run_case("rsyslog 8 (reference), UDP", lambda: lines_in(out),
                                        lambda: send_udp(udp, args.udp_rate, args.seconds), 0))  # fmt: skip
                results.append(run_case("rsyslog 8 (reference), TCP octet-counted", lambda: lines_in(out),
                                        lambda: send_tcp(tcp, args.tcp_messages), 0))  # fmt: skip
            finally:
                rs.send_signal(signal.SIGTERM)
                rs.wait(10)
        print("\n| Receiver | sent | send rate msg/s | received | lost | kernel UDP drops | end-to-end msg/s |")
        print("|---|---|---|---|---|---|---|")
        for r in results:
            print(
                f"| {r['name']} | {r['sent']:,} | {r['send_rate']:,.0f} | {r['received']:,} | {r['lost']:,} | "
                f"{r['kernel_drops']:,} | {r['received'] / r['seconds']:,.0f} |"
            )
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
