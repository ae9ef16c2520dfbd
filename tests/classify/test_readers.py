from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel import records
from sentinel.classify.readers import read_sql
from sentinel.classify.scan import scan_dataset
from sentinel.records import SourceError, sample_file
from tests.content import CLASSIFIERS


def _write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_csv_sample_is_reproducible_and_bounded(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "t.csv", [["id", "sdt"]] + [[str(i), f"0912{i:06d}"] for i in range(1000)])
    a, b = sample_file(path, size=50, seed=1), sample_file(path, size=50, seed=1)
    c = sample_file(path, size=50, seed=2)
    assert a.records == b.records
    assert a.records != c.records
    assert (len(a.records), a.total, a.method) == (50, 1000, "reservoir")


def test_csv_rows_with_wrong_column_count_are_counted_not_hidden(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "t.csv", [["a", "b"], ["1", "2"], ["3"], ["4", "5", "6"]])
    sample = sample_file(path)
    assert sample.records == [{"a": "1", "b": "2"}]
    assert sample.skipped == 2
    assert "2 rows" in sample.notes[0]


def test_semicolon_csv_and_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeffHọ và tên;Số CCCD\nNguyễn Văn An;001085012387\n".encode())
    assert sample_file(path).records == [{"Họ và tên": "Nguyễn Văn An", "Số CCCD": "001085012387"}]


def test_large_files_are_sampled_by_seeking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "EXACT_SAMPLE_BYTES", 1000)
    path = _write_csv(tmp_path / "t.csv", [["id", "v"]] + [[str(i), "x" * 10] for i in range(5000)])
    sample = sample_file(path, size=40, seed=3)
    assert sample.method == "seek"
    assert len(sample.records) == 40
    assert all(r["v"] == "x" * 10 for r in sample.records)
    assert len({r["id"] for r in sample.records}) == 40
    assert sample_file(path, size=40, seed=3).records == sample.records
    jl = tmp_path / "t.jsonl"
    jl.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(5000)))
    assert len(sample_file(jl, size=25, seed=3).records) == 25


def test_jsonl_and_json(tmp_path: Path) -> None:
    jl = tmp_path / "e.jsonl"
    jl.write_text('{"a": 1}\nnot json\n[1, 2]\n\n{"a": 2}\n', encoding="utf-8")
    sample = sample_file(jl)
    assert sample.records == [{"a": 1}, {"a": 2}]
    assert sample.skipped == 2
    js = tmp_path / "e.json"
    js.write_text(json.dumps({"data": [{"a": 1}, {"a": 2}], "meta": {"n": 2}}), encoding="utf-8")
    assert sample_file(js).records == [{"a": 1}, {"a": 2}]
    js.write_text("{broken", encoding="utf-8")
    with pytest.raises(SourceError, match="not valid JSON"):
        sample_file(js)


def test_parquet(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "p.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT i AS id, '0912' || lpad(CAST(i * 7919 % 1000000 AS VARCHAR), 6, '0') AS so_dien_thoai "
        f"FROM range(500) t(i)) TO '{path}' (FORMAT PARQUET)"
    )
    con.close()
    sample = sample_file(path, size=30, seed=5)
    assert (len(sample.records), sample.total) == (30, 500)
    assert sample.records == sample_file(path, size=30, seed=5).records
    assert set(sample.records[0]) == {"id", "so_dien_thoai"}


def test_unknown_type_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(SourceError, match=r"unknown file type '\.xlsx'"):
        sample_file(tmp_path / "x.xlsx")
    with pytest.raises(SourceError, match="no such file"):
        sample_file(tmp_path / "nope.csv")


def _sqlite_db(path: Path, rows: int) -> str:
    import sqlite3

    con = sqlite3.connect(path)
    con.execute("CREATE TABLE citizens (id INTEGER PRIMARY KEY, ho_ten TEXT, so_cccd TEXT)")
    con.execute("CREATE TABLE dossiers (ma_ho_so TEXT)")
    con.executemany(
        "INSERT INTO citizens(ho_ten, so_cccd) VALUES (?, ?)",
        [("Nguyễn Văn An", f"0010850{i:05d}") for i in range(rows)],
    )
    con.execute("INSERT INTO dossiers VALUES ('000.00.12.H26-250101-0001')")
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def test_sqlite_through_sqlalchemy(tmp_path: Path) -> None:
    url = _sqlite_db(tmp_path / "portal.db", 3000)
    samples = list(read_sql(url, None, 100, 9))
    assert [s.source.rsplit("#", 1)[1] for s in samples] == ["citizens", "dossiers"]
    citizens = samples[0]
    assert (len(citizens.records), citizens.total, citizens.method) == (100, 3000, "random rowids")
    assert citizens.records == next(read_sql(url, "citizens", 100, 9)).records
    with pytest.raises(SourceError, match="no table 'people'"):
        next(read_sql(url, "people", 10, 1))
    results = scan_dataset(url, size=100, classifiers_dir=CLASSIFIERS)
    by_field = {f.field: f for f in results[0].fields}
    assert by_field["so_cccd"].entities[0].type == "VN_CCCD"
    assert by_field["ho_ten"].category == "basic"
    assert results[1].fields[0].category == "none"


def test_bad_database_url_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="cannot open database"):
        next(read_sql("nosuchdriver://x/y", None, 10, 1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """SENTINEL_TEST_PG_URL, or a throwaway PostgreSQL cluster on 127.0.0.1 when the server binaries exist."""
    if os.environ.get("SENTINEL_TEST_PG_URL"):
        yield os.environ["SENTINEL_TEST_PG_URL"]
        return
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL: set SENTINEL_TEST_PG_URL or install the server (initdb, pg_ctl)")
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        runuser = shutil.which("runuser")
        if not runuser:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        prefix = [runuser, "-u", "postgres", "--"]
    work = Path(tempfile.mkdtemp(prefix="sentinel-pg-"))
    os.chmod(work, 0o777)
    data, port = work / "data", _free_port()
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "sentinel"], check=True, capture_output=True)
    opts = f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-o", opts, "-w", "-l", str(work / "log"), "start"], check=True,
                   capture_output=True)  # fmt: skip
    try:
        yield f"postgresql+psycopg://sentinel@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def test_postgresql_tablesample(pg_url: str) -> None:
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS cong_dan"))
        conn.execute(sa.text("CREATE TABLE cong_dan (id serial PRIMARY KEY, ho_ten text, so_dien_thoai text)"))
        conn.execute(
            sa.text(
                "INSERT INTO cong_dan(ho_ten, so_dien_thoai) SELECT 'Trần Thị Bình', '09' || (83000000 + i * 37)::text"
                " FROM generate_series(1, 20000) i"
            )
        )
    engine.dispose()
    started = time.perf_counter()
    result = scan_dataset(pg_url, size=100, table="cong_dan", classifiers_dir=CLASSIFIERS)[0]
    assert time.perf_counter() - started < 30
    assert result.sample_method == "tablesample system"
    assert result.total_rows == 20000
    by_field = {f.field: f for f in result.fields}
    assert by_field["so_dien_thoai"].entities[0].type == "VN_PHONE"
    assert by_field["ho_ten"].entities[0].type == "PERSON"
    again = scan_dataset(pg_url, size=100, table="cong_dan", classifiers_dir=CLASSIFIERS)[0]
    assert again.sampled == result.sampled


def test_stored_events(tmp_path: Path) -> None:
    from sentinel import ecs
    from sentinel.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "sentinel.db")
    try:
        events = []
        for i in range(20):
            raw = f"login {i}"
            events.append(
                {
                    "@timestamp": f"2026-03-12T10:00:{i:02d}Z",
                    "event": {"id": ecs.event_id("test", i, raw), "dataset": "portal.auth"},
                    "source": {"ip": f"203.113.45.{i + 1}"},
                    "user": {"email": f"user{i}@hanoi.gov.vn"},
                    "message": raw,
                }
            )
        store.append_events(events)
        result = scan_dataset("events:portal.auth", size=10, store=store, classifiers_dir=CLASSIFIERS)[0]
    finally:
        store.close()
    by_field = {f.field: f for f in result.fields}
    assert result.sampled == 10
    assert by_field["source.ip"].entities[0].type == "IP_ADDRESS"
    assert by_field["user.email"].entities[0].type == "EMAIL_ADDRESS"
    assert by_field["event.dataset"].category == "none"


def test_elasticsearch_index(tmp_path: Path) -> None:
    url = os.environ.get("SENTINEL_ES_URL")
    if not url:
        pytest.skip("SENTINEL_ES_URL not set: no Elasticsearch cluster to scan")
    from elasticsearch import Elasticsearch

    client = Elasticsearch(url)
    index = f"sentinel-classify-test-{os.getpid()}"
    try:
        for i in range(30):
            client.index(index=index, document={"ho_ten": "Nguyễn Văn An", "sdt": f"09830{i:05d}"})
        client.indices.refresh(index=index)
        result = scan_dataset(f"es:{index}", size=20, es_client=client, classifiers_dir=CLASSIFIERS)[0]
        by_field = {f.field: f for f in result.fields}
        assert by_field["ho_ten"].entities[0].type == "PERSON"
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
        client.close()
