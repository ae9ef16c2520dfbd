"""One display zone for every time shown to people: the CLI (a real process) and the console say the same."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.api.auth import LocalOperator
from sentinel.config import load_settings
from sentinel.store.sqlite import SQLiteStore
from sentinel.timefmt import show_time, zone_label
from tests.terminal import REPO, piped, sentinel_env

# 10:00:05 in Hà Nội is 03:00:05 UTC and 08:30:05 in Kolkata
LINE = '203.0.113.9 - - [01/Jul/2026:10:00:05 +0700] "GET /dvc/tra-cuu HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'
SHOWN = {
    None: "2026-07-01 10:00:05 +07",  # the default: Vietnam's zone, named
    "UTC": "2026-07-01 03:00:05 UTC",
    "Asia/Kolkata": "2026-07-01 08:30:05 +05:30",
    "-03:00": "2026-07-01 00:00:05 -03",
}


def test_show_time_names_the_zone_whatever_it_is_given() -> None:
    hanoi = ZoneInfo("Asia/Ho_Chi_Minh")
    assert show_time("2026-12-02T08:04:05.123Z", hanoi) == "2026-12-02 15:04:05 +07"
    assert show_time(datetime(2026, 12, 2, 8, 4, 5), hanoi, "minute") == "2026-12-02 15:04 +07"  # naive is UTC
    assert show_time(datetime(2026, 12, 2, 8, 4, tzinfo=UTC), UTC, "clock") == "08:04 UTC"
    assert show_time(None, hanoi) == "-" and show_time("not a time", hanoi) == "not a time"
    assert zone_label(hanoi) == "Asia/Ho_Chi_Minh (UTC+07:00)"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding one event, ingested by the real command."""
    home = tmp_path_factory.mktemp("display")
    log = home / "access.log"
    log.write_text(LINE, encoding="utf-8")
    done = piped(["ingest", "--no-detect", str(log)], sentinel_env(home / "data"), home)
    assert done.returncode == 0, done.stderr
    return home / "data"


@pytest.mark.parametrize("zone", list(SHOWN), ids=[str(z) for z in SHOWN])
def test_the_setting_moves_the_cli_and_the_console_together(data_dir: Path, zone: str | None) -> None:
    extra = {"SENTINEL_DISPLAY_TIMEZONE": zone} if zone else {}
    cli = piped(["search", "source.ip:203.0.113.9"], sentinel_env(data_dir, **extra), data_dir)
    assert cli.returncode == 0, cli.stderr
    assert SHOWN[zone] in cli.stdout, cli.stdout

    settings = load_settings(env={"SENTINEL_DATA_DIR": str(data_dir), "SENTINEL_CONTENT_DIR": str(REPO), **extra})
    store = SQLiteStore(settings.sqlite_path)
    try:
        with TestClient(create_app(settings, store, authenticator=LocalOperator())) as http:
            page = http.get("/console/entities/ip/203.0.113.9")
    finally:
        store.close()
    assert page.status_code == 200
    assert f'<dd id="first-seen">{SHOWN[zone]}</dd>' in page.text  # the same words as the CLI's
    assert zone_label(settings.display_tz) in page.text  # and the caption names the zone


@pytest.mark.parametrize("how", ["environment", "file"])
def test_a_zone_that_does_not_exist_is_one_line_and_exit_2(tmp_path: Path, how: str) -> None:
    env = sentinel_env(tmp_path / "data")
    args = ["search", "x"]
    if how == "environment":
        env["SENTINEL_DISPLAY_TIMEZONE"] = "Mars/Olympus_Mons"
    else:
        config = tmp_path / "sentinel.yml"
        config.write_text("display_timezone: Mars/Olympus_Mons\n", encoding="utf-8")
        args = ["--config", str(config), *args]
    done = piped(args, env, tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "Mars/Olympus_Mons" in lines[0] and "Asia/Ho_Chi_Minh" in lines[0]  # what was wrong, what to write
    assert ("SENTINEL_DISPLAY_TIMEZONE" if how == "environment" else f"{tmp_path / 'sentinel.yml'}:1") in lines[0]


def test_notifications_and_the_cli_replies_use_the_display_zone(tmp_path: Path) -> None:
    from sentinel.respond.escalation import message
    from sentinel.respond.settings import load_respond_config
    from tests.respond.conftest import make_alert

    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path), "SENTINEL_DISPLAY_TIMEZONE": "UTC"})
    alert = make_alert(when=datetime(2026, 7, 1, 3, 0, 5, tzinfo=UTC))
    english = {"language": "en"}
    _, body = message(load_respond_config(settings).model_copy(update=english), alert, 0, alert.rule.title)
    assert "First seen: 2026-07-01 03:00:05 UTC; last seen: 2026-07-01 03:00:05 UTC" in body
    default = load_respond_config(load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path)}))
    _, body = message(default.model_copy(update=english), alert, 0, alert.rule.title)
    assert "First seen: 2026-07-01 10:00:05 +07" in body  # the default zone, named

    args = ["respond", "suppress", "--rule", "web-sqli", "--hours", "2", "--reason", "maintenance"]
    done = piped(args, sentinel_env(tmp_path / "data", SENTINEL_DISPLAY_TIMEZONE="Asia/Kolkata"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(" +05:30")  # "suppression ... until 2026-12-02 16:34:05 +05:30"
