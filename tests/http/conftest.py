"""The in-process app on a real database (SQLite, and PostgreSQL when configured) with one tenant ready to use."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from d365local.app import AppOptions, create_app
from d365local.client import ClientCertificate
from d365local.clock import FrozenClock
from d365local.identity.admin import DirectoryAdmin
from d365local.identity.model import Application, Organization, Tenant
from d365local.identity.secret_hash import SecretHasher
from d365local.store.database import Database, open_database

BASE_URL = "https://localhost:5443"


@dataclass(frozen=True)
class CertificateCredential:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def make_certificate(common_name: str = "d365local test client", days: int = 30) -> CertificateCredential:
    made = ClientCertificate.self_signed(
        common_name, valid_from=dt.datetime.now(dt.UTC) - dt.timedelta(days=1), days=days + 1
    )
    return CertificateCredential(made.private_key, made.certificate)


@pytest.fixture(scope="session")
def client_certificate() -> CertificateCredential:
    return make_certificate()


@dataclass
class Identity:
    """A tenant with an org and an app holding a secret and a certificate, behind a test client."""

    client: TestClient
    database: Database
    admin: DirectoryAdmin
    clock: FrozenClock
    tenant: Tenant
    app: Application
    secret: str
    org: Organization
    certificate: CertificateCredential

    def token_url(self, version: str = "v2", tenant: str | None = None) -> str:
        path = "oauth2/v2.0/token" if version == "v2" else "oauth2/token"
        return f"/{tenant or self.tenant.id}/{path}"

    def form(self, **overrides: str | None) -> dict[str, str]:
        form: dict[str, str | None] = {
            "grant_type": "client_credentials",
            "client_id": self.app.app_id,
            "client_secret": self.secret,
            "scope": f"{self.org.url}/.default",
        }
        form.update(overrides)
        return {k: v for k, v in form.items() if v is not None}


@pytest.fixture
def identity(database_url: str, tmp_path: Path, client_certificate: CertificateCredential) -> Iterator[Identity]:
    database = open_database(tmp_path, database_url)
    clock = FrozenClock(time.time())
    admin = DirectoryAdmin(database.directory, SecretHasher(database.settings.secret_hash_key()), clock)
    database.directory.set_public_base_url(BASE_URL)
    admin.ensure_signing_key()
    tenant = admin.create_tenant("Contoso")
    org = admin.create_org(tenant.id, "contoso")
    app = admin.create_app(tenant.id, "integration")
    secret = admin.add_secret(tenant.id, app.app_id).value
    admin.add_certificate(tenant.id, app.app_id, client_certificate.pem)
    app_instance = create_app(database, AppOptions(), clock=clock)
    with TestClient(app_instance, base_url=BASE_URL, raise_server_exceptions=True) as client:
        yield Identity(client, database, admin, clock, tenant, app, secret, org, client_certificate)
    database.close()
