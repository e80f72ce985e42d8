"""From a request to an authorized caller: org by URL, token validated, application user found, roles resolved.

Each step fails the way Dataverse does: 401 for the token, 403 0x80072560 for an app without an application user,
403 (d365local's choice, see docs/differences.md) for a disabled one, 403 0x80042f09 when it has no role.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from d365local.clock import Clock
from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.model import Organization
from d365local.dataverse.security import Permissions
from d365local.dataverse.signing_keys import KeySet
from d365local.dataverse.storage import SecurityStore
from d365local.dataverse.token_validation import Audience, bearer_token, validate


@dataclass(frozen=True)
class AuthorizedCaller:
    organization: Organization
    permissions: Permissions

    @property
    def user_id(self) -> str:
        return self.permissions.user.id


class CallerResolver:
    """Turns ``Authorization`` headers into callers; reads go through the (change-signal-validated) store."""

    def __init__(
        self, store: SecurityStore, keys: KeySet, clock: Clock, authorities: Callable[[], Sequence[str]]
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._authorities = authorities
        """Authority URLs whose v2 issuer is accepted (read per request: the public base URL can change)."""

    def resolve(self, organization: Organization, authorization: str | None) -> AuthorizedCaller:
        token = bearer_token(authorization)
        caller = validate(
            token,
            Audience(organization.tenant_id, organization.url, self._authorities()),
            self._keys,
            self._clock.now(),
        )
        user = self._store.application_user(organization.id, caller.app_id)
        if user is None:
            raise DataverseError(errors.USER_NOT_MEMBER)
        if user.disabled:
            raise DataverseError(errors.USER_DISABLED, user_id=user.id, org_id=organization.id)
        roles = [r for r in self._store.roles(organization.id) if r.id in user.role_ids]
        permissions = Permissions.of(user, roles)
        permissions.require_roles()
        return AuthorizedCaller(organization, permissions)
