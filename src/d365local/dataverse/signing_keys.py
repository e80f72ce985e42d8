"""The ``SigningKeys`` port: how Dataverse learns which keys sign valid tokens — a JWKS document, never identity code.

``app.py`` wires an adapter that reads the keys d365local publishes (the same bytes as ``/discovery/keys``);
:class:`HttpSigningKeys` points Dataverse at another authority's JWKS (``serve --authority``). :class:`KeySet`
parses them once and, when a token names an unknown ``kid``, refreshes at most once per :data:`REFRESH_INTERVAL`
seconds (as resource servers do after a rotation), so garbage tokens cannot hammer the key source.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
import jwt

from d365local.clock import Clock

REFRESH_INTERVAL = 5.0
MAX_AGE = 300.0
"""Known keys are re-read this often too, so a retired key stops validating within five minutes."""


class SigningKeys(Protocol):
    """Where the published keys come from."""

    def jwks(self) -> Mapping[str, Any]:
        """The current JWKS document: ``{"keys": [{"kty","kid","n","e",…}]}``."""


class KeySet:
    """Parsed public keys by ``kid``, refreshed lazily and rate-limited."""

    def __init__(self, source: SigningKeys, clock: Clock) -> None:
        self._source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._next_refresh = 0.0
        self._expires = 0.0

    def key(self, kid: str) -> Any | None:
        """The public key for ``kid``, or None when even a fresh key set does not have it."""
        with self._lock:
            now = self._clock.now()
            key = self._keys.get(kid)
            if key is not None and now < self._expires:
                return key
            if key is None and now < self._next_refresh:
                return None
            self._next_refresh = now + REFRESH_INTERVAL
            self._expires = now + MAX_AGE
            self._keys = _parse(self._source.jwks())
            return self._keys.get(kid)


def _parse(document: Mapping[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for entry in document.get("keys", []):
        if isinstance(entry, Mapping) and entry.get("kty") == "RSA" and isinstance(entry.get("kid"), str):
            try:
                keys[entry["kid"]] = jwt.PyJWK(dict(entry), algorithm="RS256").key
            except jwt.PyJWTError:
                continue  # one malformed key must not hide the others
    return keys


class HttpSigningKeys:
    """Keys published by another authority (``serve --authority URL``), found through its discovery document."""

    def __init__(self, authority: str, *, verify: ssl.SSLContext | bool = True, timeout: float = 10.0) -> None:
        self._authority = authority.rstrip("/")
        self._verify = verify
        self._timeout = timeout

    def jwks(self) -> Mapping[str, Any]:
        try:
            with httpx.Client(verify=self._verify, timeout=self._timeout) as client:
                configuration = client.get(f"{self._authority}/common/v2.0/.well-known/openid-configuration").json()
                document = client.get(str(configuration["jwks_uri"])).json()
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return {"keys": []}  # unreachable now: tokens fail as "unknown kid" and the next refresh tries again
        return document if isinstance(document, Mapping) else {"keys": []}
