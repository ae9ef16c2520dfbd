"""``sentinel ingest --workers N``: worker processes protect, one process stores and detects, same result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from sentinel.demo.traffic import generate

SCRIPT = Path(sys.executable).with_name("sentinel")


def _sentinel(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    return subprocess.run(
        [str(SCRIPT), "--config", str(config), *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_worker_processes_store_and_detect_what_one_process_does(tmp_path):
    day = generate(seed=3, sessions=60, provinces=2)
    log = tmp_path / "access.log"
    # a citizen's phone and name in a search, so protection in the workers has something to change
    search = day.access_lines[0].replace("GET /", "GET /tim-kiem?tu-khoa=ho+so+cua+ba+Giap+Thu+Ngan+0983417265&x=/", 1)
    lines = [search, *day.access_lines[:1500]]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = {}
    for workers in ("0", "2"):
        config = tmp_path / f"sentinel-{workers}.yaml"
        # small batches so the stream reaches the workers; one key, so pseudonyms compare
        config.write_text(
            f"data_dir: {tmp_path / ('data-' + workers)}\nbatch_size: 200\npolicy_key: {'k' * 40}\n", encoding="utf-8"
        )
        ingest = _sentinel(config, "ingest", "--workers", workers, str(log))
        assert ingest.returncode == 0, ingest.stderr
        found = _sentinel(config, "search", "--format", "jsonl", "--limit", "5000")
        docs = [orjson.loads(line) for line in found.stdout.splitlines()]
        for doc in docs:
            del doc["event"]["ingested"]
        results[workers] = (
            ingest.stdout.strip().splitlines()[-1].split("  in ")[0],
            sorted(docs, key=lambda d: d["event"]["id"]),
        )
    assert results["0"][0].startswith(f"read {len(lines):,}  stored {len(lines):,}")
    assert results["2"] == results["0"]
    text = orjson.dumps(results["2"][1]).decode()
    assert "0983417265" not in text and "pz-vn_phone-" in text
