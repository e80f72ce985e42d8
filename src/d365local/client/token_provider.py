"""Tokens that never go stale: cache, proactive refresh, one request per key at a time.

- Served from the cache until ``refresh_on`` (the server's ``refresh_in``, else 5 minutes before expiry).
- From then on, the next caller refreshes; if that fails while the old token is still valid, the old token is
  served and the next attempt waits :data:`RETRY_DELAY` seconds.
- Single-flight: concurrent callers for the same key wait for one request instead of sending their own.
- Implements azure-core's ``TokenCredential`` protocol (``get_token``, ``get_token_info``) without needing it, so
  it plugs into ``powerplatform-dataverse-client`` and other Azure SDKs.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import certifi
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
    resource_of,
    token_endpoint,
)

ENTRA_AUTHORITY = "https://login.microsoftonline.com"
RETRY_DELAY = 30.0


def servable(cached: CachedToken | None, now: float, next_attempt: float) -> bool:
    """Serve from the cache: valid and not yet due for refresh, or due but a failed refresh is still cooling down."""
    return cached is not None and cached.usable(now) and (not cached.due(now) or now < next_attempt)


def cache_key(authority: str, tenant_id: str, client_id: str, resource: str) -> CacheKey:
    return (authority.lower(), tenant_id.lower(), client_id.lower(), resource.lower())


def mark_due(cache: TokenCache, key: CacheKey) -> None:
    """Keep the cached token (it may still be served if a refresh fails) but make it due for refresh now."""
    cached = cache.get(key)
    if cached is not None:
        cache.put(key, CachedToken(cached.access_token, cached.expires_on, 0.0, cached.token_type))


def single_resource(scopes: tuple[str, ...]) -> str:
    if len(scopes) != 1:
        raise ClientError("client credentials take exactly one scope: '<resource>/.default'")
    return resource_of(scopes[0])


def default_verify(
    settings: Mapping[str, str] | None = None, *, extra_ca_files: Iterable[str | os.PathLike[str]] = ()
) -> ssl.SSLContext:
    """Trust ``REQUESTS_CA_BUNDLE``, then ``SSL_CERT_FILE``, then certifi's roots — plus ``extra_ca_files``.

    The variables are read from ``settings`` when given (e.g. a credentials.env under the environment), else from
    ``os.environ``.
    """
    source: Mapping[str, str] = os.environ if settings is None else settings
    bundle = source.get("REQUESTS_CA_BUNDLE") or source.get("SSL_CERT_FILE") or certifi.where()
    context = ssl.create_default_context(cafile=bundle)
    for path in extra_ca_files:
        context.load_verify_locations(cafile=os.fspath(path))
    return context


class TokenProvider:
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
        transport: httpx.BaseTransport | None = None,
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
        self._http = httpx.Client(
            transport=transport, verify=default_verify() if verify is None else verify, timeout=timeout
        )
        self._locks: dict[CacheKey, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._next_attempt: dict[CacheKey, float] = {}
        self._ready: dict[tuple[str, ...], tuple[AccessToken, float]] = {}
        """Scopes as asked → the token handed out and when it falls due: the cache hit of ``get_token`` is one dict
        lookup and one clock read (Azure SDKs call it before every request); reads take no lock (a dict lookup is
        atomic), writes and ``invalidate`` take ``_ready_lock``."""
        self._ready_lock = threading.Lock()
        self._invalidations = 0
        """Bumped by ``invalidate``: a token read before an invalidation must not be remembered after it."""
        self.requests_sent = 0
        """How many token requests this provider made (single-flight and caching keep it small)."""

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TokenProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- azure-core TokenCredential protocol ----------------------------------------------------------------
    def get_token(
        self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs: Any
    ) -> AccessToken:
        ready = self._ready.get(scopes)
        if ready is not None and self._clock() < ready[1]:
            return ready[0]
        invalidations = self._invalidations
        token = self.token(single_resource(scopes))
        handed_out = AccessToken(token.access_token, int(token.expires_on))
        with self._ready_lock:
            if invalidations == self._invalidations and not token.due(self._clock()):
                self._ready[scopes] = (handed_out, token.refresh_on)
        return handed_out

    def get_token_info(self, *scopes: str, options: Mapping[str, Any] | None = None) -> AccessTokenInfo:
        token = self.token(single_resource(scopes))
        return AccessTokenInfo(token.access_token, int(token.expires_on), token.token_type, int(token.refresh_on))

    # -- tokens ---------------------------------------------------------------------------------------------
    def token(self, resource: str) -> CachedToken:
        """A valid token for ``resource`` (an org URL), from the cache when it is not due for refresh."""
        key = cache_key(self._authority, self.tenant_id, self.client_id, resource)
        cached = self._cache.get(key)
        if servable(cached, self._clock(), self._next_attempt.get(key, 0)):
            assert cached is not None
            return cached
        with self._lock(key):
            cached = self._cache.get(key)  # another thread may have refreshed it while this one waited
            now = self._clock()
            if servable(cached, now, self._next_attempt.get(key, 0)):
                assert cached is not None
                return cached
            try:
                fresh = self._request(resource, now)
            except (AuthenticationError, httpx.HTTPError):
                if cached is not None and cached.usable(now):
                    self._next_attempt[key] = now + RETRY_DELAY  # keep serving the valid token, retry later
                    return cached
                raise
            self._cache.put(key, fresh)
            self._next_attempt.pop(key, None)
            return fresh

    def invalidate(self, resource: str) -> None:
        """Make the next call for ``resource`` fetch a new token (after the API refused the cached one)."""
        key = cache_key(self._authority, self.tenant_id, self.client_id, resource)
        with self._ready_lock:
            self._invalidations += 1
            self._ready.clear()
        with self._lock(key):  # not while another thread is putting a fresh token in place
            mark_due(self._cache, key)
            self._next_attempt.pop(key, None)

    def _lock(self, key: CacheKey) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())

    def _request(self, resource: str, now: float) -> CachedToken:
        endpoint = token_endpoint(self._authority, self.tenant_id, v2=self._v2)
        form = request_form(
            self.client_id, resource, self._credential.fields(self.client_id, endpoint, now), v2=self._v2
        )
        self.requests_sent += 1
        response = self._http.post(endpoint, data=form, headers={"Accept": "application/json"})
        return parse_response(response.status_code, response.content, now)
