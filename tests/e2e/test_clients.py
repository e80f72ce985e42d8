"""Unmodified real clients get tokens from a real server over TLS, and every token verifies against the JWKS."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import msal
import pytest
import requests
from azure.identity import CertificateCredential, ClientSecretCredential, EnvironmentCredential
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from tests.e2e.conftest import Server
from tests.http.conftest import make_certificate

pytestmark = pytest.mark.e2e


def verify(server: Server, token: str, audience: str) -> dict[str, Any]:
    """Verify like a resource server would: discovery → jwks_uri → key by kid → RS256, aud, iss, exp."""
    config = requests.get(f"{server.url}/{server.tenant_id}/v2.0/.well-known/openid-configuration", timeout=10).json()
    keys = {k["kid"]: jwt.PyJWK(k).key for k in requests.get(config["jwks_uri"], timeout=10).json()["keys"]}
    claims: dict[str, Any] = jwt.decode(
        token,
        keys[jwt.get_unverified_header(token)["kid"]],
        algorithms=["RS256"],
        audience=audience,
        issuer=f"https://sts.windows.net/{server.tenant_id}/",
    )
    assert claims["appid"] == claims["appid"].lower()
    assert claims["ver"] == "1.0"
    assert claims["idtyp"] == "app"
    assert claims["oid"] == claims["sub"]
    assert claims["tid"] == server.tenant_id
    return claims


@dataclass(frozen=True)
class CertificateApp:
    client_id: str
    pfx_path: Path
    pem_path: Path
    key_pem: bytes
    thumbprint: str


@pytest.fixture(scope="module")
def certificate_app(server: Server, tmp_path_factory: pytest.TempPathFactory) -> CertificateApp:
    folder = tmp_path_factory.mktemp("cert-app")
    credential = make_certificate("e2e certificate app")
    cert_pem = credential.pem
    key_pem = credential.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key+cert.pem").write_bytes(key_pem + cert_pem)
    (folder / "client.pfx").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"client", credential.key, credential.certificate, None, serialization.BestAvailableEncryption(b"pfx-pass")
        )
    )
    created = server.cli("app", "create", "--tenant", server.tenant_id, "--name", "cert app", "--json")
    assert created.returncode == 0, created.stderr
    client_id = json.loads(created.stdout)["appId"]
    added = server.cli(
        "app", "cert", "add", "--tenant", server.tenant_id, "--app", client_id, "--cert", str(folder / "cert.pem")
    )
    assert added.returncode == 0, added.stderr
    thumbprint = hashlib.sha1(credential.certificate.public_bytes(serialization.Encoding.DER)).hexdigest()  # noqa: S324
    return CertificateApp(client_id, folder / "client.pfx", folder / "key+cert.pem", key_pem, thumbprint)


def scope(server: Server) -> str:
    return f"{server.url}/.default"


def test_msal_with_a_secret_and_its_cache(trust: Server) -> None:
    app = msal.ConfidentialClientApplication(
        trust.client_id,
        client_credential=trust.client_secret,
        authority=f"{trust.url}/{trust.tenant_id}",
        instance_discovery=False,
    )
    first = app.acquire_token_for_client(scopes=[scope(trust)])
    assert "access_token" in first, first
    assert first["token_source"] == "identity_provider"
    second = app.acquire_token_for_client(scopes=[scope(trust)])
    assert second["token_source"] == "cache"
    claims = verify(trust, first["access_token"], trust.url)
    assert claims["appidacr"] == "1"


def test_msal_error_comes_back_as_a_dict(trust: Server) -> None:
    app = msal.ConfidentialClientApplication(
        trust.client_id, client_credential="wrong", authority=f"{trust.url}/{trust.tenant_id}", instance_discovery=False
    )
    result = app.acquire_token_for_client(scopes=[scope(trust)])
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]


def test_msal_with_a_pfx_sends_ps256(trust: Server, certificate_app: CertificateApp) -> None:
    app = msal.ConfidentialClientApplication(
        certificate_app.client_id,
        client_credential={"private_key_pfx_path": str(certificate_app.pfx_path), "passphrase": "pfx-pass"},
        authority=f"{trust.url}/{trust.tenant_id}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[scope(trust)])
    assert "access_token" in result, result
    assert verify(trust, result["access_token"], trust.url)["appidacr"] == "2"


def test_msal_with_pem_and_thumbprint_sends_rs256(trust: Server, certificate_app: CertificateApp) -> None:
    app = msal.ConfidentialClientApplication(
        certificate_app.client_id,
        client_credential={"private_key": certificate_app.key_pem.decode(), "thumbprint": certificate_app.thumbprint},
        authority=f"{trust.url}/{trust.tenant_id}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[scope(trust)])
    assert "access_token" in result, result
    assert verify(trust, result["access_token"], trust.url)["appidacr"] == "2"


def test_azure_identity_client_secret_credential(trust: Server) -> None:
    credential = ClientSecretCredential(
        trust.tenant_id, trust.client_id, trust.client_secret, authority=trust.url, disable_instance_discovery=True
    )
    token = credential.get_token(scope(trust))
    assert verify(trust, token.token, trust.url)["exp"] == token.expires_on + 1


def test_azure_identity_certificate_credential(trust: Server, certificate_app: CertificateApp) -> None:
    credential = CertificateCredential(
        trust.tenant_id,
        certificate_app.client_id,
        certificate_path=str(certificate_app.pem_path),
        authority=trust.url,
        disable_instance_discovery=True,
    )
    token = credential.get_token(scope(trust))
    assert verify(trust, token.token, trust.url)["appid"] == certificate_app.client_id


def test_azure_identity_environment_credential_from_credentials_env(
    trust: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in trust.credentials.items():
        monkeypatch.setenv(name, value)
    token = EnvironmentCredential(disable_instance_discovery=True).get_token(
        f"{trust.credentials['DATAVERSE_URL']}/.default"
    )
    verify(trust, token.token, trust.credentials["DATAVERSE_URL"])


def test_requests_oauthlib_backend_application_client_uses_basic(trust: Server) -> None:
    session = OAuth2Session(client=BackendApplicationClient(client_id=trust.client_id))
    token = session.fetch_token(
        token_url=f"{trust.url}/{trust.tenant_id}/oauth2/v2.0/token",
        client_id=trust.client_id,
        client_secret=trust.client_secret,
        scope=[scope(trust)],
    )
    verify(trust, token["access_token"], trust.url)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_plain_requests_the_postman_way(trust: Server, version: str) -> None:
    form = {"client_id": trust.client_id, "client_secret": trust.client_secret, "grant_type": "client_credentials"}
    if version == "v1":
        url, form["resource"] = f"{trust.url}/{trust.tenant_id}/oauth2/token", trust.url
    else:
        url, form["scope"] = f"{trust.url}/{trust.tenant_id}/oauth2/v2.0/token", scope(trust)
    response = requests.post(url, data=form, timeout=10)
    assert response.status_code == 200, response.text
    verify(trust, response.json()["access_token"], trust.url)
    blog_way = requests.post(url, json=form, timeout=10)
    assert blog_way.status_code == 400
    assert blog_way.json()["error_codes"] == [900144]
