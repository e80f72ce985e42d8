"""``d365local whoami``: get a token the client-credentials way, then call the Web API's WhoAmI with it.

Built on the client library (:class:`~d365local.client.TokenProvider` + :class:`~d365local.client.WebApiClient`),
so it behaves the same against d365local and the real cloud; a failure names the AADSTS or Dataverse code and the
setup step that fixes it.
"""

from __future__ import annotations

import click

from d365local.cli.context import CliContext, common_options, record
from d365local.cli.settings import org_url_option
from d365local.cli.webapi_session import webapi_session


@click.command("whoami")
@org_url_option
@common_options
def whoami_command(cli: CliContext, org_url: str | None) -> None:
    """Who the app is in Dynamics 365: UserId, BusinessUnitId, OrganizationId."""
    with webapi_session(cli, org_url) as client:
        document = client.who_am_i()
    cli.emit(document, record("WhoAmI", {k: v for k, v in document.items() if not k.startswith("@")}))
