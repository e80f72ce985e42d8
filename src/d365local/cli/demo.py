"""``d365local demo``: the seed's whole walkthrough on a throwaway store and server, explained step by step.

It starts a real server (a child ``d365local serve`` on a free port), performs each admin step the way the CLI does
(Entra ID, then the application user in Dynamics 365), asks for a token exactly as the blog's Postman recipe does
(JSON: refused), then correctly (a form body), decodes it, and uses it: WhoAmI, then create and read an account.
It trusts the demo server's own CA explicitly, whatever the caller's environment says.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
from rich.panel import Panel

from d365local.cli.context import CliContext, common_options, record, stdout
from d365local.cli.token import decode, post_token_request
from d365local.clock import SystemClock
from d365local.dataverse.domain.admin import DataverseAdmin
from d365local.dataverse.domain.model import SYSTEM_ADMINISTRATOR
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.identity.admin import DirectoryAdmin
from d365local.identity.secret_hash import SecretHasher
from d365local.store.database import open_database
from d365local.store.security_sql import SqlSecurityStore
from d365local.tls import TlsFiles

READY_PREFIX = "d365local ready at "


@contextlib.contextmanager
def demo_server(data_dir: Path, timeout: float = 60.0) -> Iterator[str]:
    """A child ``d365local serve --no-seed`` on a free port; yields its URL and stops it afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("D365LOCAL_", "AZURE_"))}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "d365local", "serve", "--port", "0", "--no-seed", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stdout or ():
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise click.ClickException("the demo server did not start: " + "".join(output)) from None
            output.append(line)
            if line.startswith(READY_PREFIX):
                yield line[len(READY_PREFIX) :].split(",")[0].strip()
                return
            if process.poll() is not None and lines.empty():
                raise click.ClickException("the demo server exited: " + "".join(output))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class _Walkthrough:
    def __init__(self, cli: CliContext) -> None:
        self._cli = cli
        self._number = 0
        self.log: list[dict[str, Any]] = []

    def step(self, title: str, command: str, explanation: str, result: dict[str, Any]) -> None:
        self._number += 1
        self.log.append({"step": self._number, "title": title, "command": command, "result": result})
        if self._cli.json:
            return
        stdout.print(f"\n[bold cyan]Step {self._number}. {title}[/]")
        stdout.print(f"[dim]$ {command}[/]", highlight=False)
        stdout.print(explanation, highlight=False)
        stdout.print(record("", result))


@click.command("demo")
@click.option("--keep", is_flag=True, help="Keep the throwaway data directory and print where it is.")
@common_options
def demo_command(cli: CliContext, keep: bool) -> None:
    """Walk through the whole client-credentials setup on a throwaway server."""
    folder = Path(tempfile.mkdtemp(prefix="d365local-demo-"))
    try:
        _run(cli, folder)
    finally:
        if keep:
            click.echo(f"data directory kept: {folder}", err=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _run(cli: CliContext, folder: Path) -> None:
    walk = _Walkthrough(cli)
    if not cli.json:
        stdout.print(Panel.fit("d365local demo: Dynamics 365 Online authentication with client credentials, offline"))
        stdout.print("Starting a throwaway server on a free port…")
    with demo_server(folder) as url:
        database = open_database(folder)
        try:
            clock = SystemClock()
            admin = DirectoryAdmin(database.directory, SecretHasher(database.settings.secret_hash_key()), clock)
            dataverse = DataverseAdmin(SqlSecurityStore(database.directory), builtin_catalog(), clock)
            setup = _admin_steps(walk, admin, dataverse)
        finally:
            database.close()
        trust = ssl.create_default_context(cafile=str(TlsFiles.for_data_dir(folder).ca_cert))
        _token_steps(walk, setup, url, trust)
    if cli.json:
        cli.emit({"url": url, "steps": walk.log})
    else:
        stdout.print(
            "\n[bold green]Done.[/] Every step above has a `d365local` command; run `d365local serve` to keep a "
            "server.\nThen: `d365local doctor` checks a setup step by step (also against a real org), `d365local "
            "postman` writes this recipe as a Postman collection, and the pytest plugin gives each of your tests a "
            "fresh tenant, app, org and application user (the `d365local` fixture)."
        )


@dataclass(frozen=True)
class _Setup:
    tenant_id: str
    client_id: str
    secret: str
    org_url: str


def _admin_steps(walk: _Walkthrough, admin: DirectoryAdmin, dataverse: DataverseAdmin) -> _Setup:
    tenant = admin.create_tenant("Contoso")
    walk.step(
        "Create the tenant and read its Directory ID",
        "d365local tenant create Contoso",
        "Entra ID → Properties → Directory ID. Token URLs take this GUID (or a verified domain).",
        {"Directory (tenant) ID": tenant.id, "verified domain": tenant.default_domain},
    )
    app = admin.create_app(tenant.id, "Dynamics integration")
    walk.step(
        "Register an app",
        f"d365local app create --tenant {tenant.id} --name 'Dynamics integration'",
        "App registrations → New registration. Its service principal's object ID becomes the token's oid.",
        {"Application (client) ID": app.app_id, "service principal object ID": app.service_principal_id},
    )
    permission = admin.add_permission(tenant.id, app.app_id, "Dynamics CRM", "user_impersonation")
    walk.step(
        "Add the Dynamics CRM permission",
        f"d365local app permission add --tenant {tenant.id} --app {app.app_id} --api 'Dynamics CRM' "
        "--permission user_impersonation",
        "API permissions → Dynamics CRM → user_impersonation (delegated: app-only access is granted by the "
        "application user in Dynamics, not by this permission).",
        {"api": permission.api, "permission": permission.permission},
    )
    consent = admin.grant_consent(tenant.id, app.app_id)
    walk.step(
        "Grant admin consent",
        f"d365local app consent --tenant {tenant.id} --app {app.app_id}",
        "Grant admin consent for Contoso.",
        {"granted by": consent.granted_by},
    )
    secret = admin.add_secret(tenant.id, app.app_id, description="demo")
    walk.step(
        "Create a client secret",
        f"d365local app secret add --tenant {tenant.id} --app {app.app_id} --description demo",
        "Certificates & secrets → New client secret. The value is shown once; only a hash is stored.",
        {"secret ID": secret.secret.key_id, "value": secret.value},
    )
    user = admin.create_user(tenant.id, f"admin@{tenant.default_domain}")
    admin.add_owner(tenant.id, app.app_id, user.user_principal_name)
    walk.step(
        "Add an owner",
        f"d365local user create --tenant {tenant.id} --upn {user.user_principal_name} && d365local app owner add "
        f"--tenant {tenant.id} --app {app.app_id} --user {user.user_principal_name}",
        "Owners → Add owners.",
        {"owner": user.user_principal_name},
    )
    org = admin.create_org(tenant.id, "contoso")
    walk.step(
        "Create the Dynamics 365 organization",
        f"d365local org create --tenant {tenant.id} --name contoso",
        "Its URL is the token's resource (v1) or scope (v2, with /.default).",
        {"org URL": org.url},
    )
    dataverse.ensure_organizations()
    application_user = dataverse.create_application_user(
        org.name,
        app.app_id,
        object_id=app.service_principal_id,
        full_name=app.display_name,
        roles=[SYSTEM_ADMINISTRATOR],
    )
    walk.step(
        "Create the application user in Dynamics 365",
        f"d365local appuser create --org {org.name} --app {app.app_id} --role 'System Administrator'",
        "Settings → Security → Users → Application Users → New: the Application ID binds it to the app; its Azure AD "
        "Object ID fills in from the service principal. Without a security role every call would be refused.",
        {
            "systemuserid": application_user.id,
            "azureactivedirectoryobjectid": application_user.object_id or "",
            "role": SYSTEM_ADMINISTRATOR,
        },
    )
    return _Setup(tenant.id, app.app_id, secret.value, org.url)


def _token_steps(walk: _Walkthrough, setup: _Setup, url: str, trust: ssl.SSLContext) -> None:
    tenant_id, client_id, secret, org_url = setup.tenant_id, setup.client_id, setup.secret, setup.org_url
    form = {"client_id": client_id, "client_secret": secret, "resource": org_url, "grant_type": "client_credentials"}
    status, body = post_token_request(url, tenant_id, form, v2=False, verify=trust, seed_way=True)
    walk.step(
        "Request a token the seed's way (Content-Type: application/json)",
        f"POST {url}/{tenant_id}/oauth2/token with a JSON body",
        "The endpoint reads only form bodies, so it sees no parameters and names the first one missing. "
        "This is what Entra answers too.",
        {
            "HTTP status": status,
            "error": body.get("error"),
            "error_description": str(body.get("error_description", "")).split("\r\n")[0],
        },
    )
    status, body = post_token_request(url, tenant_id, form, v2=False, verify=trust)
    if "access_token" not in body:
        raise click.ClickException(f"token request failed: {body}")
    walk.step(
        "Request a token correctly (application/x-www-form-urlencoded)",
        f"d365local token --tenant {tenant_id} --client-id {client_id} --client-secret *** --resource {org_url}",
        "v1 endpoint: numbers come back as strings, with expires_on and resource. No refresh token: ask again.",
        {k: (v if k != "access_token" else v[:40] + "…") for k, v in body.items()},
    )
    decoded = decode(body["access_token"], time.time())
    claims = decoded["claims"]
    walk.step(
        "Decode the access token",
        "d365local token --decode",
        "A v1 app-only token: Dataverse maps appid/oid to its application user and checks the signature with the "
        "keys at /common/discovery/keys.",
        {
            "aud": claims["aud"],
            "iss": claims["iss"],
            "appid": claims["appid"],
            "oid": claims["oid"],
            "expires in": f"{decoded['expiresInSeconds'] // 60} minutes: fetch a new token before then",
        },
    )
    _web_api_steps(walk, setup, trust, body["access_token"])


def _web_api_steps(walk: _Walkthrough, setup: _Setup, trust: ssl.SSLContext, access_token: str) -> None:
    api = f"{setup.org_url}/api/data/v9.2"
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json", "OData-Version": "4.0"}
    with httpx.Client(verify=trust, timeout=30.0, headers=headers) as client:
        who = _ok(client.get(f"{api}/WhoAmI"))
        walk.step(
            "Call the Web API: WhoAmI",
            f"GET {api}/WhoAmI with Authorization: Bearer <token>",
            "Dataverse checks the token's signature, issuer and audience, finds the application user by appid, "
            "and checks its roles.",
            {k: v for k, v in who.json().items() if not k.startswith("@")},
        )
        created = _ok(client.post(f"{api}/accounts", json={"name": "Contoso Ltd", "accountnumber": "DEMO-1"}))
        location = created.headers["OData-EntityId"]
        walk.step(
            "Create an account",
            f'POST {api}/accounts {{"name": "Contoso Ltd"}}',
            "204 No Content: the new record's URL comes back in the OData-EntityId header.",
            {"OData-EntityId": location},
        )
        account = _ok(client.get(location, params={"$select": "name,accountnumber,createdon"})).json()
        walk.step(
            "Read it back",
            f"GET {location}?$select=name,accountnumber,createdon",
            "Every record carries an @odata.etag for optimistic concurrency.",
            {k: v for k, v in account.items() if k != "@odata.context"},
        )


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise click.ClickException(
            f"{response.request.method} {response.request.url} → {response.status_code}: {response.text[:300]}"
        )
    return response
