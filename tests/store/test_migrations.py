"""The migrations produce exactly the schema ``store.schema`` describes, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from d365local.store import records_schema  # noqa: F401 - the Dataverse record tables belong to the schema
from d365local.store.engine import create_database_engine, migrate
from d365local.store.schema import metadata


def test_upgrade_head_matches_schema(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        assert set(inspect(engine).get_table_names()) == set(metadata.tables) | {"alembic_version"}
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
