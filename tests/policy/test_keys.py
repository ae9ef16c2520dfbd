"""The managed policy key: created once with owner-only permissions, stable, never shown."""

from __future__ import annotations

import os
import stat

import pytest

from sentinel.policy.keys import ENV_VAR, PolicyKeyError, load_keys


def test_key_file_created_0600_and_stable(tmp_path):
    first = load_keys(tmp_path / "data", env={})
    key_file = tmp_path / "data" / "policy.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = load_keys(tmp_path / "data", env={})
    assert first.pseudonym == again.pseudonym and first.encryption == again.encryption
    assert first.pseudonym != first.encryption  # one derived key per use
    secret = key_file.read_text().strip()
    assert secret not in repr(first) and first.pseudonym.hex() not in repr(first)


def test_environment_key_wins_and_differs(tmp_path):
    from_env = load_keys(tmp_path, env={ENV_VAR: "x" * 40})
    assert not (tmp_path / "policy.key").exists()
    assert from_env.origin == ENV_VAR
    assert from_env.pseudonym != load_keys(tmp_path, env={}).pseudonym


def test_short_environment_key_is_refused_without_echo(tmp_path):
    with pytest.raises(PolicyKeyError) as err:
        load_keys(tmp_path, env={ENV_VAR: "tooshort-secret"})
    assert "tooshort-secret" not in str(err.value) and ENV_VAR in str(err.value)


def test_key_file_readable_by_others_is_refused(tmp_path):
    load_keys(tmp_path, env={})
    os.chmod(tmp_path / "policy.key", 0o644)
    with pytest.raises(PolicyKeyError, match="chmod 600"):
        load_keys(tmp_path, env={})
