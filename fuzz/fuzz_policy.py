"""Fuzz data-policy YAML: it loads, or fails with ``ContentError`` (``file:line: reason``), never another exception."""

from __future__ import annotations

from pathlib import Path

import atheris

with atheris.instrument_imports(include=["sentinel"]):
    from sentinel.content import ContentError
    from sentinel.policy.model import consistency_problems, load_policy

import harness

CLASSIFIERS = Path(__file__).resolve().parents[1] / "classifiers"


def test_one_input(data: bytes) -> None:
    path = harness.scratch_file("policy.yaml", data)
    try:
        loaded = load_policy(path, strict=False, classifiers_dir=CLASSIFIERS)
    except ContentError as exc:
        assert str(exc).startswith(str(path)), str(exc)
        assert exc.reason
        return
    for problem in consistency_problems(loaded, ("soc_lead",)):
        assert problem.message


if __name__ == "__main__":
    harness.run(test_one_input)
