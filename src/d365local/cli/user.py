"""``d365local user``: directory users (app owners are users)."""

from __future__ import annotations

import click

from d365local.cli.context import CliContext, SuggestingGroup, common_options, record, tenant_option, view_table
from d365local.cli.directory_views import user_view


@click.group("user", cls=SuggestingGroup)
def user_group() -> None:
    """Users of a tenant."""


@user_group.command("create")
@tenant_option()
@click.option("--upn", required=True, help="User principal name, e.g. alice@contoso.onmicrosoft.com.")
@click.option("--name", "display_name", default=None, help="Display name.")
@common_options
def create(cli: CliContext, tenant: str, upn: str, display_name: str | None) -> None:
    """Create a user."""
    with cli.admin() as admin:
        user = admin.create_user(tenant, upn, display_name=display_name)
    cli.emit(user_view(user), record("User created", user_view(user)))


@user_group.command("list")
@tenant_option()
@common_options
def list_(cli: CliContext, tenant: str) -> None:
    """List a tenant's users."""
    cli.require_database()
    with cli.admin() as admin:
        views = [user_view(u) for u in admin.users(tenant)]
    cli.emit(views, view_table("Users", views, ["id", "userPrincipalName", "displayName"]))
