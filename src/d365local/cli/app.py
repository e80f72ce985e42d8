"""``d365local app``: app registrations and everything on them — permissions, consent, secrets, certs, owners."""

from __future__ import annotations

import re
from pathlib import Path

import click

from d365local.cli.context import CliContext, SuggestingGroup, common_options, record, tenant_option, view_table
from d365local.cli.directory_views import (
    app_view,
    certificate_view,
    consent_view,
    permission_view,
    secret_view,
    user_view,
)
from d365local.identity.admin import AdminError

_TENANT = tenant_option()
_APP = click.option("--app", "app_id", required=True, help="Application (client) ID.")
_LIFETIME = re.compile(r"^(\d+)\s*([ymdh])$")
_UNIT_SECONDS = {"y": 365 * 86400, "m": 30 * 86400, "d": 86400, "h": 3600}


def parse_lifetime(text: str) -> int:
    """``1y``, ``6m``, ``90d``, ``12h`` → seconds."""
    match = _LIFETIME.match(text.strip().lower())
    if match is None:
        raise AdminError(f"--expires takes a count and a unit (y, m, d or h), e.g. 1y or 90d; got {text!r}")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


@click.group("app", cls=SuggestingGroup)
def app_group() -> None:
    """App registrations (Entra → App registrations)."""


@app_group.command("create")
@_TENANT
@click.option("--name", required=True, help="Display name.")
@click.option("--app-id", default=None, help="A fixed Application (client) ID (default: a new GUID).")
@common_options
def create(cli: CliContext, tenant: str, name: str, app_id: str | None) -> None:
    """Register an app (its service principal is created with it)."""
    with cli.admin() as admin:
        app = admin.create_app(tenant, name, app_id=app_id)
    cli.emit(app_view(app), record(f"App {app.display_name}", app_view(app)))
    cli.hint("Next: `d365local app secret add --tenant T --app <appId>` (the value is shown once).")


@app_group.command("list")
@_TENANT
@common_options
def list_(cli: CliContext, tenant: str) -> None:
    """List the tenant's app registrations."""
    cli.require_database()
    with cli.admin() as admin:
        apps = admin.apps(tenant)
    views = [app_view(a) for a in apps]
    cli.emit(
        views, view_table("App registrations", views, ["appId", "displayName", "id", "servicePrincipalId", "disabled"])
    )


@app_group.command("show")
@_TENANT
@_APP
@common_options
def show(cli: CliContext, tenant: str, app_id: str) -> None:
    """Show an app with its credentials, permissions, consent and owners."""
    with cli.admin() as admin:
        app = admin.app(tenant, app_id)
        consent = admin.consent(tenant, app_id)
        view = app_view(app) | {
            "passwordCredentials": [secret_view(s) for s in admin.secrets(tenant, app_id)],
            "keyCredentials": [certificate_view(c) for c in admin.certificates(tenant, app_id)],
            "requiredResourceAccess": [permission_view(p, consent) for p in admin.permissions(tenant, app_id)],
            "adminConsent": consent_view(consent) if consent else None,
            "owners": [user_view(u) for u in admin.owners(tenant, app_id)],
        }
    human = app_view(app) | {
        "secrets": [f"{s['keyId']} ({s['hint']}…, until {s['endDateTime']})" for s in view["passwordCredentials"]],
        "certificates": [c["thumbprint"] for c in view["keyCredentials"]],
        "permissions": [f"{p['api']}/{p['permission']}" for p in view["requiredResourceAccess"]],
        "adminConsent": f"by {consent.granted_by}" if consent else "not granted",
        "owners": [o["userPrincipalName"] for o in view["owners"]],
    }
    cli.emit(view, record(f"App {app.display_name}", human))


def _set_disabled(cli: CliContext, tenant: str, app_id: str, disabled: bool) -> None:
    with cli.admin() as admin:
        app = admin.set_app_disabled(tenant, app_id, disabled)
    cli.emit(app_view(app), record(f"App {app.display_name}", app_view(app)))


@app_group.command("disable")
@_TENANT
@_APP
@common_options
def disable(cli: CliContext, tenant: str, app_id: str) -> None:
    """Disable sign-in for the app (token requests fail with AADSTS7000112)."""
    _set_disabled(cli, tenant, app_id, True)


@app_group.command("enable")
@_TENANT
@_APP
@common_options
def enable(cli: CliContext, tenant: str, app_id: str) -> None:
    """Enable sign-in for the app again."""
    _set_disabled(cli, tenant, app_id, False)


@app_group.group("permission", cls=SuggestingGroup)
def permission_group() -> None:
    """API permissions (Required permissions → Dynamics CRM)."""


@permission_group.command("add")
@_TENANT
@_APP
@click.option("--api", default="Dynamics CRM", show_default=True, help="The API the permission belongs to.")
@click.option(
    "--permission", default="user_impersonation", show_default=True, help="The delegated permission (scope) to require."
)
@common_options
def permission_add(cli: CliContext, tenant: str, app_id: str, api: str, permission: str) -> None:
    """Add a required permission (then grant it with `app consent`)."""
    with cli.admin() as admin:
        added = admin.add_permission(tenant, app_id, api, permission)
        consent = admin.consent(tenant, app_id)
    view = permission_view(added, consent)
    cli.emit(view, record("Permission added", view))


@permission_group.command("list")
@_TENANT
@_APP
@common_options
def permission_list(cli: CliContext, tenant: str, app_id: str) -> None:
    """List the app's required permissions and whether admin consent was granted."""
    with cli.admin() as admin:
        consent = admin.consent(tenant, app_id)
        views = [permission_view(p, consent) for p in admin.permissions(tenant, app_id)]
    cli.emit(views, view_table("Permissions", views, ["api", "permission", "type", "adminConsentGranted"]))


@app_group.command("consent")
@_TENANT
@_APP
@click.option("--by", "granted_by", default=None, help="Who grants it (default admin@<tenant domain>).")
@common_options
def consent(cli: CliContext, tenant: str, app_id: str, granted_by: str | None) -> None:
    """Grant admin consent for the app's permissions."""
    with cli.admin() as admin:
        granted = admin.grant_consent(tenant, app_id, granted_by=granted_by)
    cli.emit(consent_view(granted), record("Admin consent granted", consent_view(granted)))


@app_group.group("secret", cls=SuggestingGroup)
def secret_group() -> None:
    """Client secrets (Certificates & secrets → New client secret)."""


@secret_group.command("add")
@_TENANT
@_APP
@click.option("--description", default="", help="What the secret is for.")
@click.option("--expires", default="1y", show_default=True, help="Lifetime: 1y, 6m, 90d, 12h (at most 24 months).")
@common_options
def secret_add(cli: CliContext, tenant: str, app_id: str, description: str, expires: str) -> None:
    """Add a client secret. Its value is shown now and never again."""
    with cli.admin() as admin:
        new = admin.add_secret(tenant, app_id, description=description, lifetime_seconds=parse_lifetime(expires))
    view = secret_view(new.secret, new.value)
    cli.emit(view, record("Client secret added", view))
    if not cli.json:
        cli.hint("Copy secretText now: it is stored only as a hash and cannot be shown again.")


@secret_group.command("list")
@_TENANT
@_APP
@common_options
def secret_list(cli: CliContext, tenant: str, app_id: str) -> None:
    """List the app's client secrets (never their values)."""
    with cli.admin() as admin:
        views = [secret_view(s) for s in admin.secrets(tenant, app_id)]
    cli.emit(
        views, view_table("Client secrets", views, ["keyId", "hint", "displayName", "startDateTime", "endDateTime"])
    )


@secret_group.command("remove")
@_TENANT
@_APP
@click.option("--key-id", required=True, help="The secret's key ID (from `app secret list`).")
@common_options
def secret_remove(cli: CliContext, tenant: str, app_id: str, key_id: str) -> None:
    """Remove a client secret; token requests with it fail from the next request on."""
    with cli.admin() as admin:
        admin.remove_secret(tenant, app_id, key_id)
    cli.emit({"keyId": key_id, "removed": True}, f"Removed client secret {key_id}.")


@app_group.group("cert", cls=SuggestingGroup)
def cert_group() -> None:
    """Certificate credentials (Certificates & secrets → Upload certificate)."""


@cert_group.command("add")
@_TENANT
@_APP
@click.option(
    "--cert",
    "cert_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The certificate's public part: a PEM or DER file (.cer/.pem/.crt), no private key needed.",
)
@common_options
def cert_add(cli: CliContext, tenant: str, app_id: str, cert_file: Path) -> None:
    """Upload a public certificate (PEM or DER); assertions signed by its key authenticate the app."""
    with cli.admin() as admin:
        certificate = admin.add_certificate(tenant, app_id, cert_file.read_bytes())
    view = certificate_view(certificate)
    cli.emit(view, record("Certificate added", view))


@cert_group.command("list")
@_TENANT
@_APP
@common_options
def cert_list(cli: CliContext, tenant: str, app_id: str) -> None:
    """List the app's certificates."""
    with cli.admin() as admin:
        views = [certificate_view(c) for c in admin.certificates(tenant, app_id)]
    cli.emit(views, view_table("Certificates", views, ["keyId", "thumbprint", "startDateTime", "endDateTime"]))


@cert_group.command("remove")
@_TENANT
@_APP
@click.option("--thumbprint", required=True, help="SHA-1 (or SHA-256) thumbprint, hex.")
@common_options
def cert_remove(cli: CliContext, tenant: str, app_id: str, thumbprint: str) -> None:
    """Remove a certificate credential."""
    with cli.admin() as admin:
        admin.remove_certificate(tenant, app_id, thumbprint)
    cli.emit({"thumbprint": thumbprint.upper(), "removed": True}, f"Removed certificate {thumbprint.upper()}.")


@app_group.group("owner", cls=SuggestingGroup)
def owner_group() -> None:
    """App owners (Owners → Add owners)."""


@owner_group.command("add")
@_TENANT
@_APP
@click.option("--user", "upn", required=True, help="The user's principal name.")
@common_options
def owner_add(cli: CliContext, tenant: str, app_id: str, upn: str) -> None:
    """Make a user an owner of the app."""
    with cli.admin() as admin:
        user = admin.add_owner(tenant, app_id, upn)
    cli.emit(user_view(user), record("Owner added", user_view(user)))


@owner_group.command("list")
@_TENANT
@_APP
@common_options
def owner_list(cli: CliContext, tenant: str, app_id: str) -> None:
    """List the app's owners."""
    with cli.admin() as admin:
        views = [user_view(u) for u in admin.owners(tenant, app_id)]
    cli.emit(views, view_table("Owners", views, ["id", "userPrincipalName", "displayName"]))
