"""No raw personal value is stored anywhere, however it is glued into an event (property test).

Every example builds an event (a structured ECS event, a parsed log line or an
unparsable line kept as ``pipeline_error``) with a valid citizen ID, mobile
number or e-mail address (its digits ASCII or another script's, a number's
groups maybe parted by no-break or zero-width spaces) injected into one of its
strings between arbitrary glue, sends it the way a collector does (edge protection, then its disk queue
and dead letter) and through the store's ingest pipeline, and then reads every
byte the node wrote -- the SQLite database and its live WAL, the full-text index
(asked with MATCH as well, since FTS5 compresses its terms), the disk queue, the
dead-letter rows and the log -- for the raw value.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import string
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.classify import validators
from sentinel.classify.normalize import plain_text
from sentinel.collect.parsers import parse_line
from sentinel.config import Settings
from sentinel.ingest.assemble import build_pipeline, edge_stages
from sentinel.ingest.queue import DiskQueue
from sentinel.ingest.ready import MakeReady
from sentinel.policy.model import INGEST
from sentinel.policy.purposes import purpose_protector
from sentinel.runtime import Runtime
from sentinel.store.sqlite import SQLiteStore

PROVINCE_CODES = ["001", "031", "038", "048", "079", "092"]
MOBILE_PREFIXES = ["032", "039", "056", "070", "086", "090", "091", "098"]
DOMAINS = ["example.vn", "dichvucong.gov.vn", "mail.example.com"]
# Glue: separators and the kinds of words logs glue to identifiers (no digit next to a number, which would
# make it another number, and no negative-context word such as "order" or "v", which says it is not personal).
PUNCT = "-_/.:=#?&@+~%!*,;()[]{}<>|\\'\" "
WORDS = ["x", "req", "CCCD", "ho-so", "giay-to", "file", "id", "user", "tmp", "abc", "pdf", "Nguyen", "hs"]
FILLER = ["GET", "POST", "/api/ho-so", "status=200", "portal", "login", "ok", "Hà Nội", "phường Cửa Nam", "nộp"]
# Structural tokens (classifiers/recognizers.yaml: structure) beside the value: blanked, never a way past protection.
FILLER += ['logid="0316013056"', "Their offer: aes128-cbc,rijndael-cbc@lysator.liu.se"]
FILLER += ["kex curve25519-sha256@libssh.org"]

cccds = st.builds(
    lambda p, g, y, rest: f"{p}{g}{y:02d}{rest:06d}",
    st.sampled_from(PROVINCE_CODES),
    st.sampled_from("0123"),
    st.integers(50, 99),
    st.integers(1000, 999_999),
).filter(validators.cccd)
phones = st.builds(
    lambda p, rest, intl: (f"+84{p[1:]}" if intl else p) + f"{rest:07d}",
    st.sampled_from(MOBILE_PREFIXES),
    st.integers(1_000_000, 9_999_999),
    st.booleans(),
).filter(lambda v: validators.phone(v))
emails = st.builds(
    lambda user, n, domain: f"{user}.{n}@{domain}",
    st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=8),
    st.integers(1, 999),
    st.sampled_from(DOMAINS),
)
glue_words = st.lists(st.sampled_from(WORDS), max_size=2).map("".join)
glue_punct = st.text(alphabet=PUNCT, max_size=3)


# The zero of the script the value's digits are typed in: ASCII, or fullwidth, Arabic-Indic, Devanagari,
# mathematical bold (what an input method or a copy from a PDF gives; the recognisers read them as digits).
ZEROS = st.one_of(st.just(0x30), st.sampled_from([0xFF10, 0x0660, 0x0966, 0x1D7CE]))


# What a word processor or a web page puts between the groups of a number: no-break, narrow no-break and
# thin spaces; zero-width space, soft hyphen and word joiner (invisible)
GROUP_SPACES = st.sampled_from(["\u00a0", "\u202f", "\u2009", "\u200b", "\u00ad", "\u2060"])


def _grouped(value: str, space: str) -> str:
    """A citizen ID as 3-3-6 digits, a mobile number as 4-3-3 (the way they are written out)."""
    if not value.isdigit():
        return value
    cuts = (3, 6) if len(value) == 12 else (4, 7)
    return space.join((value[: cuts[0]], value[cuts[0] : cuts[1]], value[cuts[1] :]))


@st.composite
def glued(draw: st.DrawFn) -> tuple[str, str]:
    """(raw value, the value between glue on both sides)."""
    zero = draw(ZEROS)
    raw = draw(st.one_of(cccds, phones, emails))
    grouped = draw(st.booleans()) and raw.isdigit()
    if grouped:
        raw = _grouped(raw, draw(GROUP_SPACES))
    raw = "".join(chr(zero + int(c)) if "0" <= c <= "9" else c for c in raw)
    left = draw(glue_words) + draw(glue_punct)
    right = draw(glue_punct) + draw(glue_words)
    if grouped:  # written out in groups, a number stands apart (glued to letters, only a run of digits is read)
        left, right = left + " ", " " + right
    if "@" in raw and right[:1].isalnum():
        right = "." + right  # letters right after a domain make another domain: a file name's dot is the case
    return raw, f"{left}{raw}{right}"


@st.composite
def events(draw: st.DrawFn) -> tuple[str, str, dict | bytes]:
    """(kind, raw value, a structured event or a raw log line) with the glued value somewhere inside."""
    raw, value = draw(glued())
    filler = draw(st.lists(st.sampled_from(FILLER), min_size=1, max_size=4))
    at = draw(st.integers(0, len(filler)))
    text = " ".join([*filler[:at], value, *filler[at:]])
    kind = draw(st.sampled_from(["event", "line", "broken"]))
    if kind == "line":
        return kind, raw, orjson.dumps({"ts": "2026-11-20T01:15:03Z", "msg": " ".join(filler), "path": text})
    if kind == "broken":
        return kind, raw, f'{{"msg": "cut off {text}'.encode()
    where = draw(st.sampled_from(["message", "url.path", "file.name", "labels.request_id", "user.name", "tags"]))
    doc: dict = {"@timestamp": "2026-11-20T01:15:03Z", "event": {"kind": "event", "dataset": "portal.app"}}
    doc["message"] = " ".join(filler)
    if where == "tags":
        doc["tags"] = ["portal", text]
    else:
        head, _, leaf = where.rpartition(".")
        (doc.setdefault(head, {}) if head else doc)[leaf] = text
    if draw(st.booleans()):  # the same value unglued elsewhere in the event
        doc.setdefault("user", {})["id"] = raw
    return kind, raw, doc


class Node:
    """One data directory written the way a collector and its store write it."""

    def __init__(self, root: Path) -> None:
        self.settings = Settings(data_dir=root / "data")
        self.runtime = Runtime(self.settings)
        self.store = SQLiteStore(self.settings.sqlite_path)
        self.pipeline = build_pipeline(self.runtime, self.store, detect=False)
        self.edge = MakeReady(edge_stages(self.runtime, None), None, None).transform
        self.queue = DiskQueue(self.settings.data_dir / "collect" / "portal" / "queue.db")
        self.log_path = root / "sentinel.log"
        self.handler = logging.FileHandler(self.log_path, encoding="utf-8")
        self.handler.setLevel(logging.DEBUG)
        self.ids = itertools.count()

    def send(self, kind: str, item: dict | bytes) -> None:
        n = next(self.ids)
        if kind == "event":
            event = orjson.loads(orjson.dumps(item))
            event["event"]["id"] = f"ev-{n}"
        else:
            event = parse_line(item, source="/var/log/portal.log", position=n)
            assert (event["event"]["kind"] == "pipeline_error") == (kind == "broken")
        batch = self.edge([event])
        self.queue.put(batch)
        self.queue.put_dead(batch, "refused by the central node")
        self.pipeline.process([orjson.loads(orjson.dumps(event))])  # the store's pipeline protects on its own

    def written(self) -> bytes:
        self.handler.flush()
        files = [p for p in self.settings.data_dir.rglob("*") if p.is_file() and p.name != "policy.key"]
        assert any(p.name.endswith("-wal") for p in files)  # the live WAL is read too, not only checkpoints
        return b"".join(p.read_bytes() for p in [*files, self.log_path])

    def fts_matches(self, raw: str) -> int:
        phrase = '"' + raw.replace('"', '""') + '"'
        with sqlite3.connect(f"file:{self.settings.sqlite_path}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM events_fts WHERE events_fts MATCH ?", (phrase,)).fetchone()[0]

    def close(self) -> None:
        self.queue.close()
        self.store.close()
        self.handler.close()


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("never-raw"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(node.handler)
    root.setLevel(logging.DEBUG)
    yield node
    root.removeHandler(node.handler)
    root.setLevel(old_level)
    node.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(example=events())
def test_no_raw_value_is_written_anywhere(node, example):
    kind, raw, item = example
    node.send(kind, item)
    assert raw.encode() not in node.written(), f"raw {kind} value written to disk"
    assert node.fts_matches(raw) == 0


@pytest.mark.parametrize(
    "event",
    [
        {"user": {"name": "001099012345"}, "labels": {"request_id": "req-001099012345"}},
        {"file": {"name": "CCCD_001099012345.pdf"}},
        {"process": {"args": ["x001099012345"]}},
        {"message": "GET /ho-so/001099012345/giay-to.pdf HTTP/1.1"},
        {"message": "ok", "user": {"email": "an@example.vn"}, "file": {"path": "/tmp/xan@example.vn.pdf"}},
        {"a": "0983417265", "b": "tel:+84983417265;", "c": "x0983417265"},
        {"url": {"path": "idid+84865393805{&\\ POST"}},  # glued to letters: the +84 is what makes it a number
    ],
)
def test_glued_identifiers_are_protected_everywhere(loaded, keys, event):
    protected = orjson.dumps(purpose_protector(loaded, INGEST, keys).protect(event))
    for raw in (b"001099012345", b"an@example.vn", b"0983417265", b"84983417265", b"84865393805"):
        assert raw not in protected
    # typed in another script's digits, the same identifiers are found and get the same pseudonyms
    for zero in (0xFF10, 0x0660, 0x0966):
        other = orjson.loads(orjson.dumps(event).decode().translate({48 + d: zero + d for d in range(10)}))
        again = purpose_protector(loaded, INGEST, keys).protect(other)
        assert plain_text(orjson.dumps(again).decode()).encode() == protected, hex(zero)


def test_dossier_codes_and_timestamps_stay(loaded, keys):
    """The glued pieces go through the validators: what is not an identifier is not touched."""
    event = {
        "message": "hs 000.00.34.H56-240815-0012 at 2026-11-20T08:00:00Z",
        "url": {"path": "/api/ho-so/H01.2026.000123/tt-1.001612/t20261120080000/e1764662400000/ma-9999999999"},
    }
    assert purpose_protector(loaded, INGEST, keys).protect(event) == event


def test_masked_view_rescans_for_every_hidden_entity(loaded):
    """A citizen ID that slipped through ingest is masked for an auditor, in events and in alerts alike."""
    from sentinel.identity import Principal
    from sentinel.policy.access import RoleView

    view = RoleView(loaded, Principal(name="kiem-toan", role="auditor"))
    event = {"message": "GET /ho-so/001099012345/giay-to.pdf lien he 0983417265", "event": {"id": "e1"}}
    shown = orjson.dumps(view.mask_event(event))
    assert b"001099012345" not in shown and b"0983417265" not in shown
    alert = {
        "id": "a1",
        "group_key": "k",
        "entity": {},
        "events": [event],
        "notes": [{"author": "an", "text": "citizen 001099012345 called"}],
        "close_reason": "duplicate of 001099012345",
        "labels": {"province": "Thành phố Hà Nội"},
    }
    shown = orjson.dumps(view.mask_alert(alert))
    assert b"001099012345" not in shown and b"0983417265" not in shown
    assert b"Th\xc3\xa0nh ph\xe1\xbb\x91 H\xc3\xa0 N\xe1\xbb\x99i" in shown  # the scope label stays readable


@pytest.mark.parametrize(
    ("text", "piece"),
    [
        ("cut off .+0861611818pdf", "0861611818"),  # a "+" that is no country code is glue like any other
        ("giay-to]-+031056141091.!", "031056141091"),
        ("x+84912834571", "+84912834571"),
    ],
)
def test_a_plus_is_glue_unless_it_starts_a_country_code(text: str, piece: str) -> None:
    from sentinel.policy.glued import glued_digits

    assert list(glued_digits(text)) == [piece]


def test_an_address_after_a_second_at_sign_is_a_candidate() -> None:
    from sentinel.policy.glued import at_tokens, email_candidates

    (token,) = at_tokens("login userhs@zgxzmg.304@example.vn :tmp")
    assert "zgxzmg.304@example.vn" in email_candidates(token)


@pytest.mark.parametrize(
    "text, address",
    [
        ("(aaa.217@example.vn__@hsabc login", "aaa.217@example.vn"),  # found by the property above
        ("a.b@example.vn_@abc", "a.b@example.vn"),
        ("x@y@lan.nguyen@example.vn.pdf", "lan.nguyen@example.vn"),
    ],
)
def test_an_address_before_a_later_at_sign_is_a_candidate(text: str, address: str) -> None:
    from sentinel.policy.glued import at_tokens, email_candidates

    assert any(address in email_candidates(token) for token in at_tokens(text))


def test_an_address_glued_before_another_at_sign_is_protected(loaded, keys) -> None:
    protector = purpose_protector(loaded, INGEST, keys)
    event = {"message": "(aaa.217@example.vn__@hsabc login", "event": {"original": "a.b@example.vn_@abc"}}
    out = orjson.dumps(protector.protect(event))
    assert b"aaa.217@example.vn" not in out and b"a.b@example.vn" not in out
