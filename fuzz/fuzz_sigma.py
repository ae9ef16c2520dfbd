"""Fuzz loading Sigma rules: any YAML text gives an engine (with problems listed), never an exception.

The engine loads rule files the way ``Engine.from_paths`` does: pySigma parses
the collection, errors it refuses are reported per file, and building the
engine turns what it cannot evaluate into ``RuleProblem`` entries. The built
engine must then evaluate events without raising.
"""

from __future__ import annotations

import atheris
import yaml

with atheris.instrument_imports(include=["sentinel"]):
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError

    from sentinel.detect.engine import Engine

import harness

# What Engine.from_paths reports as "cannot load rule file" (the refusal of a whole file).
FILE_REFUSALS = (SigmaError, yaml.YAMLError, UnicodeDecodeError, ValueError)
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
    try:
        text = data.decode("utf-8")
        collection = SigmaCollection.from_yaml(
            text, collect_errors=True, collect_filters=True, resolve_references=False
        )
    except FILE_REFUSALS:
        return
    for pipeline in ("ecs", "none"):
        engine = Engine.from_collection(collection, pipeline=pipeline)
        assert all(str(p) for p in engine.problems)
        engine.process([dict(e) for e in EVENTS])
        engine.flush()
        assert engine.stats["errors"] == 0, "an event the engine could not evaluate"


if __name__ == "__main__":
    harness.run(test_one_input)
