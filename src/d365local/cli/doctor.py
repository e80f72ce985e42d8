"""``d365local doctor``: "what is wrong with my setup?" — the client-credentials chain as a ✓/✗ checklist.

The checks live in :mod:`d365local.client.doctor` (a library, usable against the real cloud); this module only
gathers the settings the way ``token`` and ``whoami`` do and renders the result. Exit status 1 at the first ✗.
"""

from __future__ import annotations

import json
import ssl
import sys
from typing import Literal, cast

import click
from rich.markup import escape

from d365local.cli.context import CliContext, common_options, stdout
from d365local.cli.settings import (
    ENTRA_AUTHORITY,
    authority_option,
    certificate_option,
    client_certificate,
    client_id_option,
    client_secret_option,
    client_settings,
    org_url_option,
    tenant_option,
    tls_context,
    trust_description,
)
from d365local.client.doctor import Check, Doctor, DoctorSettings


def render(check: Check) -> None:
    """One checklist line (and, on failure, the fix under it)."""
    mark = "[green]✓[/green]" if check.ok else "[bold red]✗[/bold red]"
    stdout.print(f"{mark} [bold]{escape(check.step)}[/bold]: {escape(check.detail)}", highlight=False)
    if check.fix:
        stdout.print(f"  [yellow]fix:[/yellow] {escape(check.fix)}", highlight=False)


@click.command("doctor")
@tenant_option
@client_id_option
@client_secret_option
@certificate_option
@org_url_option
@authority_option
@click.option(
    "--body",
    type=click.Choice(["form", "json"]),
    default="form",
    show_default=True,
    help="Send the token request the way your code does — the blog's Postman recipe sends JSON.",
)
@click.option(
    "--endpoint",
    type=click.Choice(["v1", "v2"]),
    default="v2",
    show_default=True,
    help="Token endpoint: v2 (scope=<org>/.default: msal, azure-identity) or v1 (resource=<org>: the blog's recipe).",
)
@click.option("--entity-set", default="accounts", show_default=True, help="Entity set of the read check.")
@common_options
def doctor_command(
    cli: CliContext,
    tenant: str | None,
    client_id: str | None,
    client_secret: str | None,
    certificate_path: str | None,
    org_url: str | None,
    authority: str | None,
    body: str,
    endpoint: str,
    entity_set: str,
) -> None:
    """What is wrong with my setup? Walk the client-credentials chain and explain the first failure."""
    settings = client_settings(cli)
    certificate = None if client_secret else client_certificate(settings, certificate_path)
    doctor_settings = DoctorSettings(
        tenant=tenant or settings.get("AZURE_TENANT_ID", ""),
        client_id=client_id or settings.get("AZURE_CLIENT_ID", ""),
        client_secret="" if certificate else client_secret or settings.get("AZURE_CLIENT_SECRET", ""),
        certificate=certificate,
        org_url=org_url or settings.get("DATAVERSE_URL", ""),
        authority=authority or settings.get("AZURE_AUTHORITY_HOST") or ENTRA_AUTHORITY,
        body=cast(Literal["form", "json"], body),
        endpoint=cast(Literal["v1", "v2"], endpoint),
        entity_set=entity_set,
        trust=trust_description(settings, cli.data_dir),
    )
    if not cli.json:
        target = f"{doctor_settings.authority} → {doctor_settings.org_url or '(no org URL)'}"
        stdout.print(f"d365local doctor: {escape(target)}", highlight=False)
    checks: list[Check] = []
    try:
        verify = tls_context(settings, cli.data_dir)
    except (OSError, ssl.SSLError) as exc:
        walk = iter([_unreadable_bundle(doctor_settings.trust, exc)])
    else:
        walk = Doctor(doctor_settings, verify=verify).checks()
    for check in walk:
        checks.append(check)
        if not cli.json:
            render(check)
    if cli.json:
        click.echo(json.dumps([check.to_json() for check in checks], indent=2, ensure_ascii=False))
    elif checks[-1].ok:
        stdout.print(f"[green]All {len(checks)} checks passed.[/green]", highlight=False)
    else:
        stdout.print(f"Stopped at '{escape(checks[-1].step)}': fix it and run `d365local doctor` again.")
    if not checks[-1].ok:
        sys.exit(1)


def _unreadable_bundle(trust: str, error: Exception) -> Check:
    return Check(
        "TLS trust",
        False,
        f"cannot load the CA bundle ({trust}): {error}",
        "REQUESTS_CA_BUNDLE / SSL_CERT_FILE must name a readable PEM file: fix or unset them "
        "(d365local: the bundle is tls/ca-bundle.pem in the data directory; `set -a; . .d365local/credentials.env`).",
    )
