"""``sentinel ingest`` / ``sentinel search`` end to end on the embedded store."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.demo.traffic import generate


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SENTINEL_ES_URL", raising=False)
    return tmp_path


def run(*args, input=None):
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result


@pytest.fixture
def logfile(env):
    day = generate(seed=3, sessions=60, provinces=2)
    path = env / "access.log"
    lines = [*day.access_lines[:500], "garbage line \x00", day.access_lines[500]]
    path.write_bytes(("\n".join(lines)).encode() + b"\n\xff\xfe broken utf8\nlast line without newline")
    return path


def test_ingest_counts_every_line_and_reingest_adds_nothing(logfile):
    first = run("ingest", "--no-detect", str(logfile))
    assert first.exit_code == 0, first.output
    assert "read 504  stored 504  parse errors 3  duplicates skipped 0" in first.stdout
    second = run("ingest", "--no-detect", str(logfile))
    assert "read 504  stored 0  parse errors 3  duplicates skipped 504" in second.stdout
    assert run("search", "--count").stdout.strip() == "504"
    assert run("search", "event.kind:pipeline_error", "--count").stdout.strip() == "3"


def test_search_filters_text_and_formats(logfile):
    run("ingest", "--no-detect", str(logfile))
    out = run("search", "sqlmap", "--format", "jsonl", "--limit", "1000").stdout.splitlines()
    assert out, "the generated day has a sqlmap attack"
    docs = [json.loads(line) for line in out]
    assert all("sqlmap" in d["user_agent"]["original"] for d in docs)
    ip = docs[0]["source"]["ip"]
    by_ip = run("search", f"source.ip:{ip}", "--count").stdout.strip()
    assert int(by_ip) >= len(docs)
    table = run("search", f"source.ip:{ip}", "--limit", "2").stdout
    assert table.splitlines()[0].startswith("@timestamp")
    assert ip in table
    assert (
        run("search", "--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02T00:00:00Z", "--count").stdout.strip()
        == "0"
    )


def test_stdin_and_errors(env):
    line = b'1.2.3.4 - - [10/Oct/2026:13:55:36 +0700] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    res = CliRunner().invoke(cli, ["ingest", "--no-detect", "-"], input=line)
    assert "stored 1" in res.stdout
    missing = CliRunner().invoke(cli, ["ingest", "--no-detect", str(env / "nope.log")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    bad_time = CliRunner().invoke(cli, ["search", "--since", "yesterday-ish"])
    assert bad_time.exit_code == 2 and "ISO 8601" in bad_time.output
    bad_query = CliRunner().invoke(cli, ["search", '"unclosed'])
    assert bad_query.exit_code == 2 and "quote" in bad_query.output


def test_search_counts_boolean_queries_and_refuses_malformed_ones(logfile):
    """AND counts like juxtaposition; a malformed query exits 2 with a caret under the position."""
    run("ingest", "--no-detect", str(logfile))
    ip = json.loads(run("search", "http.response.status_code:200", "--format", "jsonl", "--limit", "1").stdout)[
        "source"
    ]["ip"]
    plain = int(run("search", f"source.ip:{ip} http.response.status_code:200", "--count").stdout)
    anded = int(run("search", f"source.ip:{ip} AND http.response.status_code:200", "--count").stdout)
    assert plain == anded > 0
    either = int(run("search", f"source.ip:{ip} OR http.response.status_code:200", "--count").stdout)
    every = int(run("search", "--count").stdout)
    without = int(run("search", f"NOT source.ip:{ip}", "--count").stdout)
    assert plain < either < every and without + int(run("search", f"source.ip:{ip}", "--count").stdout) == every
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", "search", f"(source.ip:{ip} AND http.response.status_code:200"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "position 1: '(' is never closed (see 'sentinel search --help')\n  (source.ip:" in proc.stderr
    assert proc.stderr.endswith("\n  ^\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", "search", "@timestamp:[yesterday TO now]", "--count"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "ISO 8601" in proc.stderr and "Traceback" not in proc.stderr


def test_console_script_reports_configuration_errors(env, tmp_path):
    bad = tmp_path / "sentinel.yaml"
    bad.write_text("api:\n  port: 99999\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", "--config", str(bad), "search", "--count"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert f"{bad}:2: api.port" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ingest_detects_and_honours_suppressions(env):
    from datetime import UTC, datetime, timedelta

    from sentinel.config import load_settings
    from sentinel.respond.db import ResponseDB
    from sentinel.respond.suppress import SuppressionIn, Suppressions

    day = generate(seed=4, sessions=80, provinces=2)
    scanner = day.attacks["scanner"][0]
    path = env / "access.log"
    path.write_text("\n".join(day.access_lines) + "\n", encoding="utf-8")
    settings = load_settings()
    Suppressions(ResponseDB(settings.data_dir / "respond.db")).create(
        SuppressionIn(
            match={"source.ip": [scanner]}, reason="authorised pentest", expires=datetime.now(UTC) + timedelta(days=1)
        ),
        actor="lead",
    )
    out = run("ingest", str(path)).stdout
    assert "alerts 0" not in out  # the other attacks still raise alerts
    from sentinel.store.base import AlertQuery
    from sentinel.store.sqlite import SQLiteStore

    alerts = SQLiteStore(settings.sqlite_path).list_alerts(AlertQuery(limit=1000))
    assert alerts, "detection ran during ingest"
    # without the suppression this source raises several alerts (scanner user agent, 404 burst, ...)
    assert all(scanner not in a.group_key for a in alerts)
