"""One test's own slice of d365local: a fresh tenant, app registration (permission + consent + secret), org and
application user — and the levers a test pulls to see how the code under test copes when the setup goes wrong."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization

from d365local.admins import Admins
from d365local.client import ClientCertificate, ClientSecret, TokenProvider, WebApiClient
from d365local.client.credentials import Credential
from d365local.dataverse.domain.model import SYSTEM_ADMINISTRATOR
from d365local.faults import Fault
from d365local.identity.model import DYNAMICS_CRM_NAME, USER_IMPERSONATION
from d365local.testing.server import Server


@dataclass
class Sandbox:
    """Credentials for the code under test (``environ`` is exactly what credentials.env would hold) and helpers."""

    server: Server
    admins: Admins = field(repr=False)
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    secret_key_id: str
    org_name: str
    org_id: str
    org_url: str
    user_id: str
    """The application user's ``systemuserid`` (what WhoAmI answers as UserId)."""
    _opened: list[TokenProvider | WebApiClient] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls, server: Server, admins: Admins, label: str = "pytest", roles: Sequence[str] = ()) -> Sandbox:
        """Every setup step of the real thing, in order, through the admin use cases (no HTTP, no subprocess)."""
        suffix = uuid.uuid4().hex[:12]
        directory, dataverse = admins.directory, admins.dataverse
        tenant = directory.create_tenant(f"{label[:60]} {suffix}", domain=f"t{suffix}.onmicrosoft.com")
        app = directory.create_app(tenant.id, label[:100] or "pytest")
        directory.add_permission(tenant.id, app.app_id, DYNAMICS_CRM_NAME, USER_IMPERSONATION)
        directory.grant_consent(tenant.id, app.app_id)
        secret = directory.add_secret(tenant.id, app.app_id, description="pytest")
        org = directory.create_org(tenant.id, f"t{suffix}")
        dataverse.ensure_organizations()
        user = dataverse.create_application_user(
            org.name,
            app.app_id,
            object_id=app.service_principal_id,
            full_name=app.display_name,
            roles=tuple(roles) or (SYSTEM_ADMINISTRATOR,),
        )
        return cls(
            server=server,
            admins=admins,
            tenant_id=tenant.id,
            client_id=app.app_id,
            client_secret=secret.value,
            secret_key_id=secret.secret.key_id,
            org_name=org.name,
            org_id=org.id,
            org_url=f"{server.url}/orgs/{org.name}",
            user_id=user.id,
        )

    # -- what the code under test needs ----------------------------------------------------------------------
    @property
    def authority(self) -> str:
        """The authority host (``AZURE_AUTHORITY_HOST``): token URLs are ``{authority}/{tenant}/oauth2/…``."""
        return self.server.url

    @property
    def ca_bundle(self) -> str:
        """The PEM bundle that trusts the server's certificate."""
        return self.server.ca_bundle

    @property
    def environ(self) -> dict[str, str]:
        """The variables azure-identity's EnvironmentCredential, the Dataverse SDK and ``d365local`` read."""
        return {
            "AZURE_TENANT_ID": self.tenant_id,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZURE_AUTHORITY_HOST": self.authority,
            "DATAVERSE_URL": self.org_url,
            "REQUESTS_CA_BUNDLE": self.ca_bundle,
            "SSL_CERT_FILE": self.ca_bundle,
            "CURL_CA_BUNDLE": self.ca_bundle,
        }

    def token_provider(self, credential: Credential | None = None, **options: Any) -> TokenProvider:
        """d365local's own client, ready to use: the sandbox's secret unless ``credential`` says otherwise (e.g.
        :meth:`add_certificate`'s); ``options`` go to :class:`TokenProvider`."""
        options.setdefault("authority", self.authority)
        options.setdefault("verify", _verify(self.ca_bundle))
        chosen = credential if credential is not None else ClientSecret(self.client_secret)
        provider = TokenProvider(self.tenant_id, self.client_id, chosen, **options)
        self._opened.append(provider)
        return provider

    def web_api(self, **options: Any) -> WebApiClient:
        """A Web API client for the sandbox's org with its own token provider (``options`` go to the client)."""
        options.setdefault("verify", _verify(self.ca_bundle))
        client = WebApiClient(self.org_url, self.token_provider(), **options)
        self._opened.append(client)
        return client

    # -- levers ----------------------------------------------------------------------------------------------
    def add_role(self, name: str) -> None:
        """Assign a security role (built-in or created with :meth:`create_role`) to the application user."""
        self.admins.dataverse.assign_role(self.org_id, self.client_id, name)

    def remove_role(self, name: str) -> None:
        self.admins.dataverse.remove_role(self.org_id, self.client_id, name)

    def create_role(self, name: str, privileges: Sequence[str]) -> None:
        """A custom role, e.g. ``create_role("Reader", ["prvReadAccount:Global"])``; assign it with add_role."""
        self.admins.dataverse.create_role(self.org_id, name, privileges)

    def disable_user(self) -> None:
        """Disable the application user: Web API calls answer 403 0x80040225 from the next request on."""
        self.admins.dataverse.set_user_disabled(self.org_id, self.client_id, True)

    def enable_user(self) -> None:
        self.admins.dataverse.set_user_disabled(self.org_id, self.client_id, False)

    def add_secret(self) -> str:
        """A further client secret; returns its value."""
        return self.admins.directory.add_secret(self.tenant_id, self.client_id, description="pytest").value

    def add_certificate(self, *, sha256: bool = False, days: int = 30) -> ClientCertificate:
        """A fresh self-signed certificate, registered on the app: authenticate with the returned credential
        (``token_provider(credential=…)``), or hand its ``private_key``/``certificate``/``thumbprint`` to msal."""
        credential = ClientCertificate.self_signed(f"d365local sandbox {self.client_id}", days=days, sha256=sha256)
        pem = credential.certificate.public_bytes(serialization.Encoding.PEM)
        self.admins.directory.add_certificate(self.tenant_id, self.client_id, pem)
        return credential

    def remove_secret(self, key_id: str | None = None) -> None:
        """Remove a secret (default: the sandbox's own): token requests with it fail with AADSTS7000215."""
        self.admins.directory.remove_secret(self.tenant_id, self.client_id, key_id or self.secret_key_id)

    def disable_app(self) -> None:
        """Disable the app registration: token requests fail with AADSTS7000112."""
        self.admins.directory.set_app_disabled(self.tenant_id, self.client_id, True)

    def fail_next_token_request(self, code: str = "AADSTS7000222", *, count: int = 1) -> Fault:
        """The app's next ``count`` token requests fail with this AADSTS error, exactly as Entra words it."""
        return self.admins.faults.fail_token_requests(self.tenant_id, self.client_id, code, count=count)

    def throttle_next_request(self, retry_after: int = 1, *, count: int = 1, code: str = "0x80072322") -> Fault:
        """The app's next ``count`` Web API calls get 429 with ``Retry-After: retry_after`` (service protection)."""
        return self.admins.faults.throttle_webapi(
            self.org_id, self.client_id, retry_after=retry_after, code=code, count=count
        )

    def clear_faults(self) -> None:
        self.admins.faults.clear(self.client_id)

    def close(self) -> None:
        """Close the clients handed out and drop pending faults (the fixture does this after each test)."""
        for opened in reversed(self._opened):
            opened.close()
        self._opened.clear()
        self.clear_faults()


def _verify(ca_bundle: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle)
