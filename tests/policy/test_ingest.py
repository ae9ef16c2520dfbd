"""Ingest enforcement: personal data in log events becomes pseudonyms before anything is stored."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path
from urllib.parse import quote_plus

import orjson
import pytest

from sentinel.collect.parsers import parse_line
from sentinel.config import Settings
from sentinel.ingest.assemble import build_pipeline
from sentinel.policy.model import INGEST
from sentinel.policy.operators import TOKEN
from sentinel.policy.purposes import purpose_protector
from sentinel.runtime import Runtime
from sentinel.store.base import EventQuery
from sentinel.store.sqlite import SQLiteStore

from .conftest import CCCD, EMAIL, NAME, PHONE

BANK = "0451000123456"
ACCESS = (
    f'14.160.32.7 - - [20/Nov/2026:08:15:02 +0700] "GET /dvc/nop-ho-so?ho_ten={quote_plus(NAME)}&cccd={CCCD}'
    f'&sdt={PHONE}&thu_tuc=1.001612 HTTP/1.1" 200 5120 "-" "Mozilla/5.0"'
)
APP = orjson.dumps(
    {
        "ts": "2026-11-20T01:15:03Z",
        "level": "info",
        "msg": f"Công dân {NAME} (CCCD {CCCD}) nộp hồ sơ, liên hệ {EMAIL}",
        "form": {
            "ho_ten": NAME,
            "so_cccd": CCCD,
            "so_dien_thoai": PHONE,
            "ngay_sinh": "15/03/1999",
            "dia_chi": "12 Lý Thường Kiệt, phường Cửa Nam, Thành phố Hà Nội",
            "so_tai_khoan": BANK,
            "tinh_trang_suc_khoe": "tiểu đường",
        },
        "province": "Hà Nội",
        "commune": "Phường Cửa Nam",
    }
).decode()
BROKEN = f'{{"msg": "bad json from {CCCD} and {PHONE}", '  # a malformed line is kept as pipeline_error
RAW_VALUES = [CCCD, PHONE, NAME, quote_plus(NAME), EMAIL, BANK, "15/03/1999", "Lý Thường Kiệt", "tiểu đường"]


@pytest.fixture
def stored(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    store = SQLiteStore(settings.sqlite_path)
    pipeline = build_pipeline(Runtime(settings), store, detect=False)
    lines = [ACCESS, APP, BROKEN]
    events = [parse_line(line.encode(), source="/var/log/portal.log", position=i) for i, line in enumerate(lines)]
    counts = pipeline.process(events)
    assert counts.stored == 3 and counts.parse_errors == 1
    docs = store.search_events(EventQuery(limit=10, ascending=True)).events
    yield settings, store, docs
    store.close()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != "policy.key"}


def _index_hits(db: Path, text: str) -> int:
    """Events whose full-text index holds ``text`` as a phrase: FTS5 prefix-compresses its terms, so bytes miss it."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        phrase = '"' + text.replace('"', '""') + '"'
        return con.execute("SELECT count(*) FROM events_fts WHERE events_fts MATCH ?", (phrase,)).fetchone()[0]


def test_raw_values_are_written_nowhere(stored):
    settings, store, (access, _, _) = stored
    live = _files(settings.data_dir)  # the store still open: the newest pages are in its write-ahead log
    assert live.get(settings.sqlite_path.name + "-wal"), "no live WAL to check: the test would see nothing"
    token = access["url"]["query"].split("cccd=")[1].split("&")[0]
    assert _index_hits(settings.sqlite_path, token) == 3 and _index_hits(settings.sqlite_path, "1.001612") == 1
    for raw in RAW_VALUES:
        assert _index_hits(settings.sqlite_path, raw) == 0, raw
    store.close()  # checkpointed into the main file
    closed = _files(settings.data_dir)
    for raw in RAW_VALUES:
        for name, blob in [*live.items(), *closed.items()]:
            assert raw.encode() not in blob, (raw, name)


def test_same_pseudonym_in_every_field(stored):
    _, _, (access, app, broken) = stored
    cccd_tokens = {t for t in TOKEN.findall(orjson.dumps([access, app, broken]).decode()) if "vn_cccd" in t}
    assert len(cccd_tokens) == 1
    token = cccd_tokens.pop()
    assert (
        token in access["url"]["query"] and token in access["url"]["original"] and token in access["event"]["original"]
    )
    assert app["app"]["form"]["so_cccd"] == token and token in app["message"] and token in app["event"]["original"]
    assert token in broken["event"]["original"]
    name_token = access["url"]["query"].split("ho_ten=")[1].split("&")[0]
    assert name_token.startswith("pz-person-") and app["app"]["form"]["ho_ten"] == name_token
    assert "thu_tuc=1.001612" in access["url"]["query"]  # procedure codes are not personal data


def test_operators_per_entity_at_ingest(stored):
    _, _, (access, app, _) = stored
    form = app["app"]["form"]
    assert form["ngay_sinh"] == "1999"  # generalised
    assert form["dia_chi"] == "Hà Nội"
    assert form["so_tai_khoan"].startswith("pe-vn_bank_account-")  # encrypted: lawful re-identification
    assert form["tinh_trang_suc_khoe"] == "<HEALTH>"  # sensitive: removed
    assert access["source"]["ip"] == "14.160.32.7"  # the SOC keeps addresses
    assert app["labels"] == {"province": "Hà Nội", "commune": "Phường Cửa Nam"}


def test_search_finds_events_by_pseudonym(stored):
    _, store, (access, _, _) = stored
    token = access["url"]["query"].split("cccd=")[1].split("&")[0]
    assert store.count_events(EventQuery(text=token)) == 3
    assert store.count_events(EventQuery(text=CCCD)) == 0


def test_protecting_twice_changes_nothing(loaded, keys, stored):
    protector = purpose_protector(loaded, INGEST, keys)
    for doc in stored[2]:
        once = protector.protect(doc)
        assert protector.protect(once) == once


def test_no_raw_value_in_logs(loaded, keys, caplog):
    protector = purpose_protector(loaded, INGEST, keys)
    with caplog.at_level(logging.DEBUG):
        for i, line in enumerate([ACCESS, APP, BROKEN]):
            protector.protect(parse_line(line.encode(), source="x", position=i))
    text = "\n".join(r.getMessage() for r in caplog.records)
    for raw in RAW_VALUES:
        assert raw not in text


def test_network_address_fields_are_not_taken_for_home_addresses(tmp_path):
    """ECS *.address fields hold hosts and ports (upstream.address, source.address), not where a citizen lives."""
    from sentinel.collect.parsers import parse_line
    from sentinel.policy.purposes import ingest_transform

    line = (
        b'14.160.2.3 - - [20/Nov/2026:09:00:00 +0700] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0" '
        b'rt=0.010 urt="0.009" ua="10.10.6.20:8080" us="200"'
    )
    event = parse_line(line, source="t", position=0)
    runtime = Runtime(Settings(data_dir=tmp_path))
    protected = ingest_transform(runtime.policy, runtime.keys)(event)
    assert protected["nginx"]["access"]["upstream"]["address"] == "10.10.6.20:8080"
    assert protected["event"]["original"] == line.decode()


# "Giáp" and "Lữ" are not listed surnames: only the name tagger finds these names, and only where text is free.
TAGGED = "Giáp Thu Ngân"


def test_the_name_tagger_protects_messages_form_fields_and_query_words(loaded, keys):
    protector = purpose_protector(loaded, INGEST, keys)
    app = orjson.dumps(
        {
            "ts": "2026-11-20T01:15:03Z",
            "msg": f"Bà {TAGGED} gửi kiến nghị về hồ sơ",
            "form": {"noi_dung": f"Tôi là ông Lữ Quốc Phương, ủy quyền cho chị {TAGGED} nộp thay"},
        }
    )
    search = (
        f'14.160.32.7 - - [20/Nov/2026:08:15:02 +0700] "GET /tim-kiem?tu-khoa={quote_plus("hồ sơ của bà " + TAGGED)}'
        f'&page=1 HTTP/1.1" 200 5120 "https://www.google.com/search?q={quote_plus("ông Lữ Quốc Phương")}" '
        '"Mozilla/5.0 (Linux; Android 14) Chrome/129.0 Mobile Safari/537.36"'
    )
    syslog = f"<134>Nov 20 08:15:02 portal app[12]: phản ánh của ông {TAGGED} đã tiếp nhận"
    from sentinel.collect.parsers import LineReader

    reader = LineReader()
    for i, line in enumerate([app.decode(), search, syslog]):
        (event,) = reader.parse(line.encode(), source="x", position=i)
        assert event["event"]["kind"] != "pipeline_error"
        text = orjson.dumps(protector.protect(event)).decode()
        assert TAGGED not in text and "Lữ Quốc Phương" not in text, line
        assert "pz-person-" in text


def test_the_name_tagger_does_not_read_user_agents_or_paths(loaded, keys):
    from sentinel.classify.recognizers import _tagged_people

    protector = purpose_protector(loaded, INGEST, keys)
    # a capitalised run of syllables beside a title word, in a user agent and in a path: structure, not a person
    line = (
        '14.160.32.7 - - [20/Nov/2026:08:15:02 +0700] "GET /bai-viet/Ong Gia Bao Tin HTTP/1.1" 200 5120 "-" '
        '"Mozilla/5.0 (Linux; Android 14; anh Gio Xe Bao Build) Chrome/129.0 Mobile Safari/537.36"'
    )
    misses = _tagged_people.cache_info().misses
    event = parse_line(line.encode(), source="x", position=0)
    assert protector.protect(event) == event
    assert _tagged_people.cache_info().misses == misses
