"""The managed secret behind keyed pseudonyms and reversible encryption.

Pseudonyms must be stable across runs and machines (so joins on a pseudonymised
citizen ID still work) yet impossible to recompute without the secret; so they
are HMACs under one master key. The key comes from the ``policy_key`` setting (a
deployment's secret store, through its environment variable) or, for a single site, from ``policy.key`` in the
data folder, created on first use with owner-only permissions. The key is never
logged or printed; errors name where it came from, never its value.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from sentinel.config import hint
from sentinel.content import ContentError
from sentinel.errors import Unavailable
from sentinel.localdb import private_dir

MIN_KEY_CHARS = 32


class PolicyKeyError(ContentError):
    """The policy key is missing, too short or unreadable; the message says what to do (never the key)."""

    def __init__(self, where: str | Path, reason: str) -> None:
        super().__init__(where, None, reason)


@dataclass(frozen=True)
class PolicyKeys:
    """Sub-keys derived from the master secret, one per use, so one never reveals another."""

    pseudonym: bytes = field(repr=False)
    encryption: bytes = field(repr=False)
    origin: str  # where the master key came from (an env var name or a file path), for messages

    @classmethod
    def from_master(cls, master: bytes, origin: str) -> PolicyKeys:
        def derive(label: bytes) -> bytes:
            return hmac.new(master, b"sentinel-policy/" + label, hashlib.sha256).digest()

        return cls(pseudonym=derive(b"pseudonym"), encryption=derive(b"encryption"), origin=origin)


def load_keys(key_file: Path, secret: str | None = None) -> PolicyKeys:
    """The policy keys: from ``secret`` (the ``policy_key`` setting), else from ``key_file`` (created 0600)."""
    if secret:
        if len(secret) < MIN_KEY_CHARS:
            raise PolicyKeyError(hint("policy_key"), f"too short: use at least {MIN_KEY_CHARS} random characters")
        return PolicyKeys.from_master(secret.encode(), "the policy_key setting")
    return PolicyKeys.from_master(_key_file(Path(key_file)), str(key_file))


def _key_file(path: Path) -> bytes:
    try:
        private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)  # whatever the umask
    except FileExistsError:
        return _read_key_file(path)
    except (OSError, Unavailable) as exc:
        reason = (
            f"cannot create the policy key: {getattr(exc, 'strerror', None) or exc}; set {hint('policy_key')} instead"
        )
        raise PolicyKeyError(path, reason) from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return _read_key_file(path)


def _read_key_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PolicyKeyError(path, f"readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
        raise PolicyKeyError(path, f"cannot read the policy key: {why}") from None
    if len(text) < MIN_KEY_CHARS:
        reason = f"holds a key shorter than {MIN_KEY_CHARS} characters; replace it or set {hint('policy_key')}"
        raise PolicyKeyError(path, reason)
    return text.encode()
