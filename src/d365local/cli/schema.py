"""``d365local schema``: bring an organization's schema — tables, columns, choices, keys, relationships, never data —
from a solution zip (``import``) or from another environment's metadata Web API (``pull``), and write it back as a
solution zip (``export``) that ``import`` and seed files (``orgs: [{name, schema: FILE}]``) read.

The merge follows Dataverse's rules (:mod:`d365local.dataverse.domain.schema_import`): what the org lacks is
created, what it has with the same kind is updated, a clash of kinds is refused naming both sides and leaves the org
as it was; the same file twice changes nothing.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from d365local.cli.context import CliContext, SuggestingGroup, common_options, stderr, table

if TYPE_CHECKING:  # the store and the Dataverse schema load only when a command runs
    from d365local.dataverse.domain.model import Organization
    from d365local.dataverse.schema.customizations import Customizations
    from d365local.store.customizations_sql import SqlCustomizations

_ORG = click.option("--org", required=True, help="Organization unique name, id or URL (the local org to change).")


class SchemaFailed(click.ClickException):
    """A solution that cannot be read, or a schema the org cannot take; the message says what and what to do."""


@click.group("schema", cls=SuggestingGroup)
def schema_group() -> None:
    """An org's custom schema: import a solution, pull another environment's, export it as a solution."""


# -- import -----------------------------------------------------------------------------------------------------------
@schema_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True, readable=True))
@_ORG
@common_options
def import_command(cli: CliContext, file: Path, org: str) -> None:
    """Create the tables, columns, choices, keys and relationships of the solution FILE (a .zip exported from
    Dataverse, managed or unmanaged, or written by `schema export`) in the org. Data in the file is not read."""
    from d365local.dataverse.domain.schema_import import from_solution
    from d365local.dataverse.schema.solution import SolutionError, read_solution

    try:
        solution = read_solution(file.read_bytes())
    except SolutionError as exc:
        raise SchemaFailed(f"{file}: {exc}") from exc
    except OSError as exc:
        raise SchemaFailed(f"cannot read {file}: {exc.strerror or exc}") from exc
    source: dict[str, Any] = {"file": str(file), "uniqueName": solution.unique_name, "version": solution.version}
    source["managed"] = solution.managed
    _apply(cli, org, from_solution(solution), source, f"solution {solution.unique_name} {solution.version}")


# -- pull -------------------------------------------------------------------------------------------------------------
@schema_group.command("pull")
@_ORG
@click.option(
    "--from",
    "source_url",
    required=True,
    help="The org to read the schema from, e.g. https://contoso.crm.dynamics.com (its app's credentials as for "
    "whoami: AZURE_* variables, else the data dir's credentials.env).",
)
@click.option("--table", "tables", multiple=True, help="Only this table (logical name; repeatable).")
@click.option(
    "--prefix", "prefixes", multiple=True, help="Only custom names with this prefix, e.g. contoso (repeatable)."
)
@click.option("--dry-run", is_flag=True, help="Read and check, but change nothing: say what would be created.")
@common_options
def pull_command(
    cli: CliContext, org: str, source_url: str, tables: tuple[str, ...], prefixes: tuple[str, ...], dry_run: bool
) -> None:
    """Read another org's custom tables, columns, choices, keys and relationships through its metadata Web API and
    create them in the local org. What d365local cannot hold is left out, each with a warning."""
    from d365local.cli.webapi_session import WebApiFailed, webapi_session
    from d365local.client.schema_pull import read_custom_schema
    from d365local.dataverse.domain.schema_import import from_metadata
    from d365local.dataverse.schema.builtin_tables import builtin_catalog

    base = builtin_catalog()
    known = {e.logical_name for e in base.entities}
    cli.require_database()
    _organization(cli, org)  # an unknown org is said before the remote org is read
    try:
        with webapi_session(cli, source_url) as client, _progress(cli) as progress:
            pulled = read_custom_schema(client, known=known, tables=tables, prefixes=prefixes, progress=progress)
    except WebApiFailed as exc:
        if os.environ.get("AZURE_CLIENT_ID"):
            raise
        raise WebApiFailed(
            f"{exc.message}\nhint: pull signed in with {cli.data_dir}'s credentials.env (the local server's app). To "
            "read another org, set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (and AZURE_AUTHORITY_HOST "
            "for a d365local server) for an app that has an application user there."
        ) from exc
    notes: list[str] = []
    incoming = from_metadata(pulled.tables, pulled.option_sets, base, notes)
    for note in notes:
        stderr.print(f"warning: {note}", highlight=False, markup=False)
    source: dict[str, Any] = {"url": source_url.rstrip("/"), "requests": pulled.requests, "leftOut": notes}
    _apply(cli, org, incoming, source, f"{source_url.rstrip('/')}", dry_run=dry_run)


@contextmanager
def _progress(cli: CliContext) -> Iterator[Any]:
    """A progress bar on stderr for a person at a terminal; nothing for scripts."""
    if cli.json or not stderr.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=stderr) as bar:
        task = bar.add_task("reading the schema", total=None)

        def advance(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=f"reading {what}")

        yield advance


# -- export -----------------------------------------------------------------------------------------------------------
@schema_group.command("export")
@_ORG
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The solution zip to write (default: <UniqueName>_<version>.zip in the current directory).",
)
@click.option("--name", "unique_name", default=None, help="The solution's unique name (default: <Org>Schema).")
@click.option("--version", "version", default="1.0.0.0", show_default=True, help="The solution's version.")
@click.option(
    "--publisher-prefix", default=None, help="The publisher's customization prefix (default: the one most names carry)."
)
@common_options
def export_command(
    cli: CliContext,
    org: str,
    output: Path | None,
    unique_name: str | None,
    version: str,
    publisher_prefix: str | None,
) -> None:
    """Write the org's custom schema as an unmanaged solution zip, which `schema import` and seed files read (and
    which keeps the export format of Dataverse)."""
    from d365local.dataverse.domain.schema_import import summary, to_solution
    from d365local.dataverse.schema.solution import write_solution

    if unique_name is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,64}", unique_name):
        raise click.BadParameter("a letter, then letters, digits or underscores", param_hint="--name")
    if not re.fullmatch(r"\d+(\.\d+){1,3}", version):
        raise click.BadParameter("two to four numbers, e.g. 1.0.0.0", param_hint="--version")
    if publisher_prefix is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{1,7}", publisher_prefix):
        raise click.BadParameter("2 to 8 letters or digits, starting with a letter", param_hint="--publisher-prefix")
    cli.require_database()
    with _store(cli, org) as (organization, store):
        custom = store.customizations(organization.id)
    name = unique_name or _solution_name(organization.name)
    solution = to_solution(custom, unique_name=name, version=version, publisher_prefix=publisher_prefix)
    path = output or Path(f"{name}_{version.replace('.', '_')}.zip")
    _write_atomically(path, write_solution(solution))
    view = {
        "org": organization.name,
        "file": str(path),
        "uniqueName": solution.unique_name,
        "version": solution.version,
        "publisherPrefix": solution.publisher_prefix,
        "schema": summary(custom),
    }
    cli.emit(view, _counts_table(f"Exported {organization.name} to {path}", summary(custom)))
    if custom.is_empty:
        cli.hint("The org has no custom schema yet: the solution is empty.")
    else:
        cli.hint(f"Load it elsewhere: `d365local schema import {path} --org O`, or `schema: {path.name}` under an org "
                 "of a seed file.")  # fmt: skip


def _solution_name(org: str) -> str:
    words = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", org) if part)
    return f"{words if words[:1].isalpha() else 'Org' + words}Schema"


def _write_atomically(path: Path, data: bytes) -> None:
    """The file appears under its name only once it is complete."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        raise SchemaFailed(f"cannot write {path}: {exc.strerror or exc}") from exc


# -- shared -----------------------------------------------------------------------------------------------------------
@contextmanager
def _store(cli: CliContext, org: str) -> Iterator[tuple[Organization, SqlCustomizations]]:
    from d365local.admins import Admins
    from d365local.dataverse.schema.builtin_tables import builtin_catalog
    from d365local.store.customizations_sql import SqlCustomizations

    with cli.database() as database:
        admins = Admins.on(database)
        admins.dataverse.ensure_organizations()
        organization = admins.dataverse.organization(org)
        yield organization, SqlCustomizations(database.directory, builtin_catalog())


def _organization(cli: CliContext, org: str) -> Organization:
    with _store(cli, org) as (organization, _unused):
        return organization


def _apply(
    cli: CliContext, org: str, incoming: Customizations, source: dict[str, Any], what: str, *, dry_run: bool = False
) -> None:
    """Merge ``incoming`` into the org's customizations (with the DDL, in one transaction) and say what changed."""
    from d365local.dataverse.domain.schema_import import import_schema, summary
    from d365local.dataverse.errors import DataverseError
    from d365local.dataverse.schema.builtin_tables import builtin_catalog

    cli.require_database()
    base = builtin_catalog()
    with _store(cli, org) as (organization, store):
        before = store.customizations(organization.id)
        try:
            after = import_schema(before, base, incoming)
            if after != before and not dry_run:
                after = store.change(organization.id, lambda custom, catalog: import_schema(custom, catalog, incoming))
        except DataverseError as exc:
            raise SchemaFailed(
                f"{what} cannot be imported into {organization.name}: {exc.message} Nothing was changed."
            ) from exc
    added = _added(before, after)
    view = {
        "org": organization.name,
        "source": source,
        "changed": after != before,
        "dryRun": dry_run,
        "added": {kind: sorted(names) for kind, names in added.items()},
        "schema": summary(after),
    }
    title = f"{'Would import' if dry_run else 'Imported'} {what} into {organization.name}"
    rows = [[kind, len(added[kind]), ", ".join(sorted(added[kind])[:6]) + (" …" if len(added[kind]) > 6 else "")]
            for kind in added]  # fmt: skip
    cli.emit(view, table(title, ["", "added", "names"], rows))
    if incoming.is_empty:
        cli.hint("Nothing to import: the source holds no custom schema (or none that --table/--prefix chose).")
    elif after == before:
        cli.hint("Nothing changed: the org already has this schema.")
    elif not dry_run:
        catalog = after.apply_to(base)
        sets = [e.entity_set_name for e in catalog.entities if e.logical_name in added["tables"]]
        if sets:
            more = " …" if len(sets) > 1 else ""
            cli.hint(f"The new tables answer at {organization.url}/api/data/v9.2/{sets[0]}{more} (System Administrator "
                     "can use them at once; other roles need their privileges).")  # fmt: skip


def _names(custom: Customizations) -> dict[str, set[str]]:
    columns = {f"{t.logical_name}.{a.logical_name}" for t in custom.tables for a in t.attributes if a.is_custom}
    columns |= {f"{name}.{c.logical_name}" for name, found in custom.columns.items() for c in found}
    keys = {f"{t.logical_name}.{k.schema_name}" for t in custom.tables for k in t.keys}
    keys |= {f"{name}.{k.schema_name}" for name, found in custom.keys.items() for k in found}
    return {
        "tables": {t.logical_name for t in custom.tables},
        "columns": columns,
        "keys": keys,
        "optionSets": {o.name for o in custom.option_sets},
        "relationships": {r.schema_name for r in custom.one_to_many} | {r.schema_name for r in custom.many_to_many},
    }


def _added(before: Customizations, after: Customizations) -> dict[str, set[str]]:
    old = _names(before)
    return {kind: names - old[kind] for kind, names in _names(after).items()}


def _counts_table(title: str, counts: dict[str, int]) -> Any:
    return table(title, ["", "count"], [[kind, count] for kind, count in counts.items()])
