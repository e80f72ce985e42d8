"""``d365local whoami``: get a token the client-credentials way, then call the Web API's WhoAmI with it."""

from __future__ import annotations

import click
import httpx

from d365local.cli.context import CliContext, common_options, record
from d365local.cli.settings import ENTRA_AUTHORITY, client_settings, tls_context
from d365local.cli.token import TokenRequestFailed, hint_for, post_token_request
from d365local.dataverse import errors as dataverse_errors
from d365local.dataverse.errors import DataverseCode

_HINTS = {v.code: v.hint for v in vars(dataverse_errors).values() if isinstance(v, DataverseCode) and v.hint}


@click.command("whoami")
@click.option("--url", "org_url", default=None, help="Org URL (default: $DATAVERSE_URL).")
@common_options
def whoami_command(cli: CliContext, org_url: str | None) -> None:
    """Who the app is in Dynamics 365: UserId, BusinessUnitId, OrganizationId."""
    settings = client_settings(cli)
    org_url = (org_url or settings.get("DATAVERSE_URL") or "").rstrip("/")
    tenant, client_id, secret = (settings.get(k) for k in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"))
    if not (org_url and tenant and client_id and secret):
        raise click.UsageError("needs DATAVERSE_URL and AZURE_TENANT_ID/CLIENT_ID/CLIENT_SECRET (or a credentials.env)")
    verify = tls_context(settings, cli.data_dir)
    authority = settings.get("AZURE_AUTHORITY_HOST") or ENTRA_AUTHORITY
    form = {
        "client_id": client_id,
        "client_secret": secret,
        "grant_type": "client_credentials",
        "scope": f"{org_url}/.default",
    }
    try:
        status, body = post_token_request(authority, tenant, form, v2=True, verify=verify)
        if "access_token" not in body:
            description = str(body.get("error_description", body)).split("\r\n", 1)[0]
            hint = hint_for(description)
            raise TokenRequestFailed(
                f"token request failed (HTTP {status}): {description}" + (f"\nhint: {hint}" if hint else "")
            )
        response = httpx.get(
            f"{org_url}/api/data/v9.2/WhoAmI",
            headers={"Authorization": f"Bearer {body['access_token']}", "Accept": "application/json"},
            verify=verify,
            timeout=30.0,
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {org_url}: {exc}") from exc
    if response.status_code == 401:
        reason = response.headers.get("x-d365local-auth-error", response.headers.get("www-authenticate", ""))
        raise click.ClickException(f"HTTP 401: the Web API refused the token. {reason}")
    if response.status_code != 200:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        code = str(error.get("code", ""))
        hint = _HINTS.get(code.lower(), "")
        message = f"HTTP {response.status_code} {code}: {error.get('message', response.text[:300])}"
        raise click.ClickException(message + (f"\nhint: {hint}" if hint else ""))
    document = response.json()
    cli.emit(document, record("WhoAmI", {k: v for k, v in document.items() if not k.startswith("@")}))
