"""The ``d365local`` command line: one command per admin step of the real setup, plus serve, token and tools."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from d365local import __version__
from d365local.cli.context import SuggestingGroup, root_context

# Command name → "module:attribute". Commands are imported only when run, so a client command (whoami, query,
# doctor…) does not pay for the server's imports (SQLAlchemy, Alembic, Starlette, uvicorn).
COMMANDS = {
    "tenant": "tenant:tenant_group",
    "app": "app:app_group",
    "user": "user:user_group",
    "org": "org:org_group",
    "appuser": "appuser:appuser_group",
    "role": "role:role_group",
    "keys": "keys:keys_group",
    "schema": "schema:schema_group",
    "fault": "fault:fault_group",
    "serve": "serve:serve_command",
    "token": "token:token_command",
    "whoami": "whoami:whoami_command",
    "query": "records:query_command",
    "get": "records:get_command",
    "create": "records:create_command",
    "update": "records:update_command",
    "delete": "records:delete_command",
    "env": "tools:env_command",
    "ca": "tools:ca_command",
    "postman": "postman:postman_command",
    "wait": "tools:wait_command",
    "demo": "demo:demo_command",
    "doctor": "doctor:doctor_command",
}


class LazyGroup(SuggestingGroup):
    """click's documented lazy-loading group: commands are listed by name and imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(f"d365local.cli.{module}"), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None, help="Data directory.")
@click.option("--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the data directory).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.version_option(__version__, prog_name="d365local")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """d365local: Entra ID client credentials and the Dataverse Web API, offline."""
    ctx.obj = root_context(data_dir, database_url, as_json)


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
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        message = domain_error_message(exc)
        if message is None:
            raise
        click.echo(message, err=True)
        sys.exit(1)


def domain_error_message(exc: Exception) -> str | None:
    """One friendly line (and a hint) for the errors commands raise on purpose; None for anything else (a bug).

    The error types are imported here, on the error path, so that loading the CLI stays cheap.
    """
    from d365local.dataverse.domain.admin import DataverseAdminError
    from d365local.faults import FaultError
    from d365local.identity.admin import AdminError
    from d365local.identity.errors import IdentityError
    from d365local.seeding import SeedError
    from d365local.server import ServeError
    from d365local.store.directory_sql import DuplicateError
    from d365local.store.engine import DatabaseUrlError

    if isinstance(exc, IdentityError):
        return f"error: {exc.message}" + (f"\nhint: {exc.code.hint}" if exc.code.hint else "")
    domain = (AdminError, DataverseAdminError, FaultError, SeedError, ServeError, DuplicateError, DatabaseUrlError)
    return f"error: {exc}" if isinstance(exc, domain) else None
