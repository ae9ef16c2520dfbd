"""Disk full, for the store and for the collector's queue, on a real small filesystem (tmpfs).

A filler file takes the free space part-way through an ingest; when it is
removed the collector must finish by itself with every line stored once. The
tests mount a tmpfs, so they need root (they skip otherwise, saying so).
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from nodes import Processes, access_lines, count, distinct_paths, edge_definition, edge_status, wait_for

from sentinel.store.sqlite import SQLiteStore

N = 6000


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 48 MiB tmpfs of its own (so filling it fills nothing else)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mnt)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(mnt: Path, leave: int) -> Path:
    """Take all free space of ``mnt`` but ``leave`` bytes with one filler file."""
    filler = mnt / "filler"
    chunk = b"\0" * (64 << 10)
    with filler.open("wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with filler.open("r+b") as f:  # give back `leave` bytes
        f.truncate(max(0, filler.stat().st_size - leave))
    return filler


def test_store_disk_full_waits_then_stores_everything_once(tmp_path: Path, small_fs: Path, procs: Processes) -> None:
    log = tmp_path / "access.log"
    log.write_text(access_lines(N))
    data = tmp_path / "data"
    data.mkdir()
    db = small_fs / "sentinel.db"
    SQLiteStore(db).close()  # the store lives on the small filesystem; the queue does not
    (data / "sentinel.db").symlink_to(db)
    filler = fill(small_fs, leave=400 << 10)
    out = tmp_path / "edge.out"
    edge = procs.collector(["--config", str(edge_definition(tmp_path, log)), "--once"], data, out)

    def failing() -> bool:
        s = edge_status(data)
        return s.get("retries", 0) > 0 and "full" in (s.get("last_error") or "")

    wait_for(failing, 90, "the store to report a full disk while the collector retries", edge, out)
    stored = count(db)
    assert stored < N
    filler.unlink()
    assert edge.wait(120) == 0, out.read_text()[-3000:]
    assert count(db) == N and distinct_paths(db) == N
    final = edge_status(data)
    assert final["queue_depth"] == 0 and final["stored"] == N and final["dropped"] == 0


def test_queue_disk_full_holds_the_source_back_then_queues_everything(
    tmp_path: Path, small_fs: Path, procs: Processes
) -> None:
    log = tmp_path / "access.log"
    log.write_text(access_lines(N))
    data = small_fs / "data"  # the queue (and offsets) on the small filesystem
    data.mkdir()
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    db = store_dir / "sentinel.db"
    (data / "sentinel.db").symlink_to(db)
    filler = fill(small_fs, leave=300 << 10)
    out = tmp_path / "edge.out"
    edge = procs.collector(["--config", str(edge_definition(tmp_path, log)), "--once"], data, out)

    def failing() -> bool:
        text = out.read_text(errors="replace")
        return "full" in text or "queue" in (edge_status(data).get("last_error") or "")

    wait_for(failing, 90, "the queue to report a full disk", edge, out)
    filler.unlink()
    assert edge.wait(120) == 0, out.read_text()[-3000:]
    assert count(db) == N and distinct_paths(db) == N
    final = edge_status(data)
    assert final["queue_depth"] == 0 and final["dropped"] == 0 and not final["source_failures"]
