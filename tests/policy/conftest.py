"""Shared pieces for the data-policy tests: the default policy, a fixed key, a copy of the policy to edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.policy.keys import PolicyKeys
from sentinel.policy.model import LoadedPolicy, load_policy
from tests.content import CLASSIFIERS

POLICY = Path(__file__).resolve().parents[2] / "classifiers" / "policy.yaml"

# Synthetic identifiers (valid shapes, no real person).
CCCD = "001099012345"
PHONE = "0983417265"
EMAIL = "nguyen.van.an@example.vn"
NAME = "Nguyễn Văn An"


@pytest.fixture(scope="session")
def loaded() -> LoadedPolicy:
    return load_policy(POLICY, classifiers_dir=CLASSIFIERS)


@pytest.fixture(scope="session")
def keys() -> PolicyKeys:
    return PolicyKeys.from_master(b"k" * 32, "test")


@pytest.fixture
def policy_text() -> str:
    return POLICY.read_text(encoding="utf-8")


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path
