"""Write the seed corpora (``fuzz/corpus/<harness>/``): real examples of each format, so fuzzing starts deep.

Run from the repository root: ``python fuzz/make_seeds.py``. Captures and
NetFlow exports are encoded by scapy (through ``tests/collect/netgen.py``), the
content seeds are the shipped rules, playbooks and policy.
"""

from __future__ import annotations

import hashlib
import struct
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "fuzz" / "corpus"
sys.path.insert(0, str(ROOT / "tests" / "collect"))

ACCESS = [
    b'\x0010.1.4.7 - - [01/Jul/2026:10:00:00 +0700] "GET /dvc/thu-tuc?id=1 HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
    b'\x01203.0.113.9 - can_bo [01/Jul/2026:10:00:01 +0700] "POST /api/v1/ho-so HTTP/2.0" 201 77 "https://x/" "k6" '
    b"0.012 0.010",
    b'\x01::1 - - [31/Dec/2025:23:59:59 -0000] "\\x16\\x03\\x01" 400 0 "-" "-"',
    b'\x02{"@timestamp":"2026-07-01T03:00:00Z","level":"warn","msg":"login failed","user":"a","ip":"10.0.0.1"}',
    b'\x02{"event":{"id":"abc","kind":"event"},"source.ip":"10.0.0.2","url":{"original":"/x"}}',
    b'\x00{"nested":[1,2,{"a":null}],"n":1e400}',
]
SYSLOG = [
    b"\x00<165>1 2026-07-01T10:00:00.123456789+07:00 fe1.dichvucong.gov.vn portal 8710 AUDIT "
    b'[login@32473 user="can_bo" ip="10.1.2.3"] \xef\xbb\xbfdang nhap',
    b"\x00<14>1 2026-07-01T03:00:00Z - - - - - hello",
    b"\x00<38>Jul  1 10:15:00 gw sshd[411]: Failed password for root from 203.0.113.9 port 4242 ssh2",
    b"\x00<13>2026-07-01T10:00:00+07:00 host1 app: hello",
    b"\x00<134>Jul  1 10:00:00 filterlog[12345]: 5,,,1000000103,igb1,match,block,in,4,0x0,,64,12345,0,none,"
    b"6,tcp,60,198.51.100.4,10.11.25.2,51234,3389,0,S,1234,,64240,,mss",
    b"\x00<4>Jul  1 10:00:00 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.9 DST=10.1.4.1 LEN=60 PROTO=TCP "
    b"SPT=40000 DPT=22 SYN",
    b'\x00<189>date=2026-07-01 time=10:00:00 devname="FGT-XA" type="traffic" subtype="forward" srcip=10.1.4.5 '
    b"srcport=5555 dstip=8.8.8.8 dstport=53 proto=17 action=deny policyid=3 eventtime=1782874800000000000 tz=+0700",
    b"\x01Jul  1 10:00:00 gw app: a line of a file written by rsyslog",
]
FIREWALL = [
    b'\x00date=2026-07-01 time=10:00:00 type="traffic" srcip=10.1.4.5 srcport=5555 dstip=8.8.8.8 dstport=53 '
    b'proto=17 action=accept sentbyte=10 rcvdbyte=20 msg="a \\"quoted\\" word"',
    b"\x015,,,1000000103,igb1,match,block,in,4,0x0,,64,12345,0,none,6,tcp,60,198.51.100.4,10.11.25.2,51234,3389,0,S,"
    b"1234,,64240,,mss",
    b"\x017,,,1001,em0,match,pass,out,6,0x00,0x00000,64,udp,17,100,2001:db8::1,2001:db8::53,5353,53,100",
    b"\x02nft-accept-dns IN=br0 OUT=eth1 SRC=10.1.4.8 DST=8.8.8.8 LEN=70 PROTO=UDP SPT=5000 DPT=53 LEN=50",
    b"\x02[UFW BLOCK] IN=eth0 OUT= MAC=00:11 SRC=2001:db8::9 DST=2001:db8::1 PROTO=ICMPv6 TYPE=128 CODE=0",
]


def _write(name: str, seeds: list[bytes]) -> None:
    folder = CORPUS / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if not old.name.startswith("regression-"):  # inputs that once broke a parser stay
            old.unlink()
    for seed in seeds:
        (folder / hashlib.sha1(seed).hexdigest()[:16]).write_bytes(seed)


def _framed(datagrams: list[bytes]) -> bytes:
    """Datagrams as the NetFlow harness reads them: each behind a 2-byte big-endian length."""
    return b"".join(struct.pack("!H", len(d)) + d for d in datagrams)


def _netflow() -> list[bytes]:
    import netgen

    rec = dict(IPV4_SRC_ADDR="10.0.0.1", IPV4_DST_ADDR="10.0.0.2", PROTOCOL=6, IN_BYTES=1, IN_PKTS=1, L4_SRC_PORT=5,
               L4_DST_PORT=443)  # fmt: skip
    v5 = netgen.netflow_v5([dict(src="10.0.0.1", dst="10.0.0.2", prot=6, srcport=5, dstport=80)] * 3)
    v9 = netgen.netflow_v9([rec, rec], seq=5)
    ipfix = netgen.ipfix_message(
        [
            (2, netgen.ipfix_template(300, [(8, 4, 0), (82, 65535, 0), (1, 8, 0)])),
            (300, bytes(4) + b"\x02ab" + bytes(8)),
        ]
    )
    return [_framed([v5]), _framed([v9, v9]), _framed([ipfix, ipfix[:-3]]), _framed([v9[:30], v5, ipfix])]


def _pcap() -> list[bytes]:
    import netgen

    seeds = []
    with tempfile.TemporaryDirectory() as tmp:
        packets = netgen.mixed(seed=3, sessions=3)
        for fmt in ("pcap", "pcapng"):
            seeds.append(netgen.write(Path(tmp) / f"s.{fmt}", packets, fmt).read_bytes())
    frame = bytes(packets[0][1])
    seeds.append(b"F\x01" + frame)
    return seeds


def main() -> None:
    _write("access_log", ACCESS)
    _write("syslog", SYSLOG)
    _write("firewall", FIREWALL)
    _write("netflow", _netflow())
    _write("pcap", _pcap())
    _write("sigma", [p.read_bytes() for p in sorted((ROOT / "rules").rglob("*.yml"))][:40])
    _write("playbook", [p.read_bytes() for p in sorted((ROOT / "playbooks").glob("*.yml"))])
    _write("policy", [(ROOT / "classifiers" / "policy.yaml").read_bytes()])


if __name__ == "__main__":
    main()
