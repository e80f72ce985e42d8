"""The migrations produce exactly the schema ``store.schema`` describes, and the record tables exactly what the
catalog describes (``store.record_tables``), on SQLite and PostgreSQL — for a new database and for one that an
older version created."""

from __future__ import annotations

import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from d365local.store import records_schema  # noqa: F401 - the Dataverse side's Alembic tables belong to the schema
from d365local.store.customizations_sql import inputs_fingerprint
from d365local.store.engine import alembic_config, create_database_engine, exclusive, migrate
from d365local.store.record_tables import FINGERPRINT_SETTING, builtin_record_tables
from d365local.store.schema import metadata


def schema_differences(conn: Connection) -> list[object]:
    """What the database lacks or has beyond Alembic's tables plus the record tables. Column types are compared on
    PostgreSQL only: SQLite keeps the declared type of a column an older version created (it stores by affinity)."""
    records = builtin_record_tables()
    alembic_diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # The record tables (and their indexes) are not Alembic's: compare them with the catalog's tables instead.
    alembic_diff = [d for d in alembic_diff if not _about(d, set(records.metadata.tables))]
    options = {"compare_type": conn.dialect.name == "postgresql"}
    record_diff = compare_metadata(MigrationContext.configure(conn, opts=options), records.metadata)
    record_diff = [d for d in record_diff if not _about(d, set(metadata.tables) | {"alembic_version"})]
    # An older version made the account number key a unique constraint; the same name as a unique index is the same
    # rule, and SQLite cannot swap one for the other without rebuilding the table.
    constraints = {d[1].name for d in record_diff if isinstance(d, tuple) and d[0] == "remove_constraint"}
    indexes = {d[1].name for d in record_diff if isinstance(d, tuple) and d[0] == "add_index" and d[1].unique}
    same = constraints & indexes
    record_diff = [d for d in record_diff if not (isinstance(d, tuple) and getattr(d[1], "name", None) in same)]
    return [*alembic_diff, *record_diff]


def _about(difference: object, tables: set[str]) -> bool:
    items = difference if isinstance(difference, list) else [difference]
    for item in items:
        for part in item:
            name = getattr(part, "name", None)
            table = getattr(part, "table", None)
            if name in tables or getattr(table, "name", None) in tables or part in tables:
                return True
    return False


def test_upgrade_head_matches_schema(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert schema_differences(conn) == []
        expected = set(metadata.tables) | set(builtin_record_tables().metadata.tables) | {"alembic_version"}
        assert set(inspect(engine).get_table_names()) == expected
    finally:
        engine.dispose()


def test_a_database_of_an_older_version_gains_the_standard_tables_and_keeps_its_rows(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        with exclusive(engine), engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0006")  # what the previous release left: 9 tables, fewer columns
            org, tenant = str(uuid.uuid4()), str(uuid.uuid4())
            conn.execute(text("INSERT INTO tenants (id, display_name, created_at) VALUES (:t, 'T', 0)"), {"t": tenant})
            conn.execute(
                text(
                    "INSERT INTO organizations (id, tenant_id, unique_name, is_default, created_at) "
                    "VALUES (:o, :t, 'org', true, 0)"
                ),
                {"o": org, "t": tenant},
            )
            conn.execute(
                text("INSERT INTO dv_account (accountid, orgid, name, accountnumber) VALUES (:a, :o, 'kept', 'A1')"),
                {"a": str(uuid.uuid4()), "o": org},
            )
        migrate(engine)
        with engine.connect() as conn:
            assert schema_differences(conn) == []
            kept = conn.execute(text("SELECT name, lastonholdtime FROM dv_account")).one()
            assert tuple(kept) == ("kept", None)
            stored = conn.execute(text("SELECT value FROM settings WHERE name = :n"), {"n": FINGERPRINT_SETTING})
            assert stored.scalar_one() == inputs_fingerprint([])
    finally:
        engine.dispose()


def test_migrate_is_idempotent(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        migrate(engine)
        migrate(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT generation FROM change_counter").scalar_one() == 0
    finally:
        engine.dispose()


def test_records_keyed_by_org_keep_their_rows_links_and_privileges(database_url: str) -> None:
    """0006 re-keys every record table by (orgid, id): a database written at 0005 keeps its rows, role links and
    privileges (renamed to Dataverse's prvReadUser), and an id taken in one org is then free in another."""
    engine = create_database_engine(database_url)
    tenant, org_a, org_b = (str(uuid.uuid4()) for _ in range(3))
    unit, role, user, account = (str(uuid.uuid4()) for _ in range(4))
    try:
        with exclusive(engine), engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0005")
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO tenants (id, display_name, created_at) VALUES (:id, 'T', 0)"), {"id": tenant}
            )
            for org, name in ((org_a, "a"), (org_b, "b")):
                conn.execute(
                    text(
                        "INSERT INTO organizations (id, tenant_id, unique_name, is_default, created_at) "
                        "VALUES (:id, :tenant, :name, false, 0)"
                    ),
                    {"id": org, "tenant": tenant, "name": name},
                )
            conn.execute(
                text("INSERT INTO dv_businessunit (businessunitid, orgid) VALUES (:u, :o)"), {"u": unit, "o": org_a}
            )
            conn.execute(
                text("INSERT INTO dv_role (roleid, orgid, name) VALUES (:r, :o, 'R')"), {"r": role, "o": org_a}
            )
            conn.execute(
                text("INSERT INTO dv_systemuser (systemuserid, orgid, fullname) VALUES (:u, :o, 'U')"),
                {"u": user, "o": org_a},
            )
            conn.execute(
                text("INSERT INTO dv_systemuserroles (systemuserid, roleid) VALUES (:u, :r)"), {"u": user, "r": role}
            )
            for name, depth in (("prvReadSystemuser", 2), ("prvReadSystemUser", 8), ("prvReadAccount", 1)):
                conn.execute(
                    text("INSERT INTO dv_roleprivileges (roleid, privilege, depth) VALUES (:r, :p, :d)"),
                    {"r": role, "p": name, "d": depth},
                )
            conn.execute(
                text("INSERT INTO dv_account (accountid, orgid, name) VALUES (:a, :o, 'kept')"),
                {"a": account, "o": org_a},
            )
        migrate(engine)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT name FROM dv_account WHERE accountid = :a"), {"a": account}).all() == [
                ("kept",)
            ]
            links = conn.execute(text("SELECT orgid, systemuserid, roleid FROM dv_systemuserroles")).all()
            assert [tuple(r) for r in links] == [(org_a, user, role)]
            privileges = conn.execute(
                text("SELECT orgid, privilege, depth FROM dv_roleprivileges ORDER BY privilege")
            ).all()
            assert [tuple(p) for p in privileges] == [(org_a, "prvReadAccount", 1), (org_a, "prvReadUser", 8)]
            # The same id in another organization is a different record.
            conn.execute(
                text("INSERT INTO dv_account (accountid, orgid, name) VALUES (:a, :o, 'other')"),
                {"a": account, "o": org_b},
            )
            # Deleting a user still removes its role links.
            conn.execute(text("DELETE FROM dv_systemuser WHERE systemuserid = :u"), {"u": user})
            assert conn.execute(text("SELECT count(*) FROM dv_systemuserroles")).scalar_one() == 0
        with engine.connect() as conn:
            assert schema_differences(conn) == []
    finally:
        engine.dispose()
