"""The ``d365local`` command line: one command per admin step of the real setup, plus serve, token and tools."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from d365local import __version__
from d365local.cli.app import app_group
from d365local.cli.appuser import appuser_group
from d365local.cli.context import root_context
from d365local.cli.demo import demo_command
from d365local.cli.doctor import doctor_command
from d365local.cli.fault import fault_group
from d365local.cli.keys import keys_group
from d365local.cli.org import org_group
from d365local.cli.postman import postman_command
from d365local.cli.records import create_command, delete_command, get_command, query_command, update_command
from d365local.cli.role import role_group
from d365local.cli.serve import serve_command
from d365local.cli.tenant import tenant_group
from d365local.cli.token import token_command
from d365local.cli.tools import ca_command, env_command, wait_command
from d365local.cli.user import user_group
from d365local.cli.whoami import whoami_command
from d365local.dataverse.admin import DataverseAdminError
from d365local.faults import FaultError
from d365local.identity.admin import AdminError
from d365local.identity.errors import IdentityError
from d365local.seeding import SeedError
from d365local.server import ServeError
from d365local.store.directory_sql import DuplicateError
from d365local.store.engine import DatabaseUrlError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None, help="Data directory.")
@click.option("--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the data directory).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.version_option(__version__, prog_name="d365local")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """d365local: Entra ID client credentials and the Dataverse Web API, offline."""
    ctx.obj = root_context(data_dir, database_url, as_json)


for command in (
    tenant_group,
    app_group,
    user_group,
    org_group,
    appuser_group,
    role_group,
    keys_group,
    fault_group,
    serve_command,
    token_command,
    whoami_command,
    query_command,
    get_command,
    create_command,
    update_command,
    delete_command,
    env_command,
    ca_command,
    postman_command,
    wait_command,
    demo_command,
    doctor_command,
):
    cli.add_command(command)


def main() -> None:
    """Console entry point: domain errors become one friendly line and exit status 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except IdentityError as exc:
        hint = f"\nhint: {exc.code.hint}" if exc.code.hint else ""
        click.echo(f"error: {exc.message}{hint}", err=True)
        sys.exit(1)
    except (
        AdminError,
        DataverseAdminError,
        FaultError,
        SeedError,
        ServeError,
        DuplicateError,
        DatabaseUrlError,
    ) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
