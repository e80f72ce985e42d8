"""``d365local org``: Dynamics 365 organizations (each one a resource URL of Dynamics CRM in its tenant)."""

from __future__ import annotations

import click

from d365local.cli.context import CliContext, SuggestingGroup, common_options, record, tenant_option, view_table
from d365local.cli.directory_views import org_view


@click.group("org", cls=SuggestingGroup)
def org_group() -> None:
    """Dynamics 365 organizations."""


@org_group.command("create")
@tenant_option()
@click.option("--name", required=True, help="Unique name: a lowercase DNS label.")
@click.option("--id", "org_id", default=None, help="A fixed organization id (default: a new GUID).")
@common_options
def create(cli: CliContext, tenant: str, name: str, org_id: str | None) -> None:
    """Create an organization; its URL is the public base URL (first org) or <base>/orgs/NAME."""
    with cli.admins() as (admin, dataverse):
        org = admin.create_org(tenant, name, org_id=org_id)
        dataverse.ensure_organizations()
    cli.emit(org_view(org), record(f"Organization {org.name}", org_view(org)))
    cli.hint(f"Tokens for it: resource={org.url} (v1) or scope={org.url}/.default (v2).")


@org_group.command("list")
@tenant_option(required=False, help="Only this tenant's organizations (GUID, domain or unique display name).")
@common_options
def list_(cli: CliContext, tenant: str | None) -> None:
    """List organizations and their URLs."""
    views = []
    if cli.has_database():  # an empty data directory lists nothing and stays empty
        with cli.admin() as admin:
            views = [org_view(o) for o in admin.organizations(tenant)]
    cli.emit(views, view_table("Organizations", views, ["name", "url", "id", "tenantId"]))


@org_group.command("throttling")
@click.option("--org", required=True, help="Organization unique name, id or URL.")
@click.option("--on/--off", "enabled", required=True, help="Service protection limits on (as in Dataverse) or off.")
@common_options
def throttling(cli: CliContext, org: str, enabled: bool) -> None:
    """Switch the org's service protection limits (429 with Retry-After) on or off."""
    with cli.admins() as (_admin, dataverse):
        organization = dataverse.set_throttling(org, enabled)
    view = {"id": organization.id, "name": organization.name, "throttling": organization.throttling}
    cli.emit(view, record(f"Organization {organization.name}", view))
