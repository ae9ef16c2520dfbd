"""Fuzz playbook YAML: a folder with one arbitrary file loads, or fails with ``ContentError`` (file:line: reason)."""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["sentinel"]):
    from sentinel.content import ContentError
    from sentinel.respond.playbook import PlaybookLibrary

import harness


def test_one_input(data: bytes) -> None:
    folder = harness.scratch_dir("playbooks")
    (folder / "book.yml").write_bytes(data)
    try:
        library = PlaybookLibrary.load(folder)
    except ContentError as exc:
        assert str(exc).startswith(str(folder / "book.yml")), str(exc)
        assert exc.reason
        return
    assert len(library) <= 1


if __name__ == "__main__":
    harness.run(test_one_input)
