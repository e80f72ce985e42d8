"""What every command shares: the global options (also accepted after the command name), the database, output.

``--json`` prints exactly one JSON document on stdout; human output is rich tables; hints go to stderr.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # imported where used: client commands (whoami, query, doctor…) never load the store
    from d365local.admins import Admins
    from d365local.dataverse.admin import DataverseAdmin
    from d365local.identity.admin import DirectoryAdmin
    from d365local.store.database import Database

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_DATA_DIR = Path(".d365local")

stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)


@dataclass
class CliContext:
    data_dir: Path
    database_url: str | None
    json: bool

    @contextmanager
    def database(self) -> Iterator[Database]:
        from d365local.store.database import open_database

        database = open_database(self.data_dir, self.database_url)
        try:
            yield database
        finally:
            database.close()

    @contextmanager
    def admin(self) -> Iterator[DirectoryAdmin]:
        from d365local.admins import Admins

        with self.database() as database:
            yield Admins.on(database).directory

    @contextmanager
    def admins(self) -> Iterator[tuple[DirectoryAdmin, DataverseAdmin]]:
        """Both sides' admin use cases on one database (for steps that span Entra ID and Dynamics 365)."""
        with self.all_admins() as admins:
            yield admins.directory, admins.dataverse

    @contextmanager
    def all_admins(self) -> Iterator[Admins]:
        from d365local.admins import Admins

        with self.database() as database:
            admins = Admins.on(database)
            admins.dataverse.ensure_organizations()
            yield admins

    def emit(self, document: Any, table: Table | str | None = None) -> None:
        """One JSON document with --json, else the table (or text)."""
        if self.json:
            click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        elif table is not None:
            stdout.print(table)

    def hint(self, text: str) -> None:
        stderr.print(text, highlight=False)


def common_options(command: F) -> F:
    """``--data-dir``, ``--database-url`` and ``--json`` on a command; they override the group-level ones."""

    def wrapper(
        ctx: click.Context, /, data_dir: Path | None, database_url: str | None, as_json: bool | None, **kwargs: Any
    ) -> Any:
        root: CliContext = ctx.ensure_object(CliContext)
        cli = CliContext(
            data_dir=data_dir or root.data_dir,
            database_url=database_url or root.database_url,
            json=bool(as_json) or root.json,
        )
        return ctx.invoke(command, cli, **kwargs)

    functools.update_wrapper(wrapper, command)  # keeps the command's own click parameters and docstring
    decorated = click.pass_context(wrapper)
    decorated = click.option("--json", "as_json", is_flag=True, default=None, help="Print one JSON document.")(
        decorated
    )
    decorated = click.option("--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the data dir).")(
        decorated
    )
    decorated = click.option(
        "--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None, help="Data directory."
    )(decorated)
    return decorated  # type: ignore[return-value]


def root_context(data_dir: Path | None, database_url: str | None, as_json: bool) -> CliContext:
    return CliContext(
        data_dir=data_dir or Path(os.environ.get("D365LOCAL_DATA_DIR", DEFAULT_DATA_DIR)),
        database_url=database_url or os.environ.get("D365LOCAL_DATABASE_URL") or None,
        json=as_json,
    )


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    result = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*("" if v is None else str(v) for v in row))
    return result


def view_table(title: str, views: Sequence[dict[str, Any]], columns: Sequence[str]) -> Table:
    """Selected fields of JSON views as a table."""
    return table(title, columns, [[_text(v.get(c)) for c in columns] for v in views])


def record(title: str, fields: dict[str, Any]) -> Table:
    """A single item as a two-column table."""
    result = Table(title=title, title_justify="left", show_header=False)
    result.add_column("field", style="bold")
    result.add_column("value", overflow="fold")
    for name, value in fields.items():
        result.add_row(name, _text(value))
    return result


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    return "" if value is None else str(value)
