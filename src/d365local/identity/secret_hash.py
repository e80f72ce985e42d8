"""Client secret values: generated like Entra's, stored only as a keyed hash.

Secrets are 40 random characters (about 200 bits), so a fast keyed hash (HMAC-SHA256 with a per-installation key
kept in the store) is the right at-rest protection: slow password hashing would only tax every token request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.~"
SECRET_LENGTH = 40
HINT_LENGTH = 3
_VERSION_MARK = "8Q~"
"""Entra's current secrets carry a version marker after the three-character hint; ours look the same."""


def generate_secret() -> str:
    """A new secret value: hint + version mark + random characters, 40 in all."""
    body_length = SECRET_LENGTH - HINT_LENGTH - len(_VERSION_MARK)
    hint = "".join(secrets.choice(_ALPHABET[:62]) for _ in range(HINT_LENGTH))
    return hint + _VERSION_MARK + "".join(secrets.choice(_ALPHABET) for _ in range(body_length))


def new_hash_key() -> bytes:
    return secrets.token_bytes(32)


class SecretHasher:
    """Keyed hashing and constant-time comparison of secret values."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("secret hash key too short")
        self._key = key

    def hash(self, secret: str) -> bytes:
        return hmac.new(self._key, secret.encode("utf-8"), hashlib.sha256).digest()

    def matches(self, secret: str, stored_hash: bytes) -> bool:
        return hmac.compare_digest(self.hash(secret), stored_hash)
