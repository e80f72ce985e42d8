"""The identity directory on SQL: implements ``identity.directory.Directory``.

Every write runs in its own transaction that first bumps ``change_counter``; that row lock serializes concurrent
writers (CLI and servers) and is the change signal servers use to drop their caches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from d365local.identity.model import (
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
from d365local.store import schema as t
from d365local.store.settings_sql import PUBLIC_BASE_URL, SqlSettings

ORG_PATH_PREFIX = "/orgs/"


class DuplicateError(ValueError):
    """A unique name (domain, org name, UPN, thumbprint) is already taken."""


class SqlDirectory:
    """Directory reads and writes on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._settings = SqlSettings(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- change signal ---------------------------------------------------------------------------------------
    def generation(self) -> int:
        with self._engine.connect() as conn:
            return int(
                conn.execute(select(t.change_counter.c.generation).where(t.change_counter.c.id == 1)).scalar_one()
            )

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction that bumps the change counter first (and so takes the writer lock)."""
        try:
            with self._engine.begin() as conn:
                self.bump(conn)
                yield conn
        except IntegrityError as exc:
            raise DuplicateError(str(exc.orig)) from exc

    def set_public_base_url(self, url: str) -> None:
        """Store the public base URL as an admin write, so running servers re-read it (org URLs follow)."""
        with self.write() as conn:
            updated = conn.execute(update(t.settings).where(t.settings.c.name == PUBLIC_BASE_URL).values(value=url))
            if updated.rowcount == 0:
                conn.execute(insert(t.settings).values(name=PUBLIC_BASE_URL, value=url))

    @staticmethod
    def bump(conn: Connection) -> None:
        """Tell every server that cached directory or security data is stale (part of the caller's transaction)."""
        conn.execute(
            update(t.change_counter)
            .where(t.change_counter.c.id == 1)
            .values(generation=t.change_counter.c.generation + 1)
        )

    # -- tenants ---------------------------------------------------------------------------------------------
    def find_tenant(self, key: str) -> Tenant | None:
        with self._engine.connect() as conn:
            tenant_id = conn.execute(
                # Ids are stored lower-case (admin normalizes them): an index lookup, not a scan.
                select(t.tenants.c.id).where(t.tenants.c.id == key.lower())
            ).scalar_one_or_none()
            if tenant_id is None:
                tenant_id = conn.execute(
                    select(t.tenant_domains.c.tenant_id).where(t.tenant_domains.c.name == key.lower())
                ).scalar_one_or_none()
            return self._tenants(conn, [tenant_id])[0] if tenant_id else None

    def tenants(self) -> Sequence[Tenant]:
        with self._engine.connect() as conn:
            ids = conn.execute(select(t.tenants.c.id).order_by(t.tenants.c.created_at, t.tenants.c.id)).scalars()
            return self._tenants(conn, list(ids))

    def _tenants(self, conn: Connection, ids: list[str]) -> list[Tenant]:
        if not ids:
            return []
        rows = {r.id: r for r in conn.execute(select(t.tenants).where(t.tenants.c.id.in_(ids)))}
        domains: dict[str, list[Domain]] = {}
        for d in conn.execute(
            select(t.tenant_domains).where(t.tenant_domains.c.tenant_id.in_(ids)).order_by(t.tenant_domains.c.name)
        ):
            domains.setdefault(d.tenant_id, []).append(Domain(d.name, d.is_default, d.is_initial))
        return [
            Tenant(rows[i].id, rows[i].display_name, tuple(sorted(domains.get(i, []), key=lambda d: not d.is_initial)))
            for i in ids
            if i in rows
        ]

    def add_tenant(self, tenant: Tenant, created_at: float = 0.0) -> None:
        with self.write() as conn:
            conn.execute(
                insert(t.tenants).values(id=tenant.id, display_name=tenant.display_name, created_at=created_at)
            )
            for d in tenant.domains:
                conn.execute(
                    insert(t.tenant_domains).values(
                        name=d.name.lower(), tenant_id=tenant.id, is_default=d.is_default, is_initial=d.is_initial
                    )
                )

    # -- applications ----------------------------------------------------------------------------------------
    def find_application(self, tenant_id: str, app_id: str) -> Application | None:
        return self._one_app(
            and_(t.applications.c.tenant_id == tenant_id, func.lower(t.applications.c.app_id) == app_id.lower())
        )

    def find_home_application(self, app_id: str) -> Application | None:
        return self._one_app(func.lower(t.applications.c.app_id) == app_id.lower())

    def find_application_by_object_id(self, object_id: str) -> Application | None:
        return self._one_app(t.applications.c.id == object_id)

    def _one_app(self, where: Any) -> Application | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(t.applications).where(where)).first()
        return _application(row) if row else None

    def applications(self, tenant_id: str) -> Sequence[Application]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.applications)
                .where(t.applications.c.tenant_id == tenant_id)
                .order_by(t.applications.c.created_at, t.applications.c.id)
            )
            return [_application(r) for r in rows]

    def add_application(self, app: Application) -> None:
        with self.write() as conn:
            conn.execute(
                insert(t.applications).values(
                    id=app.id,
                    app_id=app.app_id,
                    tenant_id=app.tenant_id,
                    display_name=app.display_name,
                    service_principal_id=app.service_principal_id,
                    disabled=app.disabled,
                    created_at=app.created_at,
                )
            )

    def set_application_disabled(self, app_object_id: str, disabled: bool) -> None:
        with self.write() as conn:
            conn.execute(update(t.applications).where(t.applications.c.id == app_object_id).values(disabled=disabled))

    # -- credentials -----------------------------------------------------------------------------------------
    def client_secrets(self, app_object_id: str) -> Sequence[ClientSecret]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.client_secrets)
                .where(t.client_secrets.c.app_object_id == app_object_id)
                .order_by(t.client_secrets.c.start_at, t.client_secrets.c.key_id)
            )
            return [
                ClientSecret(r.key_id, r.app_object_id, r.hint, r.display_name, r.start_at, r.end_at, r.secret_hash)
                for r in rows
            ]

    def add_client_secret(self, secret: ClientSecret) -> None:
        with self.write() as conn:
            conn.execute(
                insert(t.client_secrets).values(
                    key_id=secret.key_id,
                    app_object_id=secret.app_object_id,
                    hint=secret.hint,
                    display_name=secret.display_name,
                    start_at=secret.start,
                    end_at=secret.end,
                    secret_hash=secret.secret_hash,
                )
            )

    def remove_client_secret(self, app_object_id: str, key_id: str) -> bool:
        with self.write() as conn:
            result = conn.execute(
                delete(t.client_secrets).where(
                    t.client_secrets.c.app_object_id == app_object_id,
                    func.lower(t.client_secrets.c.key_id) == key_id.lower(),
                )
            )
            return result.rowcount > 0

    def certificates(self, app_object_id: str) -> Sequence[Certificate]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.certificates)
                .where(t.certificates.c.app_object_id == app_object_id)
                .order_by(t.certificates.c.start_at, t.certificates.c.key_id)
            )
            return [
                Certificate(r.key_id, r.app_object_id, r.thumbprint, r.thumbprint_sha256, r.start_at, r.end_at, r.der)
                for r in rows
            ]

    def add_certificate(self, certificate: Certificate) -> None:
        with self.write() as conn:
            conn.execute(
                insert(t.certificates).values(
                    key_id=certificate.key_id,
                    app_object_id=certificate.app_object_id,
                    thumbprint=certificate.thumbprint,
                    thumbprint_sha256=certificate.thumbprint_sha256,
                    start_at=certificate.start,
                    end_at=certificate.end,
                    der=certificate.der,
                )
            )

    def remove_certificate(self, app_object_id: str, thumbprint: str) -> bool:
        wanted = thumbprint.upper()
        with self.write() as conn:
            result = conn.execute(
                delete(t.certificates).where(
                    t.certificates.c.app_object_id == app_object_id,
                    or_(t.certificates.c.thumbprint == wanted, t.certificates.c.thumbprint_sha256 == wanted),
                )
            )
            return result.rowcount > 0

    # -- permissions, consent, users, owners ----------------------------------------------------------------
    def permissions(self, app_object_id: str) -> Sequence[Permission]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.permissions)
                .where(t.permissions.c.app_object_id == app_object_id)
                .order_by(t.permissions.c.api, t.permissions.c.permission)
            )
            return [Permission(r.app_object_id, r.api, r.permission, r.kind) for r in rows]

    def add_permission(self, permission: Permission) -> None:
        with self.write() as conn:
            exists = conn.execute(
                select(t.permissions.c.kind).where(
                    t.permissions.c.app_object_id == permission.app_object_id,
                    t.permissions.c.api == permission.api,
                    t.permissions.c.permission == permission.permission,
                )
            ).first()
            if exists is None:
                conn.execute(
                    insert(t.permissions).values(
                        app_object_id=permission.app_object_id,
                        api=permission.api,
                        permission=permission.permission,
                        kind=permission.kind,
                    )
                )

    def consent(self, app_object_id: str) -> Consent | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(t.consents).where(t.consents.c.app_object_id == app_object_id)).first()
        return Consent(row.app_object_id, row.granted_by, row.granted_at) if row else None

    def set_consent(self, consent: Consent) -> None:
        with self.write() as conn:
            conn.execute(delete(t.consents).where(t.consents.c.app_object_id == consent.app_object_id))
            conn.execute(
                insert(t.consents).values(
                    app_object_id=consent.app_object_id, granted_by=consent.granted_by, granted_at=consent.granted_at
                )
            )

    def users(self, tenant_id: str) -> Sequence[User]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.users).where(t.users.c.tenant_id == tenant_id).order_by(t.users.c.user_principal_name)
            )
            return [_user(r) for r in rows]

    def add_user(self, user: User) -> None:
        with self.write() as conn:
            conn.execute(
                insert(t.users).values(
                    id=user.id,
                    tenant_id=user.tenant_id,
                    user_principal_name=user.user_principal_name.lower(),
                    display_name=user.display_name,
                )
            )

    def owners(self, app_object_id: str) -> Sequence[User]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.users)
                .join(t.app_owners, t.app_owners.c.user_id == t.users.c.id)
                .where(t.app_owners.c.app_object_id == app_object_id)
                .order_by(t.users.c.user_principal_name)
            )
            return [_user(r) for r in rows]

    def add_owner(self, app_object_id: str, user_id: str) -> None:
        with self.write() as conn:
            exists = conn.execute(
                select(t.app_owners.c.user_id).where(
                    t.app_owners.c.app_object_id == app_object_id, t.app_owners.c.user_id == user_id
                )
            ).first()
            if exists is None:
                conn.execute(insert(t.app_owners).values(app_object_id=app_object_id, user_id=user_id))

    # -- organizations ---------------------------------------------------------------------------------------
    def organizations(self, tenant_id: str | None = None, *, key: str | None = None) -> Sequence[Organization]:
        """All organizations (of a tenant), or those whose unique name or id is ``key``."""
        base = self._settings.public_base_url()
        query = select(t.organizations).order_by(t.organizations.c.created_at, t.organizations.c.unique_name)
        if tenant_id is not None:
            query = query.where(t.organizations.c.tenant_id == tenant_id)
        if key is not None:
            query = query.where(or_(t.organizations.c.unique_name == key.lower(), t.organizations.c.id == key.lower()))
        with self._engine.connect() as conn:
            rows = conn.execute(query)
            return [
                Organization(
                    r.id,
                    r.tenant_id,
                    r.unique_name,
                    base if r.is_default else f"{base}{ORG_PATH_PREFIX}{r.unique_name}",
                )
                for r in rows
            ]

    def add_organization(self, org: Organization, *, is_default: bool, created_at: float = 0.0) -> None:
        with self.write() as conn:
            conn.execute(
                insert(t.organizations).values(
                    id=org.id,
                    tenant_id=org.tenant_id,
                    unique_name=org.name,
                    is_default=is_default,
                    created_at=created_at,
                )
            )

    def organizations_named(self, name: str) -> Sequence[Organization]:
        return self.organizations(key=name)

    def has_default_organization(self) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(select(t.organizations.c.id).where(t.organizations.c.is_default)).first() is not None

    # -- signing keys ----------------------------------------------------------------------------------------
    def signing_keys(self) -> Sequence[SigningKey]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.signing_keys).order_by(t.signing_keys.c.created_at))
            return [
                SigningKey(r.kid, r.private_key_pem, r.certificate_der, r.created_at, r.active, r.retired) for r in rows
            ]

    def add_signing_key(self, key: SigningKey) -> None:
        with self.write() as conn:
            conn.execute(
                insert(t.signing_keys).values(
                    kid=key.kid,
                    private_key_pem=key.private_key_pem,
                    certificate_der=key.certificate_der,
                    created_at=key.created_at,
                    active=key.active,
                    retired=key.retired,
                )
            )

    def set_signing_key_state(self, kid: str, *, active: bool, retired: bool) -> None:
        with self.write() as conn:
            conn.execute(
                update(t.signing_keys).where(t.signing_keys.c.kid == kid).values(active=active, retired=retired)
            )


def _application(r: Any) -> Application:
    return Application(r.id, r.app_id, r.tenant_id, r.display_name, r.service_principal_id, r.disabled, r.created_at)


def _user(r: Any) -> User:
    return User(r.id, r.tenant_id, r.user_principal_name, r.display_name)
