"""``d365local tenant``: Entra → Properties → Directory ID."""

from __future__ import annotations

from collections.abc import Sequence

import click

from d365local.cli.context import CliContext, SuggestingGroup, common_options, record, table
from d365local.cli.directory_views import tenant_view
from d365local.identity.model import Tenant


@click.group("tenant", cls=SuggestingGroup)
def tenant_group() -> None:
    """Tenants (directories): create and list."""


@tenant_group.command("create")
@click.argument("name")
@click.option("--domain", default=None, help="An extra verified domain (becomes the default).")
@click.option("--id", "tenant_id", default=None, help="A fixed tenant GUID (default: a new one).")
@common_options
def create(cli: CliContext, name: str, domain: str | None, tenant_id: str | None) -> None:
    """Create a tenant; it gets NAME.onmicrosoft.com as its initial domain."""
    with cli.admin() as admin:
        tenant = admin.create_tenant(name, domain=domain, tenant_id=tenant_id)
    view = tenant_view(tenant)
    cli.emit(
        view, record(f"Tenant {tenant.display_name}", {**view, "verifiedDomains": [d.name for d in tenant.domains]})
    )


@tenant_group.command("list")
@common_options
def list_(cli: CliContext) -> None:
    """List tenants."""
    tenants: Sequence[Tenant] = []
    if cli.has_database():  # an empty data directory lists nothing and stays empty
        with cli.admin() as admin:
            tenants = admin.tenants()
    rows = [(t.id, t.display_name, ", ".join(d.name for d in t.domains)) for t in tenants]
    cli.emit([tenant_view(t) for t in tenants], table("Tenants", ["id", "displayName", "verifiedDomains"], rows))
