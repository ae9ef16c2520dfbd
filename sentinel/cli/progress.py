"""Progress of long commands on standard error, and the one-line summary they end with.

On a terminal, a live bar (rich): done and total, rate, time left. When standard error is not a
terminal nothing is drawn, unless the ``progress`` setting asks for plain lines (for logs of
scheduled jobs). ``--quiet`` turns both off. Standard output stays clean for the command's result.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType

import click

PLAIN_EVERY = 2.0  # seconds between plain progress lines


class Meter:
    """Counts work done (bytes, lines, files) against an optional total and shows it while it runs."""

    def __init__(self, label: str, total: int | None, unit: str, *, show: bool, forced: bool = False) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self.started = time.monotonic()
        self._last_plain = float("-inf")  # the first update prints at once
        self._live = None
        self._plain = False
        if show and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

            columns = [
                TextColumn("{task.description}", markup=False),  # labels name files and tables: never markup
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[count]}", markup=False),
                TextColumn("{task.fields[rate]}", markup=False),
                TimeRemainingColumn(),
            ]
            # standard output carries the command's result: never diverted into the bar's console
            self._live = Progress(*columns, console=Console(stderr=True), transient=True, redirect_stdout=False)
            self._task = self._live.add_task(label, total=total, count="", rate="")
            self._live.start()
        elif show and forced:
            self._plain = True

    def update(self, done: int, total: int | None = None, label: str | None = None) -> None:
        """Set the amount done so far (and the total, when it is learnt on the way; the label, when the
        work moves on to another part, such as the next table of a database)."""
        self.done = done
        if total is not None:
            self.total = total
        if label is not None:
            self.label = label
        now = time.monotonic()
        rate = done / (now - self.started) if now > self.started else 0.0
        if self._live is not None:
            count = f"{done:,}/{self.total:,} {self.unit}" if self.total is not None else f"{done:,} {self.unit}"
            self._live.update(
                self._task,
                completed=done,
                total=self.total,
                count=count,
                rate=f"{_rate(rate)} {self.unit}/s",
                description=self.label,
            )
        elif self._plain and now - self._last_plain >= PLAIN_EVERY:
            self._last_plain = now
            left = f", about {(self.total - done) / rate:,.0f} s left" if self.total and rate else ""
            of = f" of {self.total:,}" if self.total else ""
            click.echo(f"{self.label}: {done:,}{of} {self.unit} ({_rate(rate)}/s{left})", err=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def timing(self, count: int, unit: str) -> str:
        """``in 4.2 s (7,143 lines/s)``: how long the work took and its rate, for the closing summary line."""
        seconds = self.elapsed()
        return f"in {seconds:,.1f} s ({_rate(count / seconds if seconds > 0 else 0.0)} {unit}/s)"

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _rate(per_second: float) -> str:
    """``12,345`` or ``2.5``: slow work (fields classified, rules compiled) keeps a decimal."""
    return f"{per_second:,.1f}" if per_second < 10 else f"{per_second:,.0f}"


def quiet_option(f):  # type: ignore[no-untyped-def]
    """``--quiet``: no progress on standard error (the summary line stays)."""
    return click.option("--quiet", "-q", is_flag=True, help="Show no progress while working.")(f)
