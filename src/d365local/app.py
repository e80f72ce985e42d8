"""The composition root: builds the ASGI application from a database and options.

The only place where the identity side, the storage and the HTTP framework are wired together.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from d365local.access_log import AccessLog
from d365local.clock import Clock, SkewedClock, SystemClock
from d365local.dataverse.domain.callers import CallerResolver
from d365local.dataverse.domain.records import Records
from d365local.dataverse.domain.service_protection import Limits, ServiceProtection
from d365local.dataverse.domain.signing_keys import KeySet, SigningKeys
from d365local.dataverse.endpoints.webapi import WebApi
from d365local.dataverse.http.authority_keys import HttpSigningKeys
from d365local.dataverse.http.routes import WebApiHttp
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.identity.http import IdentityHttp
from d365local.identity.secret_hash import SecretHasher
from d365local.identity.signing import KeyRingCache
from d365local.identity.token_service import TokenService
from d365local.store.customizations_sql import SqlCustomizations
from d365local.store.database import Database
from d365local.store.directory_cache import CachedDirectoryReader
from d365local.store.engine import data_version_signal
from d365local.store.faults_sql import CachedFaults, SqlFaults
from d365local.store.generation_cache import GenerationCache
from d365local.store.records_sql import SqlRecordStore
from d365local.store.replay_sql import SqlReplayGuard
from d365local.store.security_cache import CachedSecurityStore
from d365local.store.security_sql import SqlSecurityStore
from d365local.store.throttle_sql import PostgresSharedUsage


@dataclass(frozen=True)
class AppOptions:
    reject_assertion_replay: bool = False
    limits: Limits = field(default_factory=Limits)
    """Dataverse service protection limits (each org can switch them off)."""
    authority: str | None = None
    """Another token service Dataverse should trust (its JWKS and issuer) instead of this server's own."""
    clock_skew: float = 0.0
    """Seconds the server's clock is off (``serve --clock-skew``): tokens and validation use the skewed time."""


def create_app(database: Database, options: AppOptions = AppOptions(), clock: Clock | None = None) -> Starlette:
    clock = clock or (SkewedClock(options.clock_skew) if options.clock_skew else SystemClock())
    cache = GenerationCache(database.directory.generation, changed_marker=data_version_signal(database.engine))
    reader = CachedDirectoryReader(database.directory, cache)
    keys = KeyRingCache(reader.signing_keys)
    replay_guard = SqlReplayGuard(database.engine, clock) if options.reject_assertion_replay else None
    faults = CachedFaults(SqlFaults(database.engine, database.directory.bump), cache)
    tokens = TokenService(
        reader,
        keys,
        SecretHasher(database.settings.secret_hash_key()),
        clock,
        replay_guard=replay_guard,
        faults=faults,
        random_bytes=os.urandom,
    )
    authority = _PublicUrl(database, reader)
    identity = IdentityHttp(tokens, reader, keys, authority, clock, before_request=authority.sync)
    security = CachedSecurityStore(SqlSecurityStore(database.directory), cache)
    # Dataverse trusts tokens through a published key set only, as real Dataverse trusts Entra.
    source: SigningKeys = _PublishedKeys(keys) if options.authority is None else HttpSigningKeys(options.authority)
    trusted_authority = authority if options.authority is None else _fixed(options.authority.rstrip("/"))
    schema = SqlCustomizations(database.directory, builtin_catalog(), cache)
    callers = CallerResolver(
        security, KeySet(source, clock), clock, lambda: (trusted_authority(),), catalogs=schema.catalog
    )
    records = Records(
        SqlRecordStore(database.engine, schema.tables, database.directory.bump),
        clock,
        security=security,
    )
    # One host counts in memory; several processes on PostgreSQL share their counts in batches.
    shared = (
        PostgresSharedUsage(database.engine, options.limits.window_seconds)
        if database.engine.dialect.name == "postgresql"
        else None
    )
    protection = ServiceProtection(options.limits, clock, shared)
    webapi = WebApiHttp(
        security,
        callers,
        WebApi(records, security, schema, clock),
        authority,
        protection,
        # 401s name the authority whose tokens this Web API trusts (``serve --authority``), as Dataverse names Entra.
        token_authority=trusted_authority,
        before_request=authority.sync,
        faults=faults,
    )
    return Starlette(
        routes=[*identity.routes(), *webapi.routes()],
        middleware=[Middleware(AccessLog)],
        exception_handlers={404: _not_found, 405: _method_not_allowed},
    )


class _PublicUrl:
    """The public base URL as stored by ``serve``, re-read whenever the directory changes."""

    def __init__(self, database: Database, reader: CachedDirectoryReader) -> None:
        self._database = database
        self._reader = reader
        self._generation = -1
        self._url = database.settings.public_base_url()

    def sync(self) -> None:
        generation = self._reader.sync()
        if generation != self._generation:
            self._url = self._database.settings.public_base_url()
            self._generation = generation

    def __call__(self) -> str:
        return self._url


def _fixed(value: str) -> Callable[[], str]:
    return lambda: value


class _PublishedKeys:
    """The in-process ``SigningKeys`` adapter: the same JWKS document ``/common/discovery/keys`` serves."""

    def __init__(self, keys: KeyRingCache) -> None:
        self._keys = keys

    def jwks(self) -> Mapping[str, Any]:
        return {"keys": self._keys().public_jwks()}

    def version(self) -> Hashable:
        # The key ring itself: KeyRingCache hands out the same object until the keys change (it is read through the
        # directory's change signal, without a query), so no per-request tuple of kids is needed to tell.
        return self._keys()


async def _not_found(request: Request, exc: Exception) -> Response:
    if "/api/data/" in request.url.path:
        # A Web API path the router could not take (e.g. one with a newline): answer as the Web API does.
        error = {"error": {"code": "0x8006088a", "message": "Resource not found for the segment 'api'."}}
        return JSONResponse(
            error, 404, headers={"OData-Version": "4.0"}, media_type="application/json; odata.metadata=minimal"
        )
    return JSONResponse({"error": "not_found", "error_description": f"No endpoint at {request.url.path}."}, 404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"error": "method_not_allowed", "error_description": f"{request.method} is not allowed on {request.url.path}."},
        405,
    )
