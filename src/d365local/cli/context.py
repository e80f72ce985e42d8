"""What every command shares: the global options (also accepted after the command name), the database, output.

``--json`` prints exactly one JSON document on stdout; human output is rich tables; hints go to stderr.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
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
    from d365local.dataverse.domain.admin import DataverseAdmin
    from d365local.identity.admin import DirectoryAdmin
    from d365local.store.database import Database

F = TypeVar("F", bound=Callable[..., Any])
_GUID = re.compile(r"^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$", re.IGNORECASE)
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
        """The opened (and migrated) database; a data directory or database that cannot be used is one clear
        :class:`~d365local.cli.database_problems.DatabaseUnavailable` error, never a traceback."""
        from sqlalchemy.exc import SQLAlchemyError

        from d365local.cli import database_problems as problems
        from d365local.store.database import open_database
        from d365local.store.engine import default_database_url

        self._check_data_dir()
        url = self.database_url or default_database_url(self.data_dir)
        try:
            database = open_database(self.data_dir, self.database_url)
        except OSError as exc:
            raise problems.unusable_data_dir(self.data_dir, exc) from exc
        except SQLAlchemyError as exc:
            if not problems.is_environment_error(exc):
                raise
            raise problems.database_failure(exc, url) from exc
        try:
            yield database
        except SQLAlchemyError as exc:
            if not problems.is_environment_error(exc):
                raise
            raise problems.database_failure(exc, url) from exc
        finally:
            database.close()

    def _check_data_dir(self) -> None:
        """A SQLite database in a data directory that cannot exist there (under a regular file) is a clear error."""
        from d365local.cli import database_problems as problems

        if self.database_url is None and (problem := problems.data_dir_problem(self.data_dir)) is not None:
            raise problems.DatabaseUnavailable(problem)

    def has_database(self) -> bool:
        """Whether there is a database to read: False for a SQLite file that does not exist yet, so that listing
        commands on an empty data directory print nothing instead of creating a database (and a signing key)."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        from d365local.store.engine import default_database_url

        self._check_data_dir()
        try:
            url = make_url(self.database_url or default_database_url(self.data_dir))
        except ArgumentError:
            return True  # opening it reports the bad URL
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return True
        return Path(url.database).is_file()

    def require_database(self) -> None:
        """For listing commands that name a tenant or org: on an empty data directory there is nothing to list, and
        nothing is created — one clear error instead."""
        from d365local.cli import database_problems as problems

        if not self.has_database():
            raise problems.DatabaseUnavailable(
                f"{self.data_dir} holds no d365local data yet: start `d365local serve --data-dir {self.data_dir}` "
                "(or `d365local tenant create`) first"
            )

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

    def tenant_key(self, value: str) -> str:
        """``--tenant`` as the directory knows tenants: a GUID or a verified domain as given; otherwise the id of
        the one tenant with that display name (case-insensitive). Several with that name are a usage error that
        lists them; none leaves the value as it is, for the directory's own error (AADSTS90002)."""
        if _GUID.match(value) or not self.has_database():
            return value
        with self.database() as database:
            if database.directory.find_tenant(value) is not None:
                return value
            named = [t for t in database.directory.tenants() if t.display_name.casefold() == value.casefold()]
        if len(named) == 1:
            return named[0].id
        if named:
            candidates = "; ".join(f"{t.id} ({', '.join(d.name for d in t.domains)})" for t in named)
            raise click.UsageError(
                f"--tenant {value!r} matches {len(named)} tenants by display name: {candidates}. "
                "Pass the tenant's GUID or one of its domains"
            )
        return value

    def emit(self, document: Any, table: Table | str | None = None) -> None:
        """One JSON document with --json, else the table (or text)."""
        if self.json:
            click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        elif table is not None:
            stdout.print(table)

    def hint(self, text: str) -> None:
        """A next step for a person, on stderr; never with --json, whose output is for programs."""
        if not self.json:
            stderr.print(text, highlight=False)


class TenantOption(click.Option):
    """An admin command's ``--tenant``: a tenant GUID, a verified domain, or the display name when one tenant
    has it (resolved by :func:`common_options` before the command runs)."""


def tenant_option(
    *, required: bool = True, help: str = "Tenant GUID, verified domain or (if unique) display name."
) -> Callable[[F], F]:
    return click.option("--tenant", cls=TenantOption, required=required, default=None, help=help)


class SuggestingGroup(click.Group):
    """A command group that answers a mistyped command name with "Did you mean …?" (difflib's close matches)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            matches = difflib.get_close_matches(name.lower(), self.list_commands(ctx), n=2, cutoff=0.6)
            suggestion = ("\nDid you mean " + " or ".join(f"'{m}'" for m in matches) + "?") if matches else ""
            raise click.UsageError(f"No such command '{name}'.{suggestion}", ctx)
        return super().resolve_command(ctx, args)


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
        for param in ctx.command.params:
            if isinstance(param, TenantOption) and param.name and kwargs.get(param.name):
                kwargs[param.name] = cli.tenant_key(kwargs[param.name])
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
