"""Every atheris harness in ``fuzz/`` runs its seed corpus and a bounded number of mutated inputs.

A harness exits non-zero when its parser breaks its contract (an exception it
may not raise, an event without an id, ...); the input is then written to the
test's temporary folder and its path is in the failure message. New corpus
entries go to the temporary folder too, never into the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FUZZ = REPO / "fuzz"

# Mutated inputs per harness: the YAML content loaders are ~100x slower per input than the line parsers.
RUNS = {
    "access_log": 3000,
    "syslog": 3000,
    "firewall": 3000,
    "netflow": 1500,
    "pcap": 400,
    "sigma": 150,
    "playbook": 120,
    "policy": 120,
}


def test_every_harness_is_listed() -> None:
    assert {p.stem.removeprefix("fuzz_") for p in FUZZ.glob("fuzz_*.py")} == set(RUNS)
    assert {p.name for p in (FUZZ / "corpus").iterdir()} == set(RUNS)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_harness_runs_clean(name: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    cmd = [
        sys.executable,
        str(FUZZ / f"fuzz_{name}.py"),
        f"-runs={RUNS[name]}",
        "-seed=20260701",
        "-max_total_time=25",
        "-timeout=10",
        "-rss_limit_mb=3072",
        f"-artifact_prefix={tmp_path}/",
        str(corpus),  # the first folder receives new inputs
        str(FUZZ / "corpus" / name),
    ]
    # libFuzzer ends the process without Python's clean-up: its scratch folder goes in this test's folder
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "SENTINEL_DATA_DIR": str(tmp_path / "data"), "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.run(cmd, cwd=FUZZ, env=env, capture_output=True, text=True, timeout=120)
    crashes = sorted(str(p) for p in tmp_path.glob("crash-*")) + sorted(str(p) for p in tmp_path.glob("timeout-*"))
    assert proc.returncode == 0, f"{name}: exit {proc.returncode}, inputs {crashes}\n{proc.stderr[-4000:]}"
    assert "Done" in proc.stderr, proc.stderr[-2000:]
