"""CPU time of a process and everything it started, for benchmarks that run a server in another process."""

from __future__ import annotations

import os
from pathlib import Path


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and of every process below it, running or ended and waited for.

    The API stores and detects in a writer process of its own, which protects in forked workers:
    the server's own CPU time is a small part of what a request costs.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / tick  # its own time and its waited-for children's
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile: its time is in its parent's waited-for children
    return total
