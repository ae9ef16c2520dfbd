"""The managed policy key: created once with owner-only permissions, stable, never shown."""

from __future__ import annotations

import os
import stat

import pytest

from sentinel.config import load_settings
from sentinel.policy.keys import PolicyKeyError, load_keys
from sentinel.runtime import Runtime


def test_key_file_created_0600_and_stable(tmp_path):
    first = load_keys(tmp_path / "data" / "policy.key")
    key_file = tmp_path / "data" / "policy.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = load_keys(tmp_path / "data" / "policy.key")
    assert first.pseudonym == again.pseudonym and first.encryption == again.encryption
    assert first.pseudonym != first.encryption  # one derived key per use
    secret = key_file.read_text().strip()
    assert secret not in repr(first) and first.pseudonym.hex() not in repr(first)


def test_environment_key_wins_and_differs(tmp_path):
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path), "SENTINEL_POLICY_KEY": "x" * 40})
    from_env = Runtime(settings).keys
    assert not (tmp_path / "policy.key").exists()
    assert "policy_key" in from_env.origin and "x" * 40 not in from_env.origin
    assert from_env.pseudonym != load_keys(tmp_path / "policy.key").pseudonym


def test_short_environment_key_is_refused_without_echo(tmp_path):
    with pytest.raises(PolicyKeyError) as err:
        load_keys(tmp_path / "policy.key", "tooshort-secret")
    assert "tooshort-secret" not in str(err.value) and "SENTINEL_POLICY_KEY" in str(err.value)


def test_key_file_readable_by_others_is_refused(tmp_path):
    load_keys(tmp_path / "policy.key")
    os.chmod(tmp_path / "policy.key", 0o644)
    with pytest.raises(PolicyKeyError, match="chmod 600"):
        load_keys(tmp_path / "policy.key")
