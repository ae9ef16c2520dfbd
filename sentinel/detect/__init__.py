"""Detection: Sigma rules evaluated in-process over the event stream (see :mod:`sentinel.detect.engine`)."""

from sentinel.detect.engine import Engine, RuleProblem

__all__ = ["Engine", "RuleProblem"]
