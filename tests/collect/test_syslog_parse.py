"""Syslog headers (RFC 5424, RFC 3164 and variants) and commune firewall formats to ECS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sentinel.collect.syslog_parse import parse_syslog

NOW = datetime(2026, 7, 1, 3, 30, tzinfo=UTC)


def parse(raw: bytes, **kw: object) -> dict:
    kw.setdefault("now", NOW)
    return parse_syslog(raw, source="test", position=1, peer="10.11.25.1:514", **kw)  # type: ignore[arg-type]


def test_rfc5424_with_structured_data_and_bom() -> None:
    e = parse(
        b"<165>1 2026-07-01T10:00:00.123456789+07:00 fe1.dichvucong.gov.vn portal 8710 AUDIT "
        b'[origin ip="10.0.1.5"][meta x="a\\"b\\]c"] \xef\xbb\xbfLogin ok'
    )
    assert e["@timestamp"] == "2026-07-01T03:00:00.123Z"
    sl = e["log"]["syslog"]
    assert sl["facility"] == {"code": 20, "name": "local4"} and sl["severity"] == {"code": 5, "name": "notice"}
    assert sl["hostname"] == "fe1.dichvucong.gov.vn" and sl["appname"] == "portal" and sl["msgid"] == "AUDIT"
    assert sl["structured_data"] == {"origin": {"ip": "10.0.1.5"}, "meta": {"x": 'a"b]c'}}
    assert e["message"] == "Login ok"
    assert e["process"] == {"name": "portal", "pid": 8710}
    assert e["log"]["source"] == {"address": "10.11.25.1:514"}
    assert e["event"]["kind"] == "event" and e["event"]["dataset"] == "syslog"


def test_rfc5424_nil_values() -> None:
    e = parse(b"<14>1 2026-07-01T03:00:00Z - - - - - hello")
    assert e["message"] == "hello" and "hostname" not in e["log"]["syslog"]
    assert e["@timestamp"] == "2026-07-01T03:00:00.000Z"


def test_rfc3164_uses_the_configured_zone_and_infers_the_year() -> None:
    e = parse(b"<38>Jul  1 10:15:00 gw sshd[411]: Failed password for root from 203.0.113.9 port 4242 ssh2")
    assert e["@timestamp"] == "2026-07-01T03:15:00.000Z"  # +07:00 by default
    assert e["host"]["hostname"] == "gw" and e["process"] == {"name": "sshd", "pid": 411}
    assert e["message"].startswith("Failed password")
    dec = parse(b"<38>Dec 31 23:59:59 gw app: x", now=datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC))
    assert dec["@timestamp"].startswith("2026-12-31")


def test_rfc3164_without_hostname() -> None:
    e = parse(
        b"<134>Jul  1 10:00:00 filterlog[123]: 5,,,1000,em0,match,pass,out,4,0x0,,64,1,0,DF,17,udp,76,"
        b"10.11.25.3,8.8.8.8,53000,53,56"
    )
    assert "hostname" not in e["log"]["syslog"] and e["process"]["name"] == "filterlog"


def test_iso_timestamp_variant() -> None:
    e = parse(b"<13>2026-07-01T10:00:00+07:00 host1 app: hello")
    assert e["@timestamp"] == "2026-07-01T03:00:00.000Z" and e["message"] == "hello"


def test_fortigate_traffic_deny() -> None:
    e = parse(
        b'<189>date=2026-07-01 time=10:00:00 devname="FGT-MuongPhang" devid="FG100FTK" logid="0000000013" '
        b'type="traffic" subtype="forward" level="notice" srcip=10.11.25.7 srcport=51234 srcintf="lan" '
        b'dstip=203.0.113.7 dstport=443 dstintf="wan1" policyid=3 proto=6 action="deny" service="HTTPS" '
        b'sentbyte=100 rcvdbyte=0 tz="+0700" msg="denied by policy"'
    )
    assert e["event"]["dataset"] == "fortinet.firewall"
    assert e["source"] == {"ip": "10.11.25.7", "port": 51234, "bytes": 100}
    assert e["destination"] == {"ip": "203.0.113.7", "port": 443, "bytes": 0}
    assert e["network"] == {"iana_number": "6", "transport": "tcp", "protocol": "https"}
    assert e["event"]["action"] == "deny" and e["event"]["outcome"] == "success"  # ECS: the block succeeded
    assert e["event"]["type"] == ["connection", "denied"]
    assert e["observer"]["name"] == "FGT-MuongPhang" and e["observer"]["vendor"] == "Fortinet"
    assert e["rule"]["id"] == "3" and e["message"] == "denied by policy"
    assert e["@timestamp"] == "2026-07-01T03:00:00.000Z"


def test_fortigate_eventtime_in_nanoseconds() -> None:
    e = parse(
        b'<189>logid="0100032001" type="event" subtype="system" devname="f" eventtime=1782873000123456789 '
        b'action="login" user="admin" srcip=10.1.4.9'
    )
    assert e["@timestamp"].startswith("2026-") and e["user"]["name"] == "admin"


def test_pfsense_ipv4_tcp_block() -> None:
    e = parse(
        b"<134>Jul  1 10:00:00 filterlog[12345]: 5,,,1000000103,igb1,match,block,in,4,0x0,,64,12345,0,none,"
        b"6,tcp,60,198.51.100.4,10.11.25.2,51234,3389,0,S,1234,,64240,,mss"
    )
    assert e["event"]["dataset"] == "pfsense.log"
    assert e["source"] == {"ip": "198.51.100.4", "port": 51234}
    assert e["destination"] == {"ip": "10.11.25.2", "port": 3389}
    assert e["network"]["transport"] == "tcp" and e["network"]["direction"] == "inbound"
    assert e["event"]["type"] == ["connection", "denied"] and e["rule"]["id"] == "1000000103"


def test_pfsense_ipv6_udp_pass() -> None:
    e = parse(
        b"<134>Jul  1 10:00:00 filterlog[1]: 7,,,1001,em0,match,pass,out,6,0x00,0x00000,64,udp,17,100,"
        b"2001:db8::1,2001:db8::53,5353,53,100"
    )
    assert e["source"]["ip"] == "2001:db8::1" and e["destination"]["port"] == 53
    assert e["network"]["type"] == "ipv6" and e["event"]["outcome"] == "success"


def test_iptables_and_nftables_lines() -> None:
    e = parse(
        b"<4>Jul  1 10:00:00 gw kernel: [12345.678] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99"
        b":aa:bb:08:00 SRC=198.51.100.9 DST=10.1.4.1 LEN=60 TOS=0x00 TTL=50 ID=0 DF PROTO=TCP SPT=40000 "
        b"DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0"
    )
    assert e["event"]["dataset"] == "iptables.log"
    assert e["source"]["ip"] == "198.51.100.9" and e["source"]["mac"] == "66-77-88-99-AA-BB"
    assert e["destination"] == {"ip": "10.1.4.1", "port": 22, "mac": "00-11-22-33-44-55"}
    assert e["event"]["type"] == ["connection", "denied"] and e["rule"]["name"] == "UFW BLOCK"
    assert e["iptables"]["tcp"]["flags"] == ["SYN"]
    nft = parse(
        b"<4>Jul  1 10:00:00 gw kernel: nft-accept-dns IN=br0 OUT=eth1 SRC=10.1.4.8 DST=8.8.8.8 LEN=70 "
        b"PROTO=UDP SPT=5000 DPT=53 LEN=50"
    )
    assert nft["network"]["transport"] == "udp" and nft["event"]["outcome"] == "success"
    assert nft["observer"]["egress"] == {"interface": {"name": "eth1"}}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"no priority here", "<PRI>"),
        (b"<999>Jul  1 10:00:00 x y: z", "out of range"),
        (b"<34>1 2026-07-01T10:00:00Z h a p m [bad", "structured data"),
        (b"<34>1 yesterday h a p m - msg", "RFC 3339"),
        (b"<134>Jul  1 10:00:00 filterlog[1]: 5,,,1,igb1,match,block,in,4,0x0", "fields"),
        (
            b"<134>Jul  1 10:00:00 filterlog[1]: 5,,,1,igb1,match,block,in,4,0x0,,64,1,0,none,6,tcp,60,10.0.0.300,"
            b"10.0.0.1,1,2",
            "not an IP address",
        ),
        (b'<189>logid="13" type="traffic" devname="f" srcip=10.0.0.1 srcport=http', "not a number"),
        (b"<4>Jul  1 10:00:00 gw kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=nope PROTO=TCP", "not an IP address"),
        (b"<13>Feb 30 10:00:00 h a: x", "not a date"),
    ],
)
def test_malformed_messages_become_counted_pipeline_errors(raw: bytes, reason: str) -> None:
    e = parse(raw)
    assert e["event"]["kind"] == "pipeline_error"
    assert reason in e["error"]["message"]
    assert e["event"]["original"] == raw.decode("utf-8", "backslashreplace")
    assert e["event"]["id"]


def test_invalid_utf8_is_kept_readable() -> None:
    e = parse(b"<13>Jul  1 10:00:00 h app: caf\xe9 \xff")
    assert e["event"]["kind"] == "event" and "\\xff" in e["message"]


def test_same_message_same_position_same_id() -> None:
    raw = b"<13>Jul  1 10:00:00 h app: x"
    assert parse(raw)["event"]["id"] == parse(raw)["event"]["id"]
    other = parse_syslog(raw, source="test", position=2, now=NOW)
    assert other["event"]["id"] != parse(raw)["event"]["id"]


def test_edgeos_prefix_glued_to_in_and_an_icmp_error_quoting_its_packet() -> None:
    e = parse(
        b"<4>Jul  1 10:00:00 er-x kernel: [WAN_LOCAL-default-D]IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb"
        b":08:00 SRC=198.51.100.9 DST=10.1.4.1 LEN=88 TOS=0x00 PREC=0x00 TTL=63 ID=1 PROTO=ICMP TYPE=3 CODE=3 "
        b"[SRC=10.1.4.1 DST=198.51.100.9 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=2 PROTO=UDP SPT=53 DPT=5353 LEN=40 ]"
    )
    assert e["event"]["dataset"] == "iptables.log" and e["rule"]["name"] == "WAN_LOCAL-default-D"
    assert e["event"]["type"] == ["connection", "denied"]  # -D: EdgeOS's drop
    # the outer packet's addresses and protocol, not the quoted UDP packet's
    assert e["source"]["ip"] == "198.51.100.9" and e["destination"]["ip"] == "10.1.4.1"
    assert e["network"]["transport"] == "icmp" and "port" not in e["destination"]
    assert e["iptables"]["icmp"]["original"]["proto"] == "UDP" and e["iptables"]["icmp"]["type"] == "3"
    assert e["network"]["type"] == "ipv4"


def test_icmpv6_is_ipv6_icmp() -> None:
    e = parse(
        b"<4>Jul  1 10:00:00 gw kernel: ip6-drop IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 LEN=64 "
        b"PROTO=ICMPv6 TYPE=128 CODE=0"
    )
    assert e["network"] == {"type": "ipv6", "transport": "ipv6-icmp", "iana_number": "58", "bytes": 64}


def test_fortigate_without_device_fields_vpn_and_admin_logins() -> None:
    bare = parse(
        b'<189>date=2026-07-01 time=10:00:00 logid="0000000013" type="traffic" subtype="forward" '
        b"srcip=10.11.25.7 dstip=203.0.113.7 srcport=5000 dstport=443 proto=6 action=accept"
    )
    assert bare["event"]["dataset"] == "fortinet.firewall" and bare["@timestamp"] == "2026-07-01T03:00:00.000Z"
    vpn = parse(
        b'<189>date=2026-07-01 time=10:00:00 logid="0101039426" type="event" subtype="vpn" level="alert" '
        b'logdesc="SSL VPN login fail" action="ssl-login-fail" tunneltype="ssl-web" remip=198.51.100.7 '
        b'user="N/A" reason="sslvpn_login_unknown_user"'
    )
    assert vpn["event"]["category"] == ["authentication", "session"] and vpn["event"]["outcome"] == "failure"
    assert vpn["source"] == {"ip": "198.51.100.7"} and "user" not in vpn  # N/A is no user
    tunnel = parse(
        b'<189>date=2026-07-01 time=10:00:00 logid="0101037138" type="event" subtype="vpn" action="tunnel-up" '
        b'remip=198.51.100.8 locip=203.0.113.1 remport=500 locport=500 tranip=10.212.134.200 status="success" '
        b'unauthuser="nguyen.an"'
    )
    assert tunnel["event"]["outcome"] == "success"
    assert tunnel["source"] == {"ip": "198.51.100.8", "port": 500, "user": {"name": "nguyen.an"}}
    assert tunnel["destination"] == {"ip": "203.0.113.1", "port": 500, "nat": {"ip": "10.212.134.200"}}
    admin = parse(
        b'<189>date=2026-07-01 time=10:00:00 devname="fw1" logid="0100032002" type="event" subtype="system" '
        b'user="admin" srcip=198.51.100.9 action="login" status="failed" reason="passwd_invalid"'
    )
    assert admin["event"]["category"] == ["authentication"] and admin["event"]["outcome"] == "failure"


@pytest.mark.parametrize(
    ("prefix", "action"),
    [("[UFW BLOCK] ", "block"), ("[WAN_LOCAL-default-D]", "drop"), ("[LAN_IN-10-A]", "accept"), ("fw-x ", "fw-x")],
)
def test_netfilter_action_is_the_verdict_and_the_prefix_the_rule(prefix: str, action: str) -> None:
    e = parse(f"<4>Jul  1 10:00:00 gw kernel: {prefix}IN=eth0 OUT= SRC=198.51.100.9 DST=10.1.4.1 PROTO=TCP".encode())
    assert e["event"]["action"] == action and e["rule"]["name"] == prefix.strip("[]: ")
