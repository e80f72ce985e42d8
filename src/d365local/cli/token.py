"""``d365local token``: the seed's Postman token request from the terminal, done right (a form body).

``--seed-way`` sends it exactly as the blog post's Postman recipe does (``Content-Type: application/json``) to
show why that fails: Entra reads only form bodies, so it answers 400 AADSTS900144 'grant_type'.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import click
import httpx
import jwt

from d365local.cli.context import CliContext, common_options, record, stderr
from d365local.cli.settings import (
    ENTRA_AUTHORITY,
    authority_option,
    certificate_option,
    client_certificate,
    client_id_option,
    client_secret_option,
    client_settings,
    tenant_option,
    tls_context,
    unreachable,
)
from d365local.cli.webapi_session import check_authority
from d365local.client.token_protocol import token_endpoint
from d365local.identity.errors import CATALOGUE

_AADSTS = re.compile(r"AADSTS(\d+)")
_HINTS = {code.number: code.hint for code in CATALOGUE if code.hint}


class TokenRequestFailed(click.ClickException):
    """Entra (or d365local) refused the request; the message carries the AADSTS code and a hint."""


def post_token_request(
    authority: str, tenant: str, form: dict[str, str], *, v2: bool, verify: Any, seed_way: bool = False
) -> tuple[int, dict[str, Any]]:
    url = f"{authority.rstrip('/')}/{tenant}/oauth2/{'v2.0/' if v2 else ''}token"
    with httpx.Client(verify=verify, timeout=30.0) as client:
        if seed_way:
            response = client.post(url, content=json.dumps(form), headers={"Content-Type": "application/json"})
        else:
            response = client.post(url, data=form)
    try:
        body = response.json()
    except ValueError:
        body = {"error": "invalid_response", "error_description": response.text[:500]}
    return response.status_code, body if isinstance(body, dict) else {"error": "invalid_response"}


def hint_for(description: str) -> str:
    match = _AADSTS.search(description)
    return _HINTS.get(int(match[1]), "") if match else ""


def decode(access_token: str, now: float) -> dict[str, Any]:
    header = jwt.get_unverified_header(access_token)
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return {"header": header, "claims": claims, "expiresInSeconds": int(claims.get("exp", now) - now)}


@click.command("token")
@tenant_option
@client_id_option
@client_secret_option
@certificate_option
@click.option("--resource", default=None, help="v1: the org URL (default: $DATAVERSE_URL).")
@click.option("--scope", default=None, help="v2: <org URL>/.default.")
@authority_option
@click.option("--decode", "show_decoded", is_flag=True, help="Show the token's header, claims and time to expiry.")
@click.option("--seed-way", is_flag=True, help="Send JSON like the blog's Postman recipe, to see why it fails.")
@common_options
def token_command(
    cli: CliContext,
    tenant: str | None,
    client_id: str | None,
    client_secret: str | None,
    certificate_path: str | None,
    resource: str | None,
    scope: str | None,
    authority: str | None,
    show_decoded: bool,
    seed_way: bool,
) -> None:
    """Request an app-only token with the client-credentials grant and print Entra's response."""
    settings = client_settings(cli)
    tenant = tenant or settings.get("AZURE_TENANT_ID")
    client_id = client_id or settings.get("AZURE_CLIENT_ID")
    certificate = None if client_secret else client_certificate(settings, certificate_path)
    client_secret = None if certificate else client_secret or settings.get("AZURE_CLIENT_SECRET")
    authority = authority or settings.get("AZURE_AUTHORITY_HOST") or ENTRA_AUTHORITY
    if resource and scope:
        raise click.UsageError("give --resource (v1 endpoint) or --scope (v2 endpoint), not both")
    check_authority(authority)
    if not scope:
        resource = resource or settings.get("DATAVERSE_URL")
    if not tenant or not client_id or not (client_secret or certificate) or not (resource or scope):
        wanted = {
            "--tenant": tenant,
            "--client-id": client_id,
            "--client-secret (or --certificate)": client_secret or certificate,
            "--resource": resource or scope,
        }
        missing = ", ".join(name for name, value in wanted.items() if not value)
        raise click.UsageError(
            f"missing {missing} (flags, AZURE_* / DATAVERSE_URL variables, or the data dir's credentials.env)"
        )
    if certificate is not None:
        endpoint = token_endpoint(authority, tenant, v2=bool(scope))
        credential_fields = certificate.fields(client_id, endpoint, time.time())
    else:
        credential_fields = {"client_secret": client_secret or ""}
    form = {"client_id": client_id, **credential_fields, "grant_type": "client_credentials"}
    form |= {"scope": scope} if scope else {"resource": resource or ""}
    try:
        status, body = post_token_request(
            authority, tenant, form, v2=bool(scope), verify=tls_context(settings, cli.data_dir), seed_way=seed_way
        )
    except httpx.HTTPError as exc:
        raise TokenRequestFailed(unreachable(exc, authority, settings, cli.data_dir, authority=authority)) from exc
    if "access_token" not in body:
        _fail(cli, status, body, seed_way)
    if show_decoded:
        body = body | {"decoded": decode(body["access_token"], time.time())}
    if cli.json:
        cli.emit(body)
        return
    cli.emit(body, record(f"Token response (HTTP {status})", {k: v for k, v in body.items() if k != "decoded"}))
    if show_decoded:
        decoded = body["decoded"]
        cli.emit(None, record("Header", decoded["header"]))
        cli.emit(None, record("Claims", decoded["claims"]))
        minutes, seconds = divmod(decoded["expiresInSeconds"], 60)
        stderr.print(
            f"Expires in {minutes} min {seconds} s: request a new token before then (there is no refresh token)."
        )


def _fail(cli: CliContext, status: int, body: dict[str, Any], seed_way: bool) -> None:
    if cli.json:
        cli.emit(body)
    description = str(body.get("error_description", body.get("error", "unknown error"))).split("\r\n", 1)[0]
    hint = hint_for(description)
    if seed_way and "'grant_type'" in description:
        hint = (
            "The blog's Postman recipe sends Content-Type: application/json. The token endpoint reads only "
            "application/x-www-form-urlencoded bodies, so it sees no parameters at all and reports the first one "
            "missing. Send a form body (drop --seed-way)."
        )
    raise TokenRequestFailed(
        f"HTTP {status} {body.get('error', '')}: {description}" + (f"\nhint: {hint}" if hint else "")
    )
