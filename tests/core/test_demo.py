"""``sentinel demo``: the whole pipeline on a generated day finds every injected attack and the personal data."""

from __future__ import annotations

import re

from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.demo.traffic import generate


def test_generator_is_deterministic_for_a_seed():
    assert generate(seed=3, sessions=30).access_lines == generate(seed=3, sessions=30).access_lines
    assert generate(seed=3, sessions=30).access_lines != generate(seed=4, sessions=30).access_lines


def test_demo_detects_every_attack_and_classifies_the_form_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SENTINEL_ES_URL", raising=False)
    args = ["demo", "--no-serve", "--sessions", "60", "--day", "2026-11-20"]
    out = CliRunner().invoke(cli, args, catch_exceptions=False).output
    families = re.findall(r"^\s+(\w+)\s+(\d+)/(\d+) sources alerted$", out, re.M)
    assert len(families) == 7, out
    assert all(hit == total for _, hit, total in families), families
    assert re.search(r"form\.so_cccd\s+basic\s+\w+\s+VN_CCCD", out)
    assert re.search(r"form\.so_dien_thoai\s+basic\s+\w+\s+VN_PHONE", out)
    assert "0 kept as parse errors" in out
    assert "The console is not running (--no-serve). Start it with:" in out
    assert re.search(r"SENTINEL_DATA_DIR=\S+ sentinel serve --demo --host 127\.0\.0\.1 --port \d+", out)
    again = CliRunner().invoke(cli, args, catch_exceptions=False).output
    assert re.search(r"stored 0, parse_errors 0, duplicates [\d,]+, alerts 0", again), again
