"""The directory: tenants, app registrations, their credentials and permissions, users and organizations.

Plain frozen values; the store persists them and the use cases in ``admin`` and ``token_service`` decide with them.
Times are POSIX seconds (floats) so they compare directly with the injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DYNAMICS_CRM_APP_ID = "00000007-0000-0000-c000-000000000000"
"""The first-party "Dynamics CRM" application every tenant has a service principal for."""
DYNAMICS_CRM_NAME = "Dynamics CRM"
USER_IMPERSONATION = "user_impersonation"
"""The one (delegated) permission Dynamics CRM exposes; app-only callers are authorized by Dataverse instead."""


@dataclass(frozen=True)
class Domain:
    name: str
    is_default: bool
    is_initial: bool


@dataclass(frozen=True)
class Tenant:
    id: str
    display_name: str
    domains: tuple[Domain, ...]

    @property
    def default_domain(self) -> str:
        return next((d.name for d in self.domains if d.is_default), self.domains[0].name if self.domains else "")


@dataclass(frozen=True)
class Application:
    """An app registration with its service principal in the home tenant (one object in d365local)."""

    id: str
    """Object ID of the application object."""
    app_id: str
    """Application (client) ID."""
    tenant_id: str
    display_name: str
    service_principal_id: str
    """Object ID of the service principal: the token's oid/sub, and what Dynamics binds the application user to."""
    disabled: bool
    created_at: float


@dataclass(frozen=True)
class ClientSecret:
    key_id: str
    app_object_id: str
    hint: str
    display_name: str
    start: float
    end: float
    secret_hash: bytes = field(repr=False)


@dataclass(frozen=True)
class Certificate:
    key_id: str
    app_object_id: str
    thumbprint: str
    """SHA-1 of the DER certificate, upper-case hex (as the portal shows it)."""
    thumbprint_sha256: str
    start: float
    end: float
    der: bytes = field(repr=False)


@dataclass(frozen=True)
class Permission:
    """A required permission the app asked for (API permissions blade)."""

    app_object_id: str
    api: str
    permission: str
    kind: str
    """"Scope" (delegated) or "Role" (application)."""


@dataclass(frozen=True)
class Consent:
    """Admin consent granted for an app's requested permissions."""

    app_object_id: str
    granted_by: str
    granted_at: float


@dataclass(frozen=True)
class User:
    id: str
    tenant_id: str
    user_principal_name: str
    display_name: str


@dataclass(frozen=True)
class Organization:
    """A Dynamics 365 organization as the identity side sees it: a resource identifier of Dynamics CRM."""

    id: str
    tenant_id: str
    name: str
    url: str


@dataclass(frozen=True)
class SigningKey:
    kid: str
    """Base64url SHA-1 thumbprint of ``certificate_der`` (also the JWT header's x5t)."""
    private_key_pem: bytes = field(repr=False)
    certificate_der: bytes = field(repr=False)
    created_at: float = 0.0
    active: bool = True
    retired: bool = False
