"""Opening the database: engine from a URL, SQLite pragmas, and migrations to the current schema.

SQLite connections get WAL mode and a busy timeout so the CLI and a running server can write at once; migrations
run under a lock (an advisory lock on PostgreSQL, a file lock next to a SQLite database) so concurrent starts are safe.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, insert, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from d365local.data_directory import create_private_file, create_private_parent
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.store import (
    records_schema,  # noqa: F401 - registers the Dataverse side's Alembic tables
    schema,
)
from d365local.store.customizations_sql import ensure_record_tables

SQLITE_BUSY_TIMEOUT_MS = 10_000
_STARTUP_LOCK_ID = 0x365_10CA1
_MIGRATIONS = str(Path(__file__).with_name("migrations"))


class DatabaseUrlError(ValueError):
    """The --database-url cannot be used."""


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir.resolve() / 'd365local.db'}"


def sqlite_database_file(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL (None for another database, an in-memory one, or a malformed URL)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def create_database_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"not a database URL: {url!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        if parsed.database and parsed.database != ":memory:":
            event.listen(engine, "do_connect", _PrivateSqliteFile(Path(parsed.database)))
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling breaks SAVEPOINTs (nested transactions would commit early), so
        # SQLAlchemy's documented recipe takes over: the driver stays in autocommit and SQLAlchemy emits BEGIN.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise DatabaseUrlError("use sqlite:///path or postgresql+psycopg://user:password@host/db")
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)


class _PrivateSqliteFile:
    """Before SQLite opens its file: create it 0600 (SQLite would use 0644 minus the umask) and tighten an existing
    one, so that the signing keys in it are never readable by others. SQLite gives its -wal and -shm files the
    database file's mode; ones left by an older version are tightened too."""

    def __init__(self, database: Path) -> None:
        self._database = database
        self._done = False

    def __call__(self, *_args: object) -> None:
        if self._done:
            return
        create_private_parent(self._database)
        create_private_file(self._database)
        for suffix in ("-wal", "-shm", "-journal", ".lock"):
            sibling = self._database.with_name(self._database.name + suffix)
            if sibling.is_file():
                create_private_file(sibling)
        self._done = True


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent, safe when several processes start together)."""
    with exclusive(engine), engine.begin() as connection:
        config = alembic_config(connection)
        if inspect(connection).has_table("alembic_version"):
            command.upgrade(config, "head")
        else:
            # A new database: the newest schema at once, then marked as migrated. Replaying every migration would
            # build the first version's record tables only to widen them column by column (seconds on SQLite).
            # tests/store/test_migrations.py proves both paths give the same schema.
            schema.metadata.create_all(connection)
            connection.execute(insert(schema.change_counter).values(id=1, generation=0))
            command.stamp(config, "head")
        # The record tables follow the catalog, not Alembic (see ``record_tables``); after the migrations, as they
        # reference the organizations table.
        ensure_record_tables(connection, builtin_catalog)


@contextlib.contextmanager
def exclusive(engine: Engine) -> Iterator[None]:
    """Hold the installation-wide start-up lock (migrations, seeding) across processes and hosts."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({_STARTUP_LOCK_ID})")
            try:
                yield
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_STARTUP_LOCK_ID})")
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    lock = Path(f"{database}.lock")
    create_private_parent(lock)
    create_private_file(lock)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SqliteDataVersion:
    """``PRAGMA data_version`` on a connection of its own: it changes whenever another connection (another thread of
    this process, the CLI, another worker) commits to the database — a change signal without reading any table."""

    def __init__(self, database: str) -> None:
        self._connection = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return int(self._connection.execute("PRAGMA data_version").fetchone()[0])


def data_version_signal(engine: Engine) -> SqliteDataVersion | None:
    """The cheap change signal for a file-based SQLite database; None elsewhere."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return None
    return SqliteDataVersion(database)
