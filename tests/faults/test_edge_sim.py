"""Edge collectors posting to two partitioned central workers through a link that drops: a small run of
``bench/edge_sim.py`` (real ``sentinel serve`` workers, the collector's runner, disk queue and HTTP sink).

Every event the edges parsed is stored once, matches of groups the other worker owns crossed over, and
the alerts are those of one process fed the same events: the same rules alerting on the same groups and
places, with the same counts for rule matches (a correlation's count is the size of the window that first
met its condition, which follows the order concurrent edges delivered in; see the bench's ``_compare``).
The script stops everything it starts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

BENCH = Path(__file__).resolve().parents[2] / "bench" / "edge_sim.py"


def test_partitioned_workers_lose_nothing_store_once_and_alert_as_one_process(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    args = ["--edges", "12", "--lines", "1000", "--rate", "10", "--edge-processes", "1", "--outages", "1",
            "--outage-seconds", "1.5", "--max-seconds", "240", "--json", str(out)]  # fmt: skip
    run = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = orjson.loads(out.read_bytes())
    assert figures["emitted"] == figures["stored"] == 1000 + 2  # the lines and one warm-up event per worker
    assert figures["lost"] == figures["stored_twice"] == figures["unexpected"] == 0
    assert figures["outages"] == 1 and figures["edge_retries"] > 0  # the link went down and the edges waited
    assert figures["forwarded_matches"] > 0  # groups owned by the other worker were correlated there
    assert figures["correlation_alerts"] == figures["reference_correlation_alerts"] > 0
    assert figures["alerts_equal"] and figures["rule_match_counts_equal"]
