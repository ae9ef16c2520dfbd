"""``sentinel collect pcap`` end to end: into the configured SQLite store, replay-safe, bad files reported."""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import netgen

from sentinel.cli.main import cli
from sentinel.store.base import EventQuery
from sentinel.store.sqlite import SQLiteStore


def test_collect_pcap_once_then_again_and_a_broken_file(tmp_path):
    good = netgen.write(tmp_path / "edge.pcapng", netgen.mixed(seed=21, sessions=30), "pcapng")
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(netgen.write(tmp_path / "x.pcap", netgen.mixed(seed=22, sessions=12)).read_bytes()[:-30])
    env = {"SENTINEL_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()

    first = runner.invoke(cli, ["collect", "pcap", str(good), "--once", "--no-detect"], env=env)
    assert first.exit_code == 0, first.output
    assert "stored 50, duplicates 0" in first.output

    second = runner.invoke(cli, ["collect", "pcap", str(good), str(broken), "--once", "--no-detect"], env=env)
    assert second.exit_code != 0
    assert "duplicates 50" in second.output
    assert f"{broken}: truncated record" in second.output

    with SQLiteStore(tmp_path / "data" / "sentinel.db") as store:
        flows = store.count_events(EventQuery(filters={"event.dataset": ["network.flow"], "event.kind": ["event"]}))
        errors = store.search_events(EventQuery(filters={"event.kind": ["pipeline_error"]})).events
    assert flows == 30 + 12
    assert len(errors) == 1 and "truncated" in errors[0]["error"]["message"]
