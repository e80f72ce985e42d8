"""Why a data directory or a database cannot be used, said in one line with the fix — never a traceback.

The CLI opens the store through :meth:`d365local.cli.context.CliContext.database`; what goes wrong there is the
user's environment, not a bug: a ``--data-dir`` under a regular file, a damaged ``d365local.db``, a PostgreSQL
server that is not running. Each becomes a :class:`DatabaseUnavailable` naming the path or URL (password hidden)
and what to do next.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, OperationalError, SQLAlchemyError

DATABASE_URL_FIX = (
    "Start the database server, or fix --database-url / D365LOCAL_DATABASE_URL (leave it out to use SQLite in "
    "the data directory)"
)


class DatabaseUnavailable(click.ClickException):
    """The data directory or the database cannot be opened; the message says why and what to do."""


def data_dir_problem(data_dir: Path) -> str | None:
    """A data directory that cannot exist where it is asked for: it, or a folder above it, is a regular file."""
    if data_dir.exists():
        if not data_dir.is_dir():
            return f"--data-dir {data_dir} is a file, not a directory: pass a directory (it is created if missing)"
        return None
    for parent in data_dir.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                return (
                    f"cannot create the data directory {data_dir}: {parent} is a file, not a directory. "
                    "Pass a --data-dir (or D365LOCAL_DATA_DIR) whose parent is a directory"
                )
            return None
    return None


def unusable_data_dir(data_dir: Path, error: OSError) -> DatabaseUnavailable:
    """The operating system refused to create or open something in the data directory."""
    where = f" ({error.filename})" if error.filename else ""
    return DatabaseUnavailable(
        f"cannot use the data directory {data_dir}: {error.strerror or error}{where}. "
        "Pass a --data-dir (or D365LOCAL_DATA_DIR) you can write to"
    )


# SQLite reports a bad statement (a bug) as OperationalError too, so for SQLite only these mean "the file".
_SQLITE_FILE_TROUBLE = (
    "unable to open database",
    "not a database",
    "malformed",
    "readonly database",
    "disk i/o error",
    "database or disk is full",
    "database is locked",
)


def is_environment_error(error: SQLAlchemyError) -> bool:
    """Errors that say the database is unreachable or unreadable, not that a statement is wrong (a bug)."""
    if not (isinstance(error, OperationalError | InterfaceError) or type(error) is DatabaseError):
        return False
    origin = getattr(error, "orig", None)
    if type(origin).__module__ == "sqlite3":
        return any(trouble in str(origin).lower() for trouble in _SQLITE_FILE_TROUBLE)
    return True


def database_failure(error: SQLAlchemyError, url: str) -> DatabaseUnavailable:
    """One line for a database that cannot be reached or read: which one, the driver's reason, the fix."""
    # The driver's first line: psycopg adds a second one ("Is the server running…?") that the fix below replaces.
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    reason = (text[0].strip() if text else "").removeprefix("connection failed: ") or type(error).__name__
    try:
        parsed = make_url(url)
    except ArgumentError:
        return DatabaseUnavailable(f"cannot open the database: {reason}")
    if parsed.get_backend_name() != "sqlite":
        shown = parsed.render_as_string(hide_password=True)
        return DatabaseUnavailable(f"cannot connect to the database {shown}: {reason}. {DATABASE_URL_FIX}")
    path = parsed.database or ":memory:"
    if "not a database" in reason or "malformed" in reason:
        return DatabaseUnavailable(
            f"{path} is not a usable SQLite database ({reason}): it is damaged or not d365local's. Move it aside "
            f"(mv {path} {path}.broken) to start afresh, or pass another --data-dir"
        )
    return DatabaseUnavailable(
        f"cannot open the database {path}: {reason}. Check that the data directory is yours and writable, "
        "or pass another --data-dir"
    )
