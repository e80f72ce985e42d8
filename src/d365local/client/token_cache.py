"""Where tokens wait until they are due: keyed by authority, tenant, client and resource."""

from __future__ import annotations

import threading
from typing import Protocol

from d365local.client.token_protocol import CachedToken

CacheKey = tuple[str, str, str, str]
"""(authority, tenant, client id, resource), lower-cased."""


class TokenCache(Protocol):
    def get(self, key: CacheKey) -> CachedToken | None: ...

    def put(self, key: CacheKey, token: CachedToken) -> None: ...


class MemoryTokenCache:
    """Process memory; safe to share between threads and providers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[CacheKey, CachedToken] = {}

    def get(self, key: CacheKey) -> CachedToken | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: CacheKey, token: CachedToken) -> None:
        with self._lock:
            self._tokens[key] = token
