"""``d365local appuser``: Dynamics 365 → Security → Users → Application Users → New."""

from __future__ import annotations

import click

from d365local.cli.context import CliContext, SuggestingGroup, common_options, record, view_table
from d365local.dataverse.domain.admin import DataverseAdmin
from d365local.dataverse.domain.model import ApplicationUser
from d365local.identity.admin import DirectoryAdmin

_ORG = click.option("--org", required=True, help="Organization unique name, id or URL.")
_APP = click.option("--app", "app_id", required=True, help="The app's Application (client) ID.")


def appuser_view(user: ApplicationUser, dataverse: DataverseAdmin) -> dict[str, object]:
    names = {r.id: r.name for r in dataverse.roles(user.org_id)}
    return {
        "systemuserid": user.id,
        "applicationid": user.application_id,
        "azureactivedirectoryobjectid": user.object_id,
        "isdisabled": user.disabled,
        "roles": [names.get(r, r) for r in user.role_ids],
        "fullname": user.full_name,
    }


def _service_principal(admin: DirectoryAdmin, dataverse: DataverseAdmin, org: str, app_id: str) -> tuple[str, str]:
    """The app's service principal object id and name, from the org's tenant (filled in on save, as in D365)."""
    tenant_id = dataverse.organization(org).tenant_id
    app = admin.app(tenant_id, app_id)
    return app.service_principal_id, app.display_name


@click.group("appuser", cls=SuggestingGroup)
def appuser_group() -> None:
    """Application users: the Dynamics 365 identity of an app registration."""


@appuser_group.command("create")
@_ORG
@_APP
@click.option("--role", "roles", multiple=True, help="Security role to assign (repeatable). Without it: no role.")
@common_options
def create(cli: CliContext, org: str, app_id: str, roles: tuple[str, ...]) -> None:
    """Create the application user for an app (its Azure AD object id fills in from the service principal)."""
    with cli.admins() as (admin, dataverse):
        object_id, name = _service_principal(admin, dataverse, org, app_id)
        user = dataverse.create_application_user(org, app_id, object_id=object_id, full_name=name, roles=roles)
        view = appuser_view(user, dataverse)
    cli.emit(view, record("Application user created", view))
    if not roles and not cli.json:
        cli.hint("It has no security role yet, so every Web API call answers 0x80042f09: `d365local role assign`.")


@appuser_group.command("list")
@_ORG
@common_options
def list_(cli: CliContext, org: str) -> None:
    """List the org's application users."""
    cli.require_database()
    with cli.admins() as (_admin, dataverse):
        views = [appuser_view(u, dataverse) for u in dataverse.application_users(org)]
    columns = ["applicationid", "fullname", "systemuserid", "isdisabled", "roles"]
    cli.emit(views, view_table("Application users", views, columns))


def _set_disabled(cli: CliContext, org: str, app_id: str, disabled: bool) -> None:
    with cli.admins() as (_admin, dataverse):
        view = appuser_view(dataverse.set_user_disabled(org, app_id, disabled), dataverse)
    cli.emit(view, record("Application user", view))


@appuser_group.command("disable")
@_ORG
@_APP
@common_options
def disable(cli: CliContext, org: str, app_id: str) -> None:
    """Disable the application user: its next Web API call is refused."""
    _set_disabled(cli, org, app_id, True)


@appuser_group.command("enable")
@_ORG
@_APP
@common_options
def enable(cli: CliContext, org: str, app_id: str) -> None:
    """Enable the application user again."""
    _set_disabled(cli, org, app_id, False)
