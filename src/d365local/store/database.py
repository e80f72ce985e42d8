"""One opened d365local database: engine, migrations applied, and the repositories on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from d365local.data_directory import ensure_private_directory
from d365local.store.directory_sql import SqlDirectory
from d365local.store.engine import create_database_engine, default_database_url, migrate
from d365local.store.settings_sql import SqlSettings


@dataclass(frozen=True)
class Database:
    engine: Engine
    directory: SqlDirectory
    settings: SqlSettings

    def close(self) -> None:
        self.engine.dispose()


def open_database(data_dir: Path, database_url: str | None = None) -> Database:
    """Open (creating and migrating as needed) the database of a data directory or the given URL.

    A data directory that holds the database is made private first (0700, its files 0600): the database holds the
    signing keys and the secret-hash key.
    """
    if database_url is None:
        ensure_private_directory(data_dir)
    engine = create_database_engine(database_url or default_database_url(data_dir))
    migrate(engine)
    return Database(engine, SqlDirectory(engine), SqlSettings(engine))
