"""From a request to an authorized caller: org by URL, token validated, application user found, roles resolved.

Each step fails the way Dataverse does: 401 for the token, 403 0x80072560 for an app without an application user,
403 (d365local's choice, see docs/differences.md) for a disabled one, 403 0x80042f09 when it has no role.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from d365local.clock import Clock
from d365local.dataverse import errors
from d365local.dataverse.domain.model import Organization
from d365local.dataverse.domain.security import Permissions
from d365local.dataverse.domain.signing_keys import KeySet
from d365local.dataverse.domain.storage import SecurityStore
from d365local.dataverse.domain.token_validation import Audience, Caller, bearer_token, validate
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.schema.metadata import Catalog

VALIDATED_TTL = 300.0
MAX_VALIDATED = 10_000


@dataclass(frozen=True)
class AuthorizedCaller:
    organization: Organization
    permissions: Permissions
    catalog: Catalog
    """The organization's tables as of this request (built-in and custom)."""

    @property
    def user_id(self) -> str:
        return self.permissions.user.id


class CallerResolver:
    """Turns ``Authorization`` headers into callers; reads go through the (change-signal-validated) store."""

    def __init__(
        self,
        store: SecurityStore,
        keys: KeySet,
        clock: Clock,
        authorities: Callable[[], Sequence[str]],
        catalogs: Callable[[str], Catalog],
    ) -> None:
        self._store = store
        self._catalogs = catalogs
        self._keys = keys
        self._clock = clock
        self._authorities = authorities
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], _Validated] = {}
        """Authority URLs whose v2 issuer is accepted (read per request: the public base URL can change)."""

    def resolve(self, organization: Organization, authorization: str | None) -> AuthorizedCaller:
        token = bearer_token(authorization)
        caller = self._validated(organization, token)
        user = self._store.application_user(organization.id, caller.app_id)
        if user is None:
            raise DataverseError(errors.USER_NOT_MEMBER)
        if user.disabled:
            raise DataverseError(errors.USER_DISABLED, user_id=user.id, org_id=organization.id)
        roles = [r for r in self._store.roles(organization.id) if r.id in user.role_ids]
        permissions = Permissions.of(user, roles)
        permissions.require_roles()
        return AuthorizedCaller(organization, permissions, self._catalogs(organization.id))

    def _validated(self, organization: Organization, token: str) -> Caller:
        """Signature checks cost more than the rest of a read; a token already checked for this org is remembered
        until it expires (and at most :data:`VALIDATED_TTL` seconds), and only while the key that signed it is the
        one the key set holds now: a retired or rotated key set makes the next request check the token again."""
        now = self._clock.now()
        key = (organization.id, token)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now < cached.until and self._keys.key(cached.caller.key_id) is cached.signed_with:
            return cached.caller
        caller = validate(
            token, Audience(organization.tenant_id, organization.url, self._authorities()), self._keys, now
        )
        expires = caller.claims.get("exp")
        until = min(float(expires) if isinstance(expires, int | float) else now, now + VALIDATED_TTL)
        with self._lock:
            if len(self._cache) >= MAX_VALIDATED:
                self._cache.clear()
            self._cache[key] = _Validated(caller, until, self._keys.key(caller.key_id))
        return caller


@dataclass(frozen=True)
class _Validated:
    caller: Caller
    until: float
    signed_with: Any
    """The public key object the token verified with (a reloaded key set has new objects)."""
