"""The ``SigningKeys`` port: how Dataverse learns which keys sign valid tokens — a JWKS document, never identity code.

``app.py`` wires an adapter that reads the keys d365local publishes (the same bytes as ``/discovery/keys``);
``dataverse.http.authority_keys`` points Dataverse at another authority's JWKS (``serve --authority``).
:class:`KeySet` parses them once and, when a token names an unknown ``kid``, refreshes at most once per
:data:`REFRESH_INTERVAL` seconds (as resource servers do after a rotation), so garbage tokens cannot hammer the key
source.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Any, Protocol

import jwt

from d365local.clock import Clock

REFRESH_INTERVAL = 5.0
MAX_AGE = 300.0
"""Keys of a source without a change signal (another authority's JWKS) are re-read this often too, so a key that
authority retires stops validating within five minutes."""


class SigningKeys(Protocol):
    """Where the published keys come from."""

    def jwks(self) -> Mapping[str, Any]:
        """The current JWKS document: ``{"keys": [{"kty","kid","n","e",…}]}``."""

    def version(self) -> Hashable | None:
        """A cheap value that changes whenever the published keys change (None: no such signal; rely on
        :data:`MAX_AGE`). The local key store has one, so ``keys retire``/``keys rotate`` apply on the next request."""


class KeySet:
    """Parsed public keys by ``kid``, refreshed lazily and rate-limited."""

    def __init__(self, source: SigningKeys, clock: Clock) -> None:
        self._source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._next_refresh = 0.0
        self._expires = 0.0
        self._version: Hashable | None = None

    def key(self, kid: str) -> Any | None:
        """The public key for ``kid``, or None when even a fresh key set does not have it."""
        version = self._source.version()
        with self._lock:
            now = self._clock.now()
            if version is not None and version != self._version:
                return self._reload(now, version).get(kid)  # the source says its keys changed: no waiting
            key = self._keys.get(kid)
            if key is not None and now < self._expires:
                return key
            if key is None and now < self._next_refresh:
                return None
            return self._reload(now, version).get(kid)

    def _reload(self, now: float, version: Hashable | None) -> dict[str, Any]:
        self._next_refresh = now + REFRESH_INTERVAL
        self._expires = now + MAX_AGE
        self._keys = _parse(self._source.jwks())
        self._version = version
        return self._keys


def _parse(document: Mapping[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for entry in document.get("keys", []):
        if isinstance(entry, Mapping) and entry.get("kty") == "RSA" and isinstance(entry.get("kid"), str):
            try:
                keys[entry["kid"]] = jwt.PyJWK(dict(entry), algorithm="RS256").key
            except jwt.PyJWTError:
                continue  # one malformed key must not hide the others
    return keys
