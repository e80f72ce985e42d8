"""``d365local role``: security roles and their assignment to application users."""

from __future__ import annotations

import click

from d365local.cli.appuser import appuser_view
from d365local.cli.context import CliContext, SuggestingGroup, common_options, record, view_table
from d365local.dataverse.domain.model import Role

_ORG = click.option("--org", required=True, help="Organization unique name, id or URL.")


def role_view(role: Role) -> dict[str, object]:
    return {
        "roleid": role.id,
        "name": role.name,
        "privileges": [f"{p.name}:{p.depth.name.title()}" for p in role.privileges],
    }


@click.group("role", cls=SuggestingGroup)
def role_group() -> None:
    """Security roles."""


@role_group.command("create")
@_ORG
@click.option("--name", required=True, help="The role's name, unique in the org.")
@click.option(
    "--privilege",
    "privileges",
    multiple=True,
    help="prv<Access><Table>[:Basic|Local|Deep|Global], e.g. prvReadAccount:Global (repeatable).",
)
@common_options
def create(cli: CliContext, org: str, name: str, privileges: tuple[str, ...]) -> None:
    """Create a custom security role."""
    with cli.admins() as (_admin, dataverse):
        role = dataverse.create_role(org, name, privileges)
    cli.emit(role_view(role), record(f"Role {role.name}", role_view(role)))


@role_group.command("list")
@_ORG
@common_options
def list_(cli: CliContext, org: str) -> None:
    """List the org's security roles."""
    cli.require_database()
    with cli.admins() as (_admin, dataverse):
        roles = dataverse.roles(org)
    views = [role_view(r) for r in roles]
    rows = [{"name": r.name, "roleid": r.id, "privileges": len(r.privileges)} for r in roles]
    cli.emit(views, view_table("Security roles", rows, ["name", "roleid", "privileges"]))


@role_group.command("assign")
@_ORG
@click.option("--app", "app_id", required=True, help="The application user's Application (client) ID.")
@click.option("--role", "role_name", required=True, help="The security role's name, e.g. 'System Administrator'.")
@common_options
def assign(cli: CliContext, org: str, app_id: str, role_name: str) -> None:
    """Give an application user a security role."""
    with cli.admins() as (_admin, dataverse):
        view = appuser_view(dataverse.assign_role(org, app_id, role_name), dataverse)
    cli.emit(view, record("Role assigned", view))


@role_group.command("remove")
@_ORG
@click.option("--app", "app_id", required=True, help="The application user's Application (client) ID.")
@click.option("--role", "role_name", required=True, help="The security role's name, e.g. 'System Administrator'.")
@common_options
def remove(cli: CliContext, org: str, app_id: str, role_name: str) -> None:
    """Take a security role away from an application user (effective on its next request)."""
    with cli.admins() as (_admin, dataverse):
        view = appuser_view(dataverse.remove_role(org, app_id, role_name), dataverse)
    cli.emit(view, record("Role removed", view))
