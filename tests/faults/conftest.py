from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from nodes import Processes


@pytest.fixture
def procs() -> Iterator[Processes]:
    p = Processes()
    yield p
    p.kill_all()
