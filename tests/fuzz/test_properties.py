"""Property tests (hypothesis) for the parsers that had none: syslog, the firewall formats, playbook and policy YAML.

The access-log/JSON, NetFlow and pcap parsers have theirs next to their own
tests; the atheris harnesses in ``fuzz/`` explore the same contracts longer.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.collect import firewall
from sentinel.collect.parsers import ParseError
from sentinel.collect.syslog_parse import parse_syslog
from sentinel.content import ContentError
from sentinel.policy.model import load_policy
from sentinel.respond.playbook import PlaybookLibrary
from tests.content import CLASSIFIERS

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)
VIETNAM = timezone(timedelta(hours=7))

headers = st.sampled_from([b"", b"<13>", b"<134>1 ", b"<191>", b"<0>Jul  1 10:00:00 ", b"<14>1 2026-07-01T03:00:00"])
tails = st.sampled_from([b"", b" host app[1]: ", b" - - - - ", b'Z h a p m [x a="b"] ', b".Z ", b"filterlog: "])


@settings(max_examples=300, deadline=None)
@given(head=headers, tail=tails, body=st.binary(max_size=300), from_file=st.booleans())
def test_syslog_any_bytes_one_event_with_a_stable_id(head: bytes, tail: bytes, body: bytes, from_file: bool) -> None:
    raw = head + tail + body
    event = parse_syslog(raw, source="prop", position=1, now=NOW, from_file=from_file)
    assert event["event"]["kind"] in ("event", "pipeline_error")
    if event["event"]["kind"] == "pipeline_error":
        assert event["error"]["message"]
    again = parse_syslog(raw, source="prop", position=1, now=NOW + timedelta(hours=5), from_file=from_file)
    assert again["event"]["id"] == event["event"]["id"], "the id does not depend on the receiver's clock"


kv_values = st.one_of(st.text(max_size=20), st.from_regex(r"\d{1,6}", fullmatch=True), st.ip_addresses().map(str))
kv_keys = st.sampled_from(["srcip", "dstip", "srcport", "dstport", "proto", "action", "date", "time", "tz",
                           "eventtime", "sentbyte", "type", "msg", "policyid"])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(kv_keys, kv_values), max_size=12))
def test_fortigate_fields_parse_or_say_why(pairs: list[tuple[str, str]]) -> None:
    text = " ".join(f'{k}="{v}"' if " " in v else f"{k}={v}" for k, v in pairs)
    try:
        doc = firewall.parse_fortigate(text, VIETNAM)
    except ParseError as exc:
        assert str(exc)
    else:
        assert doc["event"]["type"]


@settings(max_examples=300, deadline=None)
@given(fields=st.lists(st.one_of(st.text(max_size=12), st.integers(0, 70000).map(str)), max_size=30))
def test_filterlog_fields_parse_or_say_why(fields: list[str]) -> None:
    try:
        doc = firewall.parse_filterlog(",".join(f.replace(",", "") for f in fields))
    except ParseError as exc:
        assert str(exc)
    else:  # what parses is a firewall's network event, its addresses real addresses
        assert doc["observer"]["type"] == "firewall" and "network" in doc["event"]["category"]
        for side in ("source", "destination"):
            if "ip" in doc.get(side, {}):
                ipaddress.ip_address(doc[side]["ip"])


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(["SRC", "DST", "SPT", "DPT", "PROTO", "IN", "OUT", "LEN"]),
                                 kv_values.map(lambda v: v.replace(" ", ""))), max_size=10))  # fmt: skip
def test_netfilter_fields_parse_or_say_why(pairs: list[tuple[str, str]]) -> None:
    try:
        doc = firewall.parse_netfilter("[UFW BLOCK] " + " ".join(f"{k}={v}" for k, v in pairs))
    except ParseError as exc:
        assert str(exc)
    else:  # only a line with IN=/OUT= parses; the prefix (all before IN=, as the kernel writes it) is the rule
        assert {"IN", "OUT"} & {k for k, _ in pairs} and doc["rule"]["name"].startswith("UFW BLOCK")
        assert doc["observer"]["type"] == "firewall" and "network" in doc["event"]["category"]


# YAML trees: what a hand-edited content file can turn into
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=15))
trees = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                      st.dictionaries(st.text(max_size=10), kids, max_size=4)),
                     max_leaves=20)  # fmt: skip


def _mutate(doc: dict, path: list[str], value: object) -> dict:
    """``doc`` with the value at ``path`` (as far as it exists) replaced by ``value``."""
    node = doc
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            break
        node = node[key]
    node[path[-1] if path else "extra"] = value
    return doc


PLAYBOOK = yaml.safe_load((REPO / "playbooks" / "web_attack.yml").read_text())
POLICY = yaml.safe_load((REPO / "classifiers" / "policy.yaml").read_text())


def _keys(doc: dict) -> list[list[str]]:
    out = []
    for k, v in doc.items():
        out.append([k])
        if isinstance(v, dict):
            out += [[k, *sub] for sub in _keys(v)]
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(_keys(PLAYBOOK)), value=trees)
def test_a_changed_playbook_loads_or_fails_with_file_line_reason(tmp_path_factory, where, value) -> None:
    folder = tmp_path_factory.mktemp("pb")
    doc = _mutate(yaml.safe_load(yaml.safe_dump(PLAYBOOK)), where, value)
    (folder / "book.yml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        library = PlaybookLibrary.load(folder)
    except ContentError as exc:  # file:line: reason, the line of the changed key
        assert exc.line is not None and str(exc).startswith(f"{folder / 'book.yml'}:{exc.line}: ") and exc.reason
    else:
        assert len(library) == 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(_keys(POLICY)), value=trees)
def test_a_changed_policy_loads_or_fails_with_file_line_reason(tmp_path_factory, where, value) -> None:
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    doc = _mutate(yaml.safe_load(yaml.safe_dump(POLICY)), where, value)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        load_policy(path, classifiers_dir=CLASSIFIERS)
    except ContentError as exc:  # file:line: reason, the line of the changed key
        assert exc.line is not None and str(exc).startswith(f"{path}:{exc.line}: ") and exc.reason
