"""Shared plumbing of the atheris harnesses: instrumented start, temp files, the allowed outcomes.

Every harness states one contract of a parser (what it may return or raise on
arbitrary bytes); anything else is a finding. ``python fuzz/<harness>.py
[libFuzzer options] [corpus dirs]`` runs one; see ``fuzz/README.md``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

# Per-process scratch folder for parsers that read files (pcap, YAML content), under $TMPDIR: libFuzzer ends the
# process without Python's clean-up, so whoever runs a harness points TMPDIR where the folder may stay (the smoke
# test uses its own temporary folder).
SCRATCH = Path(tempfile.mkdtemp(prefix="sentinel-fuzz-"))


def scratch_file(name: str, data: bytes) -> Path:
    """Write ``data`` to a reused scratch file (one write per input)."""
    path = SCRATCH / name
    path.write_bytes(data)
    return path


def scratch_dir(name: str) -> Path:
    """An empty reused scratch folder."""
    folder = SCRATCH / name
    folder.mkdir(exist_ok=True)
    for child in folder.iterdir():
        child.unlink()
    return folder


def run(test_one_input: Callable[[bytes], None]) -> None:
    """Hand ``test_one_input`` to libFuzzer with the command-line options (``-runs=``, corpus dirs)."""
    os.environ.setdefault("SENTINEL_DATA_DIR", str(SCRATCH / "data"))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
