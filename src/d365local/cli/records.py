"""The Web API record commands: ``query``, ``get``, ``create``, ``update`` and ``delete`` on an entity set.

They call the Web API with the client library (see :mod:`d365local.cli.webapi_session`), so they work against
d365local and the real cloud alike. ``query --all --out FILE`` streams every page to a JSON-lines file with a
progress bar; the file appears under its name only when the export is complete.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from d365local.cli.context import CliContext, common_options, record, stderr, table
from d365local.cli.settings import org_url_option
from d365local.cli.webapi_session import webapi_session
from d365local.client import DataverseApiError, WebApiClient

MAX_PAGE_SIZE = 5000
"""Dataverse's default and largest page; also where ``$count`` stops counting."""
MAX_COLUMNS = 8
"""Columns a query table shows when ``--select`` does not say (``--json`` always has every field)."""
FORMATTED = "OData.Community.Display.V1.FormattedValue"
"""The annotation that carries a value as Dynamics 365 shows it (``--formatted``)."""


# -- query --------------------------------------------------------------------------------------------------------
@click.command("query")
@click.argument("entity_set", metavar="ENTITYSET")
@click.option("--select", default=None, help="Columns, comma-separated: name,accountnumber.")
@click.option("--filter", "filter_", default=None, help="OData $filter: \"startswith(name,'A')\".")
@click.option("--orderby", default=None, help='OData $orderby: "name desc,createdon".')
@click.option("--top", type=click.IntRange(min=0), default=None, help="At most N records (with or without --all).")
@click.option("--expand", default=None, help="OData $expand: primarycontactid($select=fullname).")
@click.option("--all", "all_pages", is_flag=True, help="Follow @odata.nextLink: every matching record.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write every matching record to FILE, one JSON object a line (implies --all).",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, MAX_PAGE_SIZE),
    default=MAX_PAGE_SIZE,
    show_default=True,
    help="Records per page (Prefer: odata.maxpagesize).",
)
@click.option(
    "--formatted",
    is_flag=True,
    help="Ask for formatted values (choice labels, money, dates, lookup names) and show them in the table.",
)
@org_url_option
@common_options
def query_command(
    cli: CliContext,
    entity_set: str,
    select: str | None,
    filter_: str | None,
    orderby: str | None,
    top: int | None,
    expand: str | None,
    all_pages: bool,
    out: Path | None,
    page_size: int,
    formatted: bool,
    org_url: str | None,
) -> None:
    """Records of ENTITYSET (e.g. accounts): the first page, or with --all every page; --out exports them."""
    columns = _names(select)
    everything = all_pages or out is not None
    # Without --all only the first page is shown; with --top the client asks for exactly that many ($top).
    limit = top if top is not None else None if everything else page_size
    with webapi_session(cli, org_url) as client:
        records = client.query(
            entity_set,
            select=columns,
            filter=filter_,
            orderby=[orderby] if orderby else [],  # kept whole: the server splits it, commas and all
            top=top,
            expand=[expand] if expand else [],
            page_size=page_size,
            annotations=FORMATTED if formatted else None,
        )
        limited = itertools.islice(records, limit)  # islice stops before asking for a page it does not need
        if out is not None:
            written = _export(limited, out, entity_set, _expected_total(client, entity_set, filter_, top))
        else:
            rows = list(limited)
    if out is not None:
        cli.emit(
            {"entitySet": entity_set, "records": written, "file": str(out)},
            f"Wrote {written} record{'s' if written != 1 else ''} of {escape(entity_set)} to {escape(str(out))}",
        )
        return
    cli.emit(rows, None if cli.json else _query_table(cli, entity_set, rows, columns))
    if not everything and top is None and len(rows) == page_size:
        cli.hint(f"First page only ({page_size} records): --all follows @odata.nextLink, --out FILE exports.")


def _expected_total(client: WebApiClient, entity_set: str, filter_: str | None, top: int | None) -> int | None:
    """How many records the export will write, or None when unknown (``$count`` stops at 5000)."""
    try:
        count = client.count(entity_set, filter=filter_)
    except DataverseApiError:
        return top  # the export itself will report a real error; the bar just cannot know the total
    if count >= MAX_PAGE_SIZE:
        return top if top is not None and top <= MAX_PAGE_SIZE else None
    return count if top is None else min(count, top)


def _export(records: Iterable[dict[str, Any]], out: Path, entity_set: str, total: int | None) -> int:
    """Stream ``records`` to ``out`` as JSON lines via ``out.part``, renamed only once every record is written."""
    part = out.with_name(out.name + ".part")
    written = 0
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    try:
        with (
            part.open("w", encoding="utf-8", newline="\n") as handle,
            Progress(*columns, TimeElapsedColumn(), console=stderr, transient=False) as progress,
        ):
            task = progress.add_task(f"{escape(entity_set)} → {escape(out.name)}", total=total)
            for row in records:
                handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
                written += 1
                progress.advance(task)
            progress.update(task, total=written, completed=written)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
    except BaseException:  # an interrupted or failed export leaves nothing behind, not a truncated file
        part.unlink(missing_ok=True)
        raise
    return written


def _query_table(cli: CliContext, entity_set: str, rows: Sequence[dict[str, Any]], selected: Sequence[str]) -> Any:
    columns = _columns(rows, selected)
    shown = columns[:MAX_COLUMNS] if not selected else columns
    if len(shown) < len(columns):
        cli.hint(f"Showing {len(shown)} of {len(columns)} columns: name them with --select, or use --json.")
    title = f"{entity_set} ({len(rows)} record{'s' if len(rows) != 1 else ''})"
    return table(escape(title), shown, [[_cell(_shown(row, c)) for c in shown] for row in rows])


def _shown(row: dict[str, Any], column: str) -> Any:
    """The formatted value when the server sent one (``--formatted``), else the value. A lookup's name comes
    under ``_x_value@…FormattedValue``."""
    return row.get(f"{column}@{FORMATTED}", row.get(column))


def _columns(rows: Sequence[dict[str, Any]], selected: Sequence[str]) -> list[str]:
    """The selected columns after the key(s) the server adds (the primary id); else fields with a value somewhere."""
    present = [k for k in dict.fromkeys(k for row in rows for k in row) if "@" not in k]
    if selected:
        wanted = {s.lower() for s in selected}
        return [k for k in present if k.lower() not in wanted] + list(selected)
    valued = [k for k in present if any(row.get(k) not in (None, "") for row in rows)]
    return valued or present


def _cell(value: Any) -> str:
    """A value as table text: nested values as compact JSON, and never read as rich markup."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return escape(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return escape(str(value))


# -- get, create, update, delete ------------------------------------------------------------------------------------
@click.command("get")
@click.argument("entity_set", metavar="ENTITYSET")
@click.argument("record_id", metavar="ID")
@click.option("--select", default=None, help="Columns, comma-separated: name,accountnumber.")
@click.option("--expand", default=None, help="OData $expand: primarycontactid($select=fullname).")
@click.option(
    "--formatted",
    is_flag=True,
    help="Ask for formatted values (choice labels, money, dates, lookup names) and show them in the table.",
)
@org_url_option
@common_options
def get_command(
    cli: CliContext,
    entity_set: str,
    record_id: str,
    select: str | None,
    expand: str | None,
    formatted: bool,
    org_url: str | None,
) -> None:
    """One record of ENTITYSET by ID: a GUID or an alternate key such as accountnumber='A1'."""
    with webapi_session(cli, org_url) as client:
        row = client.get(
            entity_set,
            _key(record_id),
            select=_names(select),
            expand=[expand] if expand else [],
            annotations=FORMATTED if formatted else None,
        )
    fields = {k: _cell(_shown(row, k)) for k in row if "@" not in k}
    cli.emit(row, record(escape(f"{entity_set}({_key(record_id)})"), fields))


_DATA_HELP = "The record as a JSON object, @FILE to read it from a file, or - for stdin."
_SET_HELP = 'Set one column: name=value (JSON when it parses: 42, true, null, "007"; else text). Repeatable.'


@click.command("create")
@click.argument("entity_set", metavar="ENTITYSET")
@click.option("--data", default=None, help=_DATA_HELP)
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", help=_SET_HELP)
@org_url_option
@common_options
def create_command(
    cli: CliContext, entity_set: str, data: str | None, assignments: tuple[str, ...], org_url: str | None
) -> None:
    """Create a record in ENTITYSET and print its id."""
    payload = _payload(data, assignments)
    with webapi_session(cli, org_url) as client:
        record_id = client.create(entity_set, payload)
        url = f"{client.api}/{entity_set}({record_id})"
    if cli.json:
        cli.emit({"id": record_id, "entitySet": entity_set, "url": url})
    else:
        click.echo(record_id)  # bare, so `id=$(d365local create …)` works
        cli.hint(f"Created {escape(url)}")


@click.command("update")
@click.argument("entity_set", metavar="ENTITYSET")
@click.argument("record_id", metavar="ID")
@click.option("--data", default=None, help=_DATA_HELP)
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", help=_SET_HELP)
@click.option("--upsert", is_flag=True, help="Create the record if ID does not exist (PATCH without If-Match).")
@org_url_option
@common_options
def update_command(
    cli: CliContext,
    entity_set: str,
    record_id: str,
    data: str | None,
    assignments: tuple[str, ...],
    upsert: bool,
    org_url: str | None,
) -> None:
    """Change columns of the record ID of ENTITYSET (PATCH with If-Match: *, so a missing record is an error unless
    --upsert). ID is a GUID or an alternate key such as accountnumber='A1'."""
    payload = _payload(data, assignments)
    key = _key(record_id)
    with webapi_session(cli, org_url) as client:
        if upsert:
            client.upsert(entity_set, key, payload)
        else:
            client.update(entity_set, key, payload)
    verb = "Upserted" if upsert else "Updated"
    document = {"id": key, "entitySet": entity_set, "operation": "upsert" if upsert else "update"}
    cli.emit(document, escape(f"{verb} {entity_set}({key}): {', '.join(payload)}"))


@click.command("delete")
@click.argument("entity_set", metavar="ENTITYSET")
@click.argument("record_id", metavar="ID")
@org_url_option
@common_options
def delete_command(cli: CliContext, entity_set: str, record_id: str, org_url: str | None) -> None:
    """Delete one record of ENTITYSET by ID (never prompts)."""
    key = _key(record_id)
    with webapi_session(cli, org_url) as client:
        client.delete(entity_set, key)
    cli.emit({"id": key, "entitySet": entity_set, "deleted": True}, escape(f"Deleted {entity_set}({key})"))


# -- arguments ------------------------------------------------------------------------------------------------------
def _names(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def _key(record_id: str) -> str:
    """A GUID (braces, as Dynamics shows them, dropped) or an alternate key, as given."""
    key = record_id.strip()
    return key[1:-1] if key.startswith("{") and key.endswith("}") else key


def _payload(data: str | None, assignments: Sequence[str]) -> dict[str, Any]:
    """``--data`` (JSON, @file or -) with every ``--set`` applied on top: a JSON object, or a usage error."""
    if data is None and not assignments:
        raise click.UsageError("give the columns: --data JSON (or @file.json, or - for stdin) and/or --set NAME=VALUE")
    payload: dict[str, Any] = {}
    if data is not None:
        text, source = _data_text(data)
        try:
            document = json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            problem = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise click.BadParameter(f"{source} is not valid JSON: {problem}{where}", param_hint="--data") from exc
        if not isinstance(document, dict):
            raise click.BadParameter(
                f'{source} must be a JSON object ({{"name": …}}), not {_json_kind(document)}', param_hint="--data"
            )
        payload.update(document)
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{assignment!r} is not NAME=VALUE", param_hint="--set")
        payload[name.strip()] = _value(value)
    return payload


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return "a number"


def _data_text(data: str) -> tuple[str, str]:
    """The JSON text of ``--data`` and where it came from (for error messages)."""
    if data == "-":
        return _read(sys.stdin), "stdin"
    if data.startswith("@"):
        path = Path(data[1:])
        try:
            with path.open(encoding="utf-8-sig") as handle:
                return _read(handle), str(path)
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint="--data") from exc
    return data, "the value"


def _read(handle: IO[str]) -> str:
    try:
        return handle.read()
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"not UTF-8 text: {exc.reason}", param_hint="--data") from exc


def _value(text: str) -> Any:
    """JSON when it parses (numbers, true/false/null, "quoted text", objects), else the text itself."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError:
        return text


def _no_constant(name: str) -> float:
    """NaN and Infinity are not JSON: refuse them instead of sending an invalid body."""
    raise ValueError(f"{name} is not a JSON value")
