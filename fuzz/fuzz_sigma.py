"""Fuzz loading Sigma rules: any file gives an engine (with problems listed), never an exception.

``Engine.from_paths`` is how every command loads rules: pySigma parses the
file, what it refuses becomes a ``RuleProblem`` for the file, and building the
engine turns what it cannot evaluate into problems of the rule. The built
engine must then evaluate events without raising.
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["sentinel"]):
    from sentinel.detect.engine import Engine

import harness

EVENTS = [
    {
        "@timestamp": "2026-07-01T03:00:00Z",
        "event": {"id": "e1", "kind": "event", "dataset": "nginx.access", "category": ["web"]},
        "url": {"original": "/dvc?id=1 union/**/select", "query": "id=1 union/**/select"},
        "source": {"ip": "10.1.2.3"},
        "http": {"response": {"status_code": 200}},
        "user_agent": {"original": "sqlmap"},
    },
    {"@timestamp": "bad", "event": {"id": "e2"}, "message": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"},
]


def test_one_input(data: bytes) -> None:
    path = harness.scratch_file("rule.yml", data)
    for pipeline in ("ecs", "none"):
        engine = Engine.from_paths([path], pipeline=pipeline)
        assert all(str(p) for p in engine.problems)
        engine.process([dict(e) for e in EVENTS])
        engine.flush()
        assert engine.stats["errors"] == 0, "an event the engine could not evaluate"


if __name__ == "__main__":
    harness.run(test_one_input)
