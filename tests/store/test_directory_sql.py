"""The SQL directory: round trips, the change signal, the read cache and single-use assertions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from d365local.clock import FrozenClock
from d365local.identity.admin import AdminError, DirectoryAdmin
from d365local.identity.model import Organization
from d365local.identity.secret_hash import SecretHasher
from d365local.store.database import Database, open_database
from d365local.store.directory_cache import CachedDirectoryReader
from d365local.store.directory_sql import DuplicateError
from d365local.store.replay_sql import SqlReplayGuard

NOW = 1_800_000_000.0


@pytest.fixture
def database(database_url: str, tmp_path: Path) -> Iterator[Database]:
    db = open_database(tmp_path, database_url)
    yield db
    db.close()


@pytest.fixture
def admin(database: Database) -> DirectoryAdmin:
    return DirectoryAdmin(database.directory, SecretHasher(database.settings.secret_hash_key()), FrozenClock(NOW))


def test_tenant_round_trip_by_guid_and_domain(admin: DirectoryAdmin, database: Database) -> None:
    tenant = admin.create_tenant("Contoso Ltd", domain="contoso.com")
    assert [d.name for d in tenant.domains] == ["contosoltd.onmicrosoft.com", "contoso.com"]
    for key in (tenant.id, tenant.id.upper(), "CONTOSO.com", "contosoltd.onmicrosoft.com"):
        assert database.directory.find_tenant(key) == tenant
    assert database.directory.find_tenant("fabrikam.com") is None
    with pytest.raises(AdminError, match="already verified"):
        admin.create_tenant("Other", domain="contoso.com")


def test_app_with_credentials_permissions_consent_and_owner(admin: DirectoryAdmin, database: Database) -> None:
    tenant = admin.create_tenant("Contoso")
    app = admin.create_app(tenant.id, "integration")
    assert database.directory.find_application(tenant.id, app.app_id.upper()) == app
    assert database.directory.find_home_application(app.app_id) == app

    new = admin.add_secret(tenant.id, app.app_id, description="ci")
    assert len(new.value) == 40
    assert new.secret.hint == new.value[:3]
    stored = database.directory.client_secrets(app.id)
    assert [s.key_id for s in stored] == [new.secret.key_id]
    assert new.value.encode() not in stored[0].secret_hash
    assert stored[0].end - stored[0].start == 365 * 24 * 3600

    admin.add_permission(tenant.id, app.app_id, "Dynamics CRM", "user_impersonation")
    admin.add_permission(tenant.id, app.app_id, "dynamics crm", "user_impersonation")
    assert len(admin.permissions(tenant.id, app.app_id)) == 1
    consent = admin.grant_consent(tenant.id, app.app_id)
    assert consent.granted_by == "admin@contoso.onmicrosoft.com"
    assert admin.consent(tenant.id, app.app_id) == consent

    user = admin.create_user(tenant.id, "Alice@Contoso.onmicrosoft.com")
    admin.add_owner(tenant.id, app.app_id, "alice@contoso.onmicrosoft.com")
    assert admin.owners(tenant.id, app.app_id) == [user]

    admin.remove_secret(tenant.id, app.app_id, new.secret.key_id)
    assert database.directory.client_secrets(app.id) == []
    with pytest.raises(AdminError):
        admin.remove_secret(tenant.id, app.app_id, new.secret.key_id)


def test_user_needs_a_verified_domain(admin: DirectoryAdmin) -> None:
    tenant = admin.create_tenant("Contoso")
    with pytest.raises(AdminError, match="verified domain"):
        admin.create_user(tenant.id, "bob@example.com")


def test_organizations_follow_the_public_base_url(admin: DirectoryAdmin, database: Database) -> None:
    tenant = admin.create_tenant("Contoso")
    database.directory.set_public_base_url("https://localhost:7000")
    first = admin.create_org(tenant.id, "contoso")
    second = admin.create_org(tenant.id, "sales")
    assert (first.url, second.url) == ("https://localhost:7000", "https://localhost:7000/orgs/sales")
    database.directory.set_public_base_url("https://d365.example.test")
    assert [o.url for o in database.directory.organizations(tenant.id)] == [
        "https://d365.example.test",
        "https://d365.example.test/orgs/sales",
    ]
    with pytest.raises(AdminError):
        admin.create_org(tenant.id, "Not A Label!")
    with pytest.raises(AdminError, match="already exists"):
        admin.create_org(tenant.id, "sales")


def test_duplicate_unique_name_is_a_clear_error(admin: DirectoryAdmin, database: Database) -> None:
    tenant = admin.create_tenant("Contoso")
    org = Organization("2b1b6d7e-8a3c-4f0e-9d7a-000000000001", tenant.id, "dup", "")
    database.directory.add_organization(org, is_default=False)
    with pytest.raises(DuplicateError):
        database.directory.add_organization(org, is_default=False)


def test_every_write_bumps_the_generation(admin: DirectoryAdmin, database: Database) -> None:
    before = database.directory.generation()
    tenant = admin.create_tenant("Contoso")
    app = admin.create_app(tenant.id, "x")
    admin.set_app_disabled(tenant.id, app.app_id, True)
    assert database.directory.generation() == before + 3


def test_cached_reader_sees_writes_after_sync(admin: DirectoryAdmin, database: Database) -> None:
    reader = CachedDirectoryReader(database.directory)
    tenant = admin.create_tenant("Contoso")
    app = admin.create_app(tenant.id, "x")
    reader.sync()
    assert reader.find_application(tenant.id, app.app_id) == app
    admin.set_app_disabled(tenant.id, app.app_id, True)
    assert reader.find_application(tenant.id, app.app_id) == app  # not yet synced: cached answer
    reader.sync()
    cached = reader.find_application(tenant.id, app.app_id)
    assert cached is not None
    assert cached.disabled


def test_signing_keys_rotate_and_retire(admin: DirectoryAdmin) -> None:
    admin.ensure_signing_key()
    admin.ensure_signing_key()
    (first,) = admin.signing_keys()
    second = admin.rotate_signing_key()
    states = {k.kid: (k.active, k.retired) for k in admin.signing_keys()}
    assert states == {first.kid: (False, False), second.kid: (True, False)}
    with pytest.raises(AdminError, match="active"):
        admin.retire_signing_key(second.kid)
    admin.retire_signing_key(first.kid)
    assert {k.kid: k.retired for k in admin.signing_keys()} == {first.kid: True, second.kid: False}


def test_secret_hash_key_is_shared(database: Database) -> None:
    assert database.settings.secret_hash_key() == database.settings.secret_hash_key()
    assert len(database.settings.secret_hash_key()) == 32


def test_replay_guard_accepts_each_jti_once(database: Database) -> None:
    clock = FrozenClock(NOW)
    guard = SqlReplayGuard(database.engine, clock)
    assert guard.first_use("c", "jti-1", NOW + 600)
    assert not guard.first_use("c", "jti-1", NOW + 600)
    assert guard.first_use("other-client", "jti-1", NOW + 600)
    clock.advance(3600)
    assert guard.first_use("c", "jti-2", NOW + 4200)


def test_sqlite_data_version_sees_commits_from_other_connections(tmp_path: Path) -> None:
    from d365local.store.engine import data_version_signal
    from d365local.store.generation_cache import GenerationCache

    database = open_database(tmp_path)
    try:
        signal = data_version_signal(database.engine)
        assert signal is not None
        reads = []

        def generation() -> int:
            reads.append(1)
            return database.directory.generation()

        cache = GenerationCache(generation, changed_marker=signal)
        first = cache.sync()
        assert cache.sync() == first
        assert cache.sync() == first
        assert len(reads) == 1  # nothing committed: the counter was read once
        admin = DirectoryAdmin(database.directory, SecretHasher(database.settings.secret_hash_key()), FrozenClock(NOW))
        admin.create_tenant("Contoso")
        assert cache.sync() == first + 1
        assert len(reads) == 2
    finally:
        database.close()
