"""Every admin use case on one open database: what the CLI and the pytest plugin drive (the server never does)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from d365local.clock import Clock, SystemClock
from d365local.dataverse.domain.admin import DataverseAdmin
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.faults import FaultInjection
from d365local.identity.admin import DirectoryAdmin
from d365local.identity.secret_hash import SecretHasher
from d365local.store.customizations_sql import SqlCustomizations
from d365local.store.database import Database, open_database
from d365local.store.faults_sql import SqlFaults
from d365local.store.security_sql import SqlSecurityStore


@dataclass(frozen=True)
class Admins:
    directory: DirectoryAdmin
    """Entra ID: tenants, app registrations, secrets, certificates, permissions, consent, orgs, signing keys."""
    dataverse: DataverseAdmin
    """Dynamics 365: application users, security roles, throttling."""
    faults: FaultInjection
    """Failures on purpose, for testing error handling."""

    @classmethod
    def on(cls, database: Database, clock: Clock | None = None) -> Admins:
        clock = clock or SystemClock()
        directory = DirectoryAdmin(database.directory, SecretHasher(database.settings.secret_hash_key()), clock)
        schema = SqlCustomizations(database.directory, builtin_catalog())
        dataverse = DataverseAdmin(
            SqlSecurityStore(database.directory), builtin_catalog(), clock, catalogs=schema.catalog
        )
        faults = FaultInjection(SqlFaults(database.engine, database.directory.bump), directory, dataverse, clock)
        return cls(directory, dataverse, faults)


@contextmanager
def open_admins(data_dir: Path, database_url: str | None = None) -> Iterator[Admins]:
    database = open_database(data_dir, database_url)
    try:
        admins = Admins.on(database)
        admins.dataverse.ensure_organizations()
        yield admins
    finally:
        database.close()
