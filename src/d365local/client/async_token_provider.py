"""The asyncio twin of :class:`~d365local.client.token_provider.TokenProvider` (azure-core's
``AsyncTokenCredential`` protocol): the same cache and refresh rules, single-flight across tasks."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from d365local.client.credentials import Credential
from d365local.client.errors import AuthenticationError, ClientError
from d365local.client.token_cache import CacheKey, MemoryTokenCache, TokenCache
from d365local.client.token_protocol import (
    AccessToken,
    AccessTokenInfo,
    CachedToken,
    parse_response,
    request_form,
    token_endpoint,
)
from d365local.client.token_provider import (
    ENTRA_AUTHORITY,
    RETRY_DELAY,
    cache_key,
    default_verify,
    mark_due,
    servable,
    single_resource,
)


class AsyncTokenProvider:
    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        credential: Credential,
        *,
        authority: str = ENTRA_AUTHORITY,
        v2: bool = True,
        cache: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not tenant_id or not client_id:
            raise ClientError("a token provider needs the tenant id and the client id")
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._credential = credential
        self._authority = authority.rstrip("/")
        self._v2 = v2
        self._cache = cache or MemoryTokenCache()
        self._clock = clock
        self._http = httpx.AsyncClient(
            transport=transport, verify=default_verify() if verify is None else verify, timeout=timeout
        )
        self._locks: dict[CacheKey, asyncio.Lock] = {}
        self._next_attempt: dict[CacheKey, float] = {}
        self._ready: dict[tuple[str, ...], tuple[AccessToken, float]] = {}
        """Scopes → the token handed out and when it falls due (see ``TokenProvider``; one event loop, no locks)."""
        self._invalidations = 0
        self.requests_sent = 0

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTokenProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def get_token(
        self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs: Any
    ) -> AccessToken:
        ready = self._ready.get(scopes)
        if ready is not None and self._clock() < ready[1]:
            return ready[0]
        invalidations = self._invalidations
        token = await self.token(single_resource(scopes))
        handed_out = AccessToken(token.access_token, int(token.expires_on))
        if invalidations == self._invalidations and not token.due(self._clock()):
            self._ready[scopes] = (handed_out, token.refresh_on)
        return handed_out

    async def get_token_info(self, *scopes: str, options: Mapping[str, Any] | None = None) -> AccessTokenInfo:
        token = await self.token(single_resource(scopes))
        return AccessTokenInfo(token.access_token, int(token.expires_on), token.token_type, int(token.refresh_on))

    async def token(self, resource: str) -> CachedToken:
        key = cache_key(self._authority, self.tenant_id, self.client_id, resource)
        cached = self._cache.get(key)
        if servable(cached, self._clock(), self._next_attempt.get(key, 0)):
            assert cached is not None
            return cached
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._cache.get(key)
            now = self._clock()
            if servable(cached, now, self._next_attempt.get(key, 0)):
                assert cached is not None
                return cached
            try:
                fresh = await self._request(resource, now)
            except (AuthenticationError, httpx.HTTPError):
                if cached is not None and cached.usable(now):
                    self._next_attempt[key] = now + RETRY_DELAY
                    return cached
                raise
            self._cache.put(key, fresh)
            self._next_attempt.pop(key, None)
            return fresh

    def invalidate(self, resource: str) -> None:
        """Make the next call for ``resource`` fetch a new token (after the API refused the cached one)."""
        key = cache_key(self._authority, self.tenant_id, self.client_id, resource)
        mark_due(self._cache, key)
        self._next_attempt.pop(key, None)
        self._invalidations += 1
        self._ready.clear()

    async def _request(self, resource: str, now: float) -> CachedToken:
        endpoint = token_endpoint(self._authority, self.tenant_id, v2=self._v2)
        form = request_form(
            self.client_id, resource, self._credential.fields(self.client_id, endpoint, now), v2=self._v2
        )
        self.requests_sent += 1
        response = await self._http.post(endpoint, data=form, headers={"Accept": "application/json"})
        return parse_response(response.status_code, response.content, now)
