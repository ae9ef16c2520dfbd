"""``sentinel demo``: the whole pipeline on a generated day finds every injected attack and the personal data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
    assert re.fullmatch(r"  SENTINEL_DATA_DIR=\S+ sentinel search 'source\.ip:[\d.]+'", out.rstrip().splitlines()[-1])
    again = CliRunner().invoke(cli, args, catch_exceptions=False).output
    assert re.search(r"stored 0, parse_errors 0, duplicates [\d,]+, alerts 0", again), again


def test_the_demo_ends_with_a_command_that_runs_as_printed(tmp_path):
    """Set up as the README says (the command in .venv/bin, not on the PATH): the last line, pasted, works."""
    script = Path(sys.executable).with_name("sentinel")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env |= {"SENTINEL_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    args = [str(script), "demo", "--no-serve", "--sessions", "30", "--day", "2026-11-20"]
    demo = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    last = demo.stdout.rstrip().splitlines()[-1].strip()
    assert last.startswith(f"SENTINEL_DATA_DIR={tmp_path / 'data'} {script} search ")  # the path: not on the PATH
    clean = {k: v for k, v in env.items() if k != "SENTINEL_DATA_DIR"}  # the line itself says where the data is
    pasted = subprocess.run(["bash", "-c", last], env=clean, cwd="/", capture_output=True, text=True, timeout=120)
    assert pasted.returncode == 0, pasted.stderr
    assert "@timestamp" in pasted.stdout and len(pasted.stdout.splitlines()) > 1  # the header and the attacker's events
