"""One root for every error Sentinel raises on purpose, and what each kind means to a caller.

Like pySigma's ``SigmaError`` or httpx's exception tree: code that only needs to know *what
kind* of failure happened catches one of the five kinds below; the API maps them to HTTP
statuses in one table (:mod:`sentinel.api.app`), the CLI to exit codes and one-line messages in
another (:mod:`sentinel.cli.main`). Anything that is not a :class:`SentinelError` is a bug.
"""

from __future__ import annotations


class SentinelError(Exception):
    """Something Sentinel refused or could not do; ``str()`` says what and what to do about it."""


class NotFound(SentinelError):
    """The thing asked for does not exist (or is outside the caller's sight)."""


class Conflict(SentinelError):
    """Someone else changed the thing first, or it already exists."""


class Invalid(SentinelError, ValueError):
    """The input is wrong: a content file, an option, a request body, a query, a data file."""


class Unavailable(SentinelError):
    """A dependency (store, cluster, queue, channel, capture device) cannot serve right now."""


class Denied(SentinelError):
    """The caller may not do this."""


class VersionConflict(Conflict):
    """An update carried a stale version: someone else changed the record first."""

    def __init__(self, record_id: str, expected: int, actual: int) -> None:
        self.record_id = record_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{record_id} was changed by someone else (you sent version {expected}, it is now at "
            f"version {actual}); reload it and apply your change again"
        )
