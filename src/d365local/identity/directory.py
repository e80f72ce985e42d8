"""The storage port of the identity side: what the token service and the admin use cases read and write.

``d365local.store`` implements it on SQL; identity code never imports storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from d365local.identity.model import (
    Application,
    Certificate,
    ClientSecret,
    Consent,
    Organization,
    Permission,
    SigningKey,
    Tenant,
    User,
)


class DirectoryReader(Protocol):
    """The reads on the token path."""

    def find_tenant(self, key: str) -> Tenant | None:
        """By GUID or by any verified domain (case-insensitive)."""

    def find_application(self, tenant_id: str, app_id: str) -> Application | None: ...

    def find_home_application(self, app_id: str) -> Application | None:
        """The app registration with this client id in whichever tenant it lives (for ``/organizations``)."""

    def client_secrets(self, app_object_id: str) -> Sequence[ClientSecret]: ...

    def certificates(self, app_object_id: str) -> Sequence[Certificate]: ...

    def organizations(self, tenant_id: str | None = None) -> Sequence[Organization]: ...

    def signing_keys(self) -> Sequence[SigningKey]: ...


class Directory(DirectoryReader, Protocol):
    """Reads and writes of the admin use cases; each write is visible to a running server's next request."""

    def tenants(self) -> Sequence[Tenant]: ...

    def organizations_named(self, name: str) -> Sequence[Organization]:
        """The organization with this unique name (none or one): a lookup, not a scan of every org."""

    def has_default_organization(self) -> bool: ...

    def add_tenant(self, tenant: Tenant) -> None: ...

    def applications(self, tenant_id: str) -> Sequence[Application]: ...

    def add_application(self, app: Application) -> None: ...

    def set_application_disabled(self, app_object_id: str, disabled: bool) -> None: ...

    def add_client_secret(self, secret: ClientSecret) -> None: ...

    def remove_client_secret(self, app_object_id: str, key_id: str) -> bool: ...

    def add_certificate(self, certificate: Certificate) -> None: ...

    def remove_certificate(self, app_object_id: str, thumbprint: str) -> bool: ...

    def permissions(self, app_object_id: str) -> Sequence[Permission]: ...

    def add_permission(self, permission: Permission) -> None: ...

    def consent(self, app_object_id: str) -> Consent | None: ...

    def set_consent(self, consent: Consent) -> None: ...

    def users(self, tenant_id: str) -> Sequence[User]: ...

    def add_user(self, user: User) -> None: ...

    def owners(self, app_object_id: str) -> Sequence[User]: ...

    def add_owner(self, app_object_id: str, user_id: str) -> None: ...

    def add_organization(self, org: Organization, *, is_default: bool) -> None: ...

    def add_signing_key(self, key: SigningKey) -> None: ...

    def set_signing_key_state(self, kid: str, *, active: bool, retired: bool) -> None: ...
