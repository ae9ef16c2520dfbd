"""Protocol and format structure is not personal data: real vendor lines keep their codes and algorithm names.

FortiGate's ``logid`` values of the web-filter family are valid mobile numbers, and
SSH algorithm names such as ``rijndael-cbc@lysator.liu.se`` are valid e-mail
addresses; both used to come out of ingest as pseudonyms (in ``event.original``
too). They are declared once as ``structure`` in ``classifiers/recognizers.yaml``
and blanked before recognition. A citizen's identifier on the same line is still
protected (and the property test in ``test_never_raw`` glues identifiers beside
these tokens).
"""

from __future__ import annotations

import orjson
import pytest

from sentinel.classify.analyzer import analyze_text
from sentinel.classify.catalog import StructuralToken, load_catalog
from sentinel.classify.structure import blank_structure
from sentinel.collect.parsers import LineReader
from sentinel.content import ContentError, load_model
from sentinel.policy.model import INGEST
from sentinel.policy.operators import TOKEN
from sentinel.policy.purposes import purpose_protector
from tests.content import CLASSIFIERS

from .conftest import EMAIL, PHONE

# Real lines in the vendors' formats: FortiOS log reference samples, OpenSSH's sshd messages, browsers' agents.
WEBFILTER = (
    'date=2019-03-28 time=10:44:53 logid="0316013056" type="utm" subtype="webfilter" eventtype="ftgd_blk" '
    'level="warning" vd="vdom1" eventtime=1553795093 policyid=1 sessionid=174 srcip=10.1.100.11 srcport=44258 '
    'srcintf="port12" dstip=185.244.31.158 dstport=80 dstintf="port11" proto=6 service="HTTP" '
    'hostname="morrishittu.ddns.net" profile="test-webfilter" action="blocked" reqtype="direct" url="/" '
    'sentbyte=84 rcvdbyte=0 direction="outgoing" msg="URL belongs to a denied category in policy" method="domain" '
    'cat=26 catdesc="Malicious Websites"'
)
LINES = [
    ("firewall", WEBFILTER),
    (
        "syslog",
        '<189>Mar 28 10:44:53 fgt date=2019-03-28 time=10:44:53 devname="FGT" devid="FGVM01" logid="0320013824" '
        'type="utm" subtype="webfilter" level="notice" vd="root" srcip=10.1.100.11 dstip=185.244.31.158 '
        'action="passthrough"',
    ),
    (
        "syslog",
        "Dec 10 06:55:46 LabSZ sshd[24200]: fatal: Unable to negotiate with 203.0.113.5 port 52644: no matching "
        "cipher found. Their offer: aes128-cbc,3des-cbc,blowfish-cbc,cast128-cbc,arcfour,aes192-cbc,aes256-cbc,"
        "rijndael-cbc@lysator.liu.se [preauth]",
    ),
    (
        "syslog",
        "Dec 10 07:02:11 LabSZ sshd[24311]: Unable to negotiate with 203.0.113.5 port 40022: no matching key "
        "exchange method found. Their offer: diffie-hellman-group1-sha1,curve25519-sha256@libssh.org [preauth]",
    ),
    (
        "syslog",
        "Dec 10 07:02:12 LabSZ sshd[24312]: debug1: kex: client->server cipher: chacha20-poly1305@openssh.com "
        "MAC: <implicit> compression: none",
    ),
    (
        "access",
        '203.0.113.9 - - [10/Oct/2026:13:55:36 +0700] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0 (Macintosh; '
        'Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"',
    ),
    (
        "json",
        '{"ts":"2026-11-20T01:15:03Z","msg":"ông đăng nhập từ Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; '
        'rv:109.0) Gecko/20100101 Firefox/118.0"}',
    ),
]


@pytest.fixture(scope="module")
def protect(loaded, keys):
    return purpose_protector(loaded, INGEST, keys).protect


def _event(fmt: str, line: str) -> dict:
    (event,) = LineReader(fmt=fmt).parse(line.encode(), source="/var/log/x", position=0)
    assert event["event"]["kind"] == "event"
    return event


@pytest.mark.parametrize(("fmt", "line"), LINES, ids=[f"{f}-{i}" for i, (f, _) in enumerate(LINES)])
def test_real_lines_come_out_unchanged(protect, fmt, line):
    event = _event(fmt, line)
    protected = protect(event)
    assert protected == event
    assert not TOKEN.search(orjson.dumps(protected).decode())


def test_the_logid_stays_in_the_event_code_and_the_raw_line(protect):
    protected = protect(_event("firewall", WEBFILTER))
    assert protected["event"]["code"] == "0316013056"
    assert 'logid="0316013056"' in protected["event"]["original"]


@pytest.mark.parametrize(
    ("fmt", "line", "raw"),
    [
        ("firewall", WEBFILTER.replace('msg="URL', f'msg="goi {PHONE} URL'), PHONE),
        ("syslog", "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user " + EMAIL + " from 203.0.113.5 port 52644", EMAIL),
        (
            "syslog",
            "Dec 10 06:55:46 LabSZ sshd[24200]: Unable to negotiate with 203.0.113.5 port 5: no matching cipher "
            f"found. Their offer: aes128-cbc [preauth] user {EMAIL}",
            EMAIL,
        ),
        ("syslog", f"Dec 10 06:55:46 LabSZ sshd[24200]: kex curve25519-sha256@libssh.org for x{PHONE}", PHONE),
    ],
)
def test_identifiers_beside_structure_are_still_protected(protect, fmt, line, raw):
    protected = orjson.dumps(protect(_event(fmt, line))).decode()
    assert raw not in protected
    assert "pz-" in protected


def test_blanking_keeps_offsets_and_other_text():
    text = f'logid="0316013056" msg="{PHONE}" offer kex aes256-gcm@openssh.com {EMAIL}'
    blanked = blank_structure(text, CLASSIFIERS)
    assert len(blanked) == len(text)
    assert "0316013056" not in blanked and "openssh" not in blanked
    assert PHONE in blanked and EMAIL in blanked
    spans = analyze_text(text, ["VN_PHONE", "EMAIL_ADDRESS"], classifiers_dir=CLASSIFIERS)
    assert [(s.type, s.text) for s in spans] == [("VN_PHONE", PHONE), ("EMAIL_ADDRESS", EMAIL)]


def test_the_shipped_tokens_load_and_a_wrong_example_is_refused(tmp_path):
    names = [t.name for t in load_catalog(CLASSIFIERS).recognizers.structure]
    assert names == ["fortigate_logid", "ssh_algorithm_offer", "ssh_vendor_algorithm"]
    bad = tmp_path / "token.yaml"
    bad.write_text("name: t\nliteral: logid=\nregex: 'logid=\\d{10}'\nexamples: ['logid=123']\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"token.yaml:\d+: .*must contain 'logid=' and match the regex"):
        load_model(bad, StructuralToken)
