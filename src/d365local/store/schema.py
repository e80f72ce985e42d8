"""SQLAlchemy Core tables: the one description of the database that migrations must reproduce exactly.

Times are POSIX seconds (double precision) so they compare directly with the injected clock.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

GUID = String(36)

settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
"""Installation-wide values: public base URL, the secret-hash key, the seeding marker."""

change_counter = Table(
    "change_counter",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
)
"""One row; every admin write bumps it first, which both serializes writers and tells servers to drop caches."""

tenants = Table(
    "tenants",
    metadata,
    Column("id", GUID, primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("created_at", Double, nullable=False),
)

tenant_domains = Table(
    "tenant_domains",
    metadata,
    Column("name", String(253), primary_key=True),
    Column("tenant_id", GUID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("is_default", Boolean, nullable=False),
    Column("is_initial", Boolean, nullable=False),
)
"""Verified domains, stored lower-case: domains are unique across all tenants, as in Entra."""

applications = Table(
    "applications",
    metadata,
    Column("id", GUID, primary_key=True),
    Column("app_id", GUID, nullable=False, unique=True),
    Column("tenant_id", GUID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("display_name", String(256), nullable=False),
    Column("service_principal_id", GUID, nullable=False, unique=True),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
)

client_secrets = Table(
    "client_secrets",
    metadata,
    Column("key_id", GUID, primary_key=True),
    Column("app_object_id", GUID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("hint", String(8), nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("start_at", Double, nullable=False),
    Column("end_at", Double, nullable=False),
    Column("secret_hash", LargeBinary(64), nullable=False),
)

certificates = Table(
    "certificates",
    metadata,
    Column("key_id", GUID, primary_key=True),
    Column("app_object_id", GUID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("thumbprint", String(40), nullable=False),
    Column("thumbprint_sha256", String(64), nullable=False),
    Column("start_at", Double, nullable=False),
    Column("end_at", Double, nullable=False),
    Column("der", LargeBinary, nullable=False),
    UniqueConstraint("app_object_id", "thumbprint"),
)

permissions = Table(
    "permissions",
    metadata,
    Column("app_object_id", GUID, ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True),
    Column("api", String(256), primary_key=True),
    Column("permission", String(256), primary_key=True),
    Column("kind", String(16), nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("app_object_id", GUID, ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True),
    Column("granted_by", String(256), nullable=False),
    Column("granted_at", Double, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", GUID, primary_key=True),
    Column("tenant_id", GUID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_principal_name", String(256), nullable=False),
    Column("display_name", String(256), nullable=False),
    UniqueConstraint("tenant_id", "user_principal_name"),
)

app_owners = Table(
    "app_owners",
    metadata,
    Column("app_object_id", GUID, ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", GUID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", GUID, primary_key=True),
    Column("tenant_id", GUID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("unique_name", String(63), nullable=False, unique=True),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_key_pem", LargeBinary, nullable=False),
    Column("certificate_der", LargeBinary, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("retired", Boolean, nullable=False),
)

used_assertions = Table(
    "used_assertions",
    metadata,
    Column("client_id", GUID, primary_key=True),
    Column("jti", String(256), primary_key=True),
    Column("expires_at", Double, nullable=False),
    Index("ix_used_assertions_expires_at", "expires_at"),
)
"""Assertion ids seen while ``--reject-assertion-replay`` is on, kept until the assertion expires."""

injected_faults = Table(
    "injected_faults",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target", String(16), nullable=False),  # "token" (the token endpoint) or "webapi" (Dataverse)
    Column("scope_id", GUID, nullable=False),  # the tenant (token faults) or the organization (Web API faults)
    Column("app_id", GUID, nullable=False),
    Column("code", String(32), nullable=False),  # "AADSTS7000222" (token) or "0x80072322" (Web API)
    Column("retry_after", Integer, nullable=True),
    Column("remaining", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    Index("ix_injected_faults_target_scope_id_app_id", "target", "scope_id", "app_id"),
)
"""Failures an integration asked for to test its error handling (``d365local fault``, the pytest plugin)."""
