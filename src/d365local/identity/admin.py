"""The administrator's steps in Entra ID as use cases: what the portal (and ``d365local`` admin commands) do.

Each use case validates its input, names unknown things with the catalogue's AADSTS errors where Entra has one,
and writes through the :class:`~d365local.identity.directory.Directory` port.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from d365local.clock import Clock
from d365local.identity import errors
from d365local.identity.directory import Directory
from d365local.identity.errors import IdentityError
from d365local.identity.model import (
    DYNAMICS_CRM_APP_ID,
    DYNAMICS_CRM_NAME,
    USER_IMPERSONATION,
    Application,
    Certificate,
    ClientSecret,
    Consent,
    Domain,
    Organization,
    Permission,
    SigningKey,
    Tenant,
    User,
)
from d365local.identity.secret_hash import HINT_LENGTH, SecretHasher, generate_secret
from d365local.identity.signing import new_signing_key
from d365local.identity.token_service import is_guid, resolve_tenant

DEFAULT_SECRET_LIFETIME = 365 * 24 * 3600
MAX_SECRET_LIFETIME = 2 * 365 * 24 * 3600
"""The portal offers at most 24 months for a new client secret."""
MAX_NAME_LENGTH = 256
_ORG_NAME = re.compile(r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$|^[a-z]$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_UPN = re.compile(r"^[a-z0-9._%+'-]{1,64}@(?P<domain>[a-z0-9.-]+)$")

KNOWN_APIS: dict[str, dict[str, str]] = {DYNAMICS_CRM_NAME: {USER_IMPERSONATION: "Scope"}}
"""API → permission → kind. Dynamics CRM exposes only the delegated user_impersonation permission."""


class AdminError(ValueError):
    """An admin step that cannot be done as asked; the message says what to do instead."""


def initial_domain(display_name: str) -> str:
    """Every tenant's ``<name>.onmicrosoft.com``: lower-cased, non-alphanumerics removed."""
    label = re.sub(r"[^a-z0-9]", "", display_name.lower())[:27] or "tenant"
    return f"{label}.onmicrosoft.com"


@dataclass(frozen=True)
class NewSecret:
    """A secret just added: the only time its value is known."""

    secret: ClientSecret
    value: str


class DirectoryAdmin:
    """Tenants, app registrations, credentials, permissions, consent, users, owners, orgs and signing keys."""

    def __init__(
        self,
        directory: Directory,
        hasher: SecretHasher,
        clock: Clock,
        *,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._directory = directory
        self._hasher = hasher
        self._clock = clock
        self._new_id = new_id

    # -- tenants -------------------------------------------------------------------------------------------------
    def create_tenant(self, display_name: str, *, domain: str | None = None, tenant_id: str | None = None) -> Tenant:
        name = _display_name(display_name, "tenant")
        initial = initial_domain(name)
        domains = [Domain(initial, is_default=domain is None, is_initial=True)]
        if domain is not None:
            domains.append(Domain(_domain(domain), is_default=True, is_initial=False))
        for d in domains:
            if self._directory.find_tenant(d.name) is not None:
                raise AdminError(f"the domain {d.name} is already verified in another tenant; choose another name")
        tenant = Tenant(self._id(tenant_id, "tenant id"), name, tuple(domains))
        self._directory.add_tenant(tenant)
        return tenant

    def tenant(self, key: str) -> Tenant:
        return resolve_tenant(self._directory, key)

    def tenants(self) -> Sequence[Tenant]:
        return self._directory.tenants()

    # -- applications --------------------------------------------------------------------------------------------
    def create_app(self, tenant_key: str, display_name: str, *, app_id: str | None = None) -> Application:
        tenant = self.tenant(tenant_key)
        client_id = self._id(app_id, "application (client) id")
        if self._directory.find_home_application(client_id) is not None:
            raise AdminError(f"an application with client id {client_id} already exists")
        app = Application(
            id=self._new_id(),
            app_id=client_id,
            tenant_id=tenant.id,
            display_name=_display_name(display_name, "application"),
            service_principal_id=self._new_id(),
            disabled=False,
            created_at=self._clock.now(),
        )
        self._directory.add_application(app)
        return app

    def app(self, tenant_key: str, app_id: str) -> Application:
        tenant = self.tenant(tenant_key)
        app = self._directory.find_application(tenant.id, app_id) if is_guid(app_id) else None
        if app is None:
            raise IdentityError(errors.APP_NOT_FOUND, client_id=app_id, tenant_name=tenant.display_name)
        return app

    def apps(self, tenant_key: str) -> Sequence[Application]:
        return self._directory.applications(self.tenant(tenant_key).id)

    def set_app_disabled(self, tenant_key: str, app_id: str, disabled: bool) -> Application:
        app = self.app(tenant_key, app_id)
        self._directory.set_application_disabled(app.id, disabled)
        return self.app(tenant_key, app_id)

    # -- permissions and consent ---------------------------------------------------------------------------------
    def add_permission(self, tenant_key: str, app_id: str, api: str, permission: str) -> Permission:
        app = self.app(tenant_key, app_id)
        api_name = DYNAMICS_CRM_NAME if api.strip().lower() in (DYNAMICS_CRM_NAME.lower(), DYNAMICS_CRM_APP_ID) else api
        permissions = KNOWN_APIS.get(api_name)
        if permissions is None:
            raise AdminError(f"unknown API {api!r}; available: {', '.join(KNOWN_APIS)}")
        if permission not in permissions:
            raise AdminError(f"{api_name} has no permission {permission!r}; it exposes: {', '.join(permissions)}")
        granted = Permission(app.id, api_name, permission, permissions[permission])
        self._directory.add_permission(granted)
        return granted

    def permissions(self, tenant_key: str, app_id: str) -> Sequence[Permission]:
        return self._directory.permissions(self.app(tenant_key, app_id).id)

    def grant_consent(self, tenant_key: str, app_id: str, *, granted_by: str | None = None) -> Consent:
        tenant = self.tenant(tenant_key)
        app = self.app(tenant.id, app_id)
        if not self._directory.permissions(app.id):
            raise AdminError("the app requests no permissions yet: add one with `app permission add` first")
        consent = Consent(app.id, granted_by or f"admin@{tenant.default_domain}", self._clock.now())
        self._directory.set_consent(consent)
        return consent

    def consent(self, tenant_key: str, app_id: str) -> Consent | None:
        return self._directory.consent(self.app(tenant_key, app_id).id)

    # -- client secrets ------------------------------------------------------------------------------------------
    def add_secret(
        self, tenant_key: str, app_id: str, *, description: str = "", lifetime_seconds: int = DEFAULT_SECRET_LIFETIME
    ) -> NewSecret:
        app = self.app(tenant_key, app_id)
        if not 0 < lifetime_seconds <= MAX_SECRET_LIFETIME:
            raise AdminError("a client secret lives between 1 second and 24 months (e.g. --expires 1y, 6m, 90d)")
        value = generate_secret()
        now = self._clock.now()
        secret = ClientSecret(
            key_id=self._new_id(),
            app_object_id=app.id,
            hint=value[:HINT_LENGTH],
            display_name=description[:MAX_NAME_LENGTH],
            start=now,
            end=now + lifetime_seconds,
            secret_hash=self._hasher.hash(value),
        )
        self._directory.add_client_secret(secret)
        return NewSecret(secret, value)

    def add_known_secret(self, tenant_key: str, app_id: str, value: str, *, description: str = "") -> ClientSecret:
        """Register a secret whose value is given (fixed CI credentials, seed files)."""
        app = self.app(tenant_key, app_id)
        if not 16 <= len(value) <= 256 or not value.isprintable():
            raise AdminError("a fixed client secret must be 16-256 printable characters")
        stored = self._directory.client_secrets(app.id)
        existing = next((s for s in stored if self._hasher.matches(value, s.secret_hash)), None)
        if existing is not None:
            return existing
        now = self._clock.now()
        end = now + MAX_SECRET_LIFETIME
        secret = ClientSecret(
            self._new_id(), app.id, value[:HINT_LENGTH], description, now, end, self._hasher.hash(value)
        )
        self._directory.add_client_secret(secret)
        return secret

    def secrets(self, tenant_key: str, app_id: str) -> Sequence[ClientSecret]:
        return self._directory.client_secrets(self.app(tenant_key, app_id).id)

    def remove_secret(self, tenant_key: str, app_id: str, key_id: str) -> None:
        app = self.app(tenant_key, app_id)
        if not self._directory.remove_client_secret(app.id, key_id):
            raise AdminError(f"app {app.app_id} has no client secret with key id {key_id}: see `app secret list`")

    # -- certificates --------------------------------------------------------------------------------------------
    def add_certificate(self, tenant_key: str, app_id: str, data: bytes) -> Certificate:
        app = self.app(tenant_key, app_id)
        cert = _load_certificate(data)
        der = cert.public_bytes(serialization.Encoding.DER)
        certificate = Certificate(
            key_id=self._new_id(),
            app_object_id=app.id,
            thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - the thumbprint is SHA-1 by definition
            thumbprint_sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
            start=cert.not_valid_before_utc.timestamp(),
            end=cert.not_valid_after_utc.timestamp(),
            der=der,
        )
        if any(c.thumbprint == certificate.thumbprint for c in self._directory.certificates(app.id)):
            raise AdminError(f"certificate {certificate.thumbprint} is already registered on app {app.app_id}")
        self._directory.add_certificate(certificate)
        return certificate

    def certificates(self, tenant_key: str, app_id: str) -> Sequence[Certificate]:
        return self._directory.certificates(self.app(tenant_key, app_id).id)

    def remove_certificate(self, tenant_key: str, app_id: str, thumbprint: str) -> None:
        app = self.app(tenant_key, app_id)
        if not self._directory.remove_certificate(app.id, thumbprint.replace(":", "").strip()):
            raise AdminError(f"app {app.app_id} has no certificate with thumbprint {thumbprint}: see `app cert list`")

    # -- users and owners ----------------------------------------------------------------------------------------
    def create_user(self, tenant_key: str, upn: str, *, display_name: str | None = None) -> User:
        tenant = self.tenant(tenant_key)
        match = _UPN.match(upn.strip().lower())
        verified = {d.name for d in tenant.domains}
        if match is None or match["domain"] not in verified:
            raise AdminError(
                f"a user principal name is name@domain with a verified domain of the tenant: {sorted(verified)}"
            )
        if any(u.user_principal_name == match.string for u in self._directory.users(tenant.id)):
            raise AdminError(f"user {match.string} already exists")
        user = User(
            self._new_id(), tenant.id, match.string, _display_name(display_name or match.string.split("@")[0], "user")
        )
        self._directory.add_user(user)
        return user

    def users(self, tenant_key: str) -> Sequence[User]:
        return self._directory.users(self.tenant(tenant_key).id)

    def add_owner(self, tenant_key: str, app_id: str, upn: str) -> User:
        tenant = self.tenant(tenant_key)
        app = self.app(tenant.id, app_id)
        user = next((u for u in self._directory.users(tenant.id) if u.user_principal_name == upn.strip().lower()), None)
        if user is None:
            raise AdminError(f"no user {upn} in tenant {tenant.display_name}: create it with `user create` first")
        self._directory.add_owner(app.id, user.id)
        return user

    def owners(self, tenant_key: str, app_id: str) -> Sequence[User]:
        return self._directory.owners(self.app(tenant_key, app_id).id)

    # -- organizations -------------------------------------------------------------------------------------------
    def create_org(self, tenant_key: str, name: str, *, org_id: str | None = None) -> Organization:
        tenant = self.tenant(tenant_key)
        unique_name = name.strip().lower()
        if not _ORG_NAME.match(unique_name):
            raise AdminError("an org's unique name is a lowercase DNS label: letters, digits and '-', up to 63")
        if any(o.name == unique_name for o in self._directory.organizations_named(unique_name)):
            raise AdminError(f"an organization named {unique_name} already exists")
        is_default = not self._directory.has_default_organization()
        org = Organization(self._id(org_id, "organization id"), tenant.id, unique_name, "")
        self._directory.add_organization(org, is_default=is_default)
        return next(o for o in self._directory.organizations(tenant.id) if o.id == org.id)

    def organizations(self, tenant_key: str | None = None) -> Sequence[Organization]:
        return self._directory.organizations(self.tenant(tenant_key).id if tenant_key else None)

    # -- signing keys --------------------------------------------------------------------------------------------
    def ensure_signing_key(self) -> None:
        if not any(k.active and not k.retired for k in self._directory.signing_keys()):
            self._directory.add_signing_key(new_signing_key(self._clock.now()))

    def signing_keys(self) -> Sequence[SigningKey]:
        return self._directory.signing_keys()

    def rotate_signing_key(self) -> SigningKey:
        """A new active key; the previous ones stay published (tokens they signed still validate) until retired."""
        key = new_signing_key(self._clock.now())
        for old in self._directory.signing_keys():
            if old.active:
                self._directory.set_signing_key_state(old.kid, active=False, retired=old.retired)
        self._directory.add_signing_key(key)
        return key

    def retire_signing_key(self, kid: str) -> None:
        key = next((k for k in self._directory.signing_keys() if k.kid == kid), None)
        if key is None:
            raise AdminError(f"no signing key {kid}: see `keys list`")
        if key.active:
            raise AdminError("the active signing key cannot be retired: `keys rotate` first")
        self._directory.set_signing_key_state(kid, active=False, retired=True)

    def _id(self, given: str | None, what: str) -> str:
        if given is None:
            return self._new_id()
        if not is_guid(given):
            raise AdminError(f"the {what} must be a GUID, got {given!r}")
        return given.lower()


def _display_name(value: str, what: str) -> str:
    name = value.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise AdminError(f"a {what} name is 1-{MAX_NAME_LENGTH} printable characters")
    return name


def _domain(value: str) -> str:
    domain = value.strip().lower()
    if not _DOMAIN.match(domain):
        raise AdminError(f"{value!r} is not a domain name (e.g. contoso.com)")
    return domain


def _load_certificate(data: bytes) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise AdminError("not an X.509 certificate (PEM or DER); upload the public certificate, not the key") from exc
