"""The client-credentials token endpoint as a use case: tenant → app → client authentication → resource → token.

Checks run in the order Entra's answers imply
(docs/reference/entra.md, "Order of checks"); the first failure is raised as an
:class:`IdentityError` and rendered by ``http``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from d365local.clock import Clock
from d365local.identity import errors
from d365local.identity.client_auth import AssertionPolicy, ReplayGuard, authenticate_assertion, authenticate_secret
from d365local.identity.directory import DirectoryReader
from d365local.identity.errors import IdentityError
from d365local.identity.faults import TokenFaults, injected_error
from d365local.identity.issuance import app_token_claims, token_times
from d365local.identity.model import DYNAMICS_CRM_APP_ID, Application, Tenant
from d365local.identity.oauth.responses import IssuedToken
from d365local.identity.oauth.token_request import TokenRequest
from d365local.identity.secret_hash import SecretHasher
from d365local.identity.signing import KeyRing
from d365local.urls import canonical_url

COMMON_TENANTS = frozenset({"common", "consumers"})
ORGANIZATIONS = "organizations"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def resolve_tenant(directory: DirectoryReader, segment: str) -> Tenant:
    """A tenant path segment (GUID or verified domain) → the tenant, or AADSTS900023 / AADSTS90002."""
    if not (is_guid(segment) or _DNS_NAME.match(segment)):
        raise IdentityError(errors.MALFORMED_TENANT, tenant=segment[:256])
    tenant = directory.find_tenant(segment)
    if tenant is None:
        raise IdentityError(errors.TENANT_NOT_FOUND, tenant=segment)
    return tenant


@dataclass(frozen=True)
class TokenEndpointContext:
    """What the HTTP layer knows about the call: the tenant segment and which URLs name this endpoint."""

    tenant_segment: str
    audience_ok: Callable[[Tenant, str], bool]


class TokenService:
    """Issues app-only access tokens."""

    def __init__(
        self,
        directory: DirectoryReader,
        keys: Callable[[], KeyRing],
        hasher: SecretHasher,
        clock: Clock,
        *,
        replay_guard: ReplayGuard | None = None,
        faults: TokenFaults | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._directory = directory
        self._keys = keys
        self._hasher = hasher
        self._clock = clock
        self._replay_guard = replay_guard
        self._faults = faults
        self._random = random_bytes

    def check_tenant(self, segment: str) -> None:
        """Entra resolves the tenant in the path before it reads the body: 900023 / 90002 come first."""
        if segment.lower() not in COMMON_TENANTS and segment.lower() != ORGANIZATIONS:
            resolve_tenant(self._directory, segment)

    def issue(self, context: TokenEndpointContext, request: TokenRequest) -> IssuedToken:
        now = self._clock.now()
        tenant, app = self._tenant_and_app(context.tenant_segment, request.client_id)
        # An injected fault stands in for whatever Entra would have found wrong, so it comes before every check
        # that needs the caller's setup to be right.
        fault = self._faults.take_token_fault(tenant.id, app.app_id) if self._faults is not None else None
        if fault is not None:
            raise injected_error(fault, tenant, app, request.target, now)
        if app.disabled:
            raise IdentityError(errors.APP_DISABLED, app_id=app.app_id, app_name=app.display_name)
        appidacr = self._authenticate(tenant, app, request, context, now)
        audience = self._audience(tenant, request.target)
        times = token_times(now)
        claims = app_token_claims(
            app=app, audience=audience, appidacr=appidacr, times=times, uti=self._random(16), aio=self._random(32)
        )
        return IssuedToken(
            access_token=self._keys().sign(claims, x5t=True),
            expires_in=times.expires_in,
            expires_on=times.expires_at,
            not_before=times.issued_at,
            resource=audience,
        )

    def _tenant_and_app(self, segment: str, client_id: str) -> tuple[Tenant, Application]:
        lowered = segment.lower()
        if lowered in COMMON_TENANTS:
            raise IdentityError(errors.COMMON_ENDPOINT)
        if lowered == ORGANIZATIONS:
            # Entra "guesses" the tenant for /organizations; the app's home tenant is the only sound guess.
            home = self._directory.find_home_application(client_id) if is_guid(client_id) else None
            tenant = self._directory.find_tenant(home.tenant_id) if home else None
            if home is None or tenant is None:
                raise IdentityError(errors.APP_NOT_FOUND, client_id=client_id[:256], tenant_name=ORGANIZATIONS)
            return tenant, home
        tenant = resolve_tenant(self._directory, segment)
        app = self._directory.find_application(tenant.id, client_id) if is_guid(client_id) else None
        if app is None:
            raise IdentityError(errors.APP_NOT_FOUND, client_id=client_id[:256], tenant_name=tenant.display_name)
        return tenant, app

    def _authenticate(
        self, tenant: Tenant, app: Application, request: TokenRequest, context: TokenEndpointContext, now: float
    ) -> str:
        if request.client_assertion is not None:
            policy = AssertionPolicy(lambda aud: context.audience_ok(tenant, aud), self._replay_guard)
            certificates = self._directory.certificates(app.id)
            return authenticate_assertion(app, certificates, request.client_assertion, policy, now)
        secrets = self._directory.client_secrets(app.id)
        return authenticate_secret(app, secrets, request.client_secrets, self._hasher, now)

    def _audience(self, tenant: Tenant, target: str) -> str:
        """The token's ``aud``: the resource as sent, when it names Dynamics CRM in this tenant (an org URL)."""
        if target.lower() == DYNAMICS_CRM_APP_ID:
            return target
        wanted = canonical_url(target)
        identifiers: Sequence[str | None] = [canonical_url(org.url) for org in self._directory.organizations(tenant.id)]
        if wanted is None or wanted not in identifiers:
            raise IdentityError(errors.RESOURCE_NOT_FOUND, resource=target[:512], tenant_name=tenant.display_name)
        return target
