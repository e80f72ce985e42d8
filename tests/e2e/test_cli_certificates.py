"""The client tools with a certificate instead of a secret: ``--certificate`` or azure-identity's
``AZURE_CLIENT_CERTIFICATE_PATH`` (+ ``_PASSWORD``), PEM or PFX — against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.e2e.conftest import Server, clean_environment
from tests.http.conftest import CertificateCredential, make_certificate

pytestmark = pytest.mark.e2e


def admin(server: Server, *args: str) -> Any:
    result = server.cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def run(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A client command as a user runs it: an empty data dir (no credentials.env secret), settings in env."""
    return subprocess.run(
        [sys.executable, "-m", "d365local", *args, "--data-dir", str(tmp_path / "empty")],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environment(**env),
        check=False,
    )


def pem_file(credential: CertificateCredential, path: Path) -> Path:
    key = credential.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(key + credential.pem)
    return path


@pytest.fixture
def cert_app(server: Server, tmp_path: Path) -> tuple[str, CertificateCredential]:
    """An app whose only credential is a certificate, with an application user (System Administrator)."""
    credential = make_certificate("cli certificate")
    (tmp_path / "public.pem").write_bytes(credential.pem)
    app = admin(server, "app", "create", "--tenant", server.tenant_id, "--name", f"cert-{uuid.uuid4().hex[:6]}")
    admin(
        server,
        "app",
        "cert",
        "add",
        "--tenant",
        server.tenant_id,
        "--app",
        app["appId"],
        "--cert",
        str(tmp_path / "public.pem"),
    )
    admin(server, "appuser", "create", "--org", "contoso", "--app", app["appId"], "--role", "System Administrator")
    return app["appId"], credential


def environment(server: Server, client_id: str, **extra: str) -> dict[str, str]:
    return {
        "AZURE_TENANT_ID": server.tenant_id,
        "AZURE_CLIENT_ID": client_id,
        "AZURE_AUTHORITY_HOST": server.url,
        "DATAVERSE_URL": server.credentials["DATAVERSE_URL"],
        "REQUESTS_CA_BUNDLE": server.ca_bundle,
        **extra,
    }


def test_whoami_and_query_with_azure_client_certificate_path(
    server: Server, tmp_path: Path, cert_app: tuple[str, CertificateCredential]
) -> None:
    client_id, credential = cert_app
    env = environment(server, client_id, AZURE_CLIENT_CERTIFICATE_PATH=str(pem_file(credential, tmp_path / "k.pem")))
    who = run(tmp_path, "whoami", "--json", env=env)
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["UserId"]
    query = run(tmp_path, "query", "accounts", "--top", "1", "--json", env=env)
    assert query.returncode == 0, query.stderr


def test_pfx_with_a_password(server: Server, tmp_path: Path, cert_app: tuple[str, CertificateCredential]) -> None:
    client_id, credential = cert_app
    pfx = pkcs12.serialize_key_and_certificates(
        b"cli", credential.key, credential.certificate, None, serialization.BestAvailableEncryption(b"pw")
    )
    (tmp_path / "k.pfx").write_bytes(pfx)
    env = environment(
        server,
        client_id,
        AZURE_CLIENT_CERTIFICATE_PATH=str(tmp_path / "k.pfx"),
        AZURE_CLIENT_CERTIFICATE_PASSWORD="pw",
    )
    assert run(tmp_path, "whoami", env=env).returncode == 0
    wrong = run(tmp_path, "whoami", env={**env, "AZURE_CLIENT_CERTIFICATE_PASSWORD": "nope"})
    assert wrong.returncode == 2
    assert "cannot use the certificate" in wrong.stderr


def test_token_with_certificate_flag(
    server: Server, tmp_path: Path, cert_app: tuple[str, CertificateCredential]
) -> None:
    client_id, credential = cert_app
    env = environment(server, client_id)
    path = pem_file(credential, tmp_path / "k.pem")
    result = run(tmp_path, "token", "--certificate", str(path), "--json", env=env)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(json.loads(result.stdout)["access_token"], options={"verify_signature": False})
    assert (claims["appid"], claims["appidacr"]) == (client_id, "2")  # 2: a certificate authenticated the app


def test_doctor_with_a_certificate_and_with_an_unregistered_one(
    server: Server, tmp_path: Path, cert_app: tuple[str, CertificateCredential]
) -> None:
    client_id, credential = cert_app
    env = environment(server, client_id, AZURE_CLIENT_CERTIFICATE_PATH=str(pem_file(credential, tmp_path / "k.pem")))
    good = run(tmp_path, "doctor", "--json", env=env)
    assert good.returncode == 0, good.stdout + good.stderr
    steps = json.loads(good.stdout)
    assert all(step["ok"] for step in steps)
    assert "certificate" in steps[0]["detail"]
    stranger = pem_file(make_certificate("not registered"), tmp_path / "other.pem")
    bad = run(tmp_path, "doctor", "--certificate", str(stranger), "--json", env=env)
    assert bad.returncode == 1
    failed = json.loads(bad.stdout)[-1]
    assert failed["step"] == "token"
    assert "AADSTS700027" in failed["detail"]
    assert "Upload certificate" in failed["fix"]
    assert "d365local app cert add" in failed["fix"]
