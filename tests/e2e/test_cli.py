"""The command line against a real server: token, env, ca, wait, keys, demo, credentials.env and seeding."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import requests

from tests.e2e.conftest import Server, clean_environment, start_server, stop_server

pytestmark = pytest.mark.e2e


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "d365local", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env or clean_environment(),
        cwd=cwd,
        check=False,
    )


def test_credentials_env_is_private_and_complete(server: Server) -> None:
    path = server.data_dir / "credentials.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = [line.split("=", 1)[0] for line in path.read_text().splitlines()]
    assert keys == [
        "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST", "DATAVERSE_URL",
        "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE",
    ]  # fmt: skip
    assert server.credentials["AZURE_AUTHORITY_HOST"] == server.url
    assert server.credentials["DATAVERSE_URL"] == server.url
    assert '"' not in path.read_text()


def test_token_json_and_decode(server: Server) -> None:
    result = server.cli("token", "--json", "--decode")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["resource"] == server.url
    assert body["decoded"]["claims"]["appid"] == server.client_id
    assert body["decoded"]["header"]["alg"] == "RS256"
    assert 3500 < body["decoded"]["expiresInSeconds"] <= 3600


def test_token_v2_scope(server: Server) -> None:
    result = server.cli("token", "--scope", f"{server.url}/.default", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["expires_in"] == 3599


def test_token_the_seed_way_explains_the_json_mistake(server: Server) -> None:
    result = server.cli("token", "--seed-way")
    assert result.returncode == 1
    assert "AADSTS900144" in result.stderr
    assert "application/x-www-form-urlencoded" in result.stderr


def test_token_errors_carry_the_code_and_a_hint(server: Server) -> None:
    result = server.cli("token", "--resource", "http://localhost:1/")
    assert result.returncode == 1
    assert "AADSTS500011" in result.stderr
    assert "hint:" in result.stderr
    secret = server.cli("token", "--client-secret", "not-the-secret-value")
    assert "AADSTS7000215" in secret.stderr


def test_access_log_never_shows_secrets(server: Server) -> None:
    server.logged(timeout=0.3)
    form = {"grant_type": "client_credentials", "client_id": server.client_id, "client_secret": server.client_secret}
    url = f"{server.url}/{server.tenant_id}/oauth2/token"
    requests.post(url, data=form | {"resource": server.url}, verify=server.ca_bundle, timeout=10)
    requests.get(url, params={"client_secret": server.client_secret}, verify=server.ca_bundle, timeout=10)
    logged = server.logged()
    assert f"POST /{server.tenant_id}/oauth2/token 200" in logged
    assert f"GET /{server.tenant_id}/oauth2/token 400" in logged
    assert server.client_secret not in logged
    assert "client_secret" not in logged


def test_env_shells_and_ca(server: Server) -> None:
    bash = server.cli("env")
    assert f"export AZURE_CLIENT_ID='{server.client_id}'" in bash.stdout
    pwsh = server.cli("env", "--shell", "pwsh")
    assert f"$env:AZURE_TENANT_ID = '{server.tenant_id}'" in pwsh.stdout
    pem = server.cli("ca")
    assert pem.stdout.startswith("-----BEGIN CERTIFICATE-----")
    der = subprocess.run(
        [sys.executable, "-m", "d365local", "ca", "--der", "--data-dir", str(server.data_dir)],
        capture_output=True,
        timeout=60,
        env=clean_environment(),
        check=True,
    )
    assert der.stdout[:1] == b"\x30"


def test_wait(server: Server) -> None:
    assert server.cli("wait", "--timeout", "5").returncode == 0
    down = run("wait", "--timeout", "0.5", "--url", "https://localhost:1")
    assert down.returncode == 1


def test_admin_changes_reach_the_running_server(server: Server) -> None:
    form = {"grant_type": "client_credentials", "client_id": server.client_id, "resource": server.url}
    url = f"{server.url}/{server.tenant_id}/oauth2/token"
    added = json.loads(
        server.cli("app", "secret", "add", "--tenant", server.tenant_id, "--app", server.client_id, "--json").stdout
    )
    ok = requests.post(url, data=form | {"client_secret": added["secretText"]}, verify=server.ca_bundle, timeout=10)
    assert ok.status_code == 200
    listed = json.loads(
        server.cli("app", "secret", "list", "--tenant", server.tenant_id, "--app", server.client_id, "--json").stdout
    )
    assert all("secretText" not in s for s in listed)
    removed = server.cli(
        "app", "secret", "remove", "--tenant", server.tenant_id, "--app", server.client_id, "--key-id", added["keyId"]
    )
    assert removed.returncode == 0, removed.stderr
    refused = requests.post(
        url, data=form | {"client_secret": added["secretText"]}, verify=server.ca_bundle, timeout=10
    )
    assert refused.json()["error_codes"] == [7000215]
    # A token issued before the removal stays valid: it is a signed JWT, checked against the published keys.
    claims = jwt.decode(ok.json()["access_token"], options={"verify_signature": False})
    assert claims["appid"] == server.client_id


def test_keys_rotate_publishes_both(server: Server) -> None:
    before = requests.get(f"{server.url}/common/discovery/keys", verify=server.ca_bundle, timeout=10).json()["keys"]
    rotated = json.loads(server.cli("keys", "rotate", "--json").stdout)
    after = requests.get(f"{server.url}/common/discovery/keys", verify=server.ca_bundle, timeout=10).json()["keys"]
    assert {k["kid"] for k in after} == {k["kid"] for k in before} | {rotated["kid"]}
    token = json.loads(server.cli("token", "--json").stdout)["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == rotated["kid"]


def test_json_option_before_and_after_the_command(server: Server) -> None:
    after = server.cli("tenant", "list", "--json")
    before = run("--json", "--data-dir", str(server.data_dir), "tenant", "list")
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert json.loads(after.stdout)[0]["verifiedDomains"][0]["name"] == "contoso.onmicrosoft.com"


def test_demo_runs_whatever_the_environment(tmp_path: Path) -> None:
    hostile = clean_environment(REQUESTS_CA_BUNDLE="/nonexistent.pem", SSL_CERT_FILE="/nonexistent.pem")
    result = run("demo", env=hostile, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "AADSTS900144" in result.stdout
    assert "Decode the access token" in result.stdout
    as_json = run("demo", "--json", env=hostile, cwd=tmp_path)
    steps = json.loads(as_json.stdout)["steps"]
    assert [s["step"] for s in steps] == list(range(1, 15))
    assert steps[-1]["result"]["name"] == "Contoso Ltd"


def test_fixed_credentials_and_restart(tmp_path: Path) -> None:
    """D365LOCAL_* fix the starter's ids and secret (a seed file replaces the starter: test_serve_hardening.py)."""
    env = clean_environment(
        D365LOCAL_TENANT_ID="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        D365LOCAL_CLIENT_ID="bbbbbbbb-cccc-dddd-eeee-ffffffffffff",
        D365LOCAL_CLIENT_SECRET="a-fixed-starter-secret-value",
    )
    data = tmp_path / "data"
    first = start_server(data, env=env)
    try:
        assert first.credentials["AZURE_TENANT_ID"] == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        assert first.credentials["AZURE_CLIENT_ID"] == "bbbbbbbb-cccc-dddd-eeee-ffffffffffff"
        assert first.credentials["AZURE_CLIENT_SECRET"] == "a-fixed-starter-secret-value"
        form = {
            "grant_type": "client_credentials",
            "client_id": "bbbbbbbb-cccc-dddd-eeee-ffffffffffff",
            "client_secret": "a-fixed-starter-secret-value",
            "scope": f"{first.url}/.default",
        }
        response = requests.post(
            f"{first.url}/contoso.onmicrosoft.com/oauth2/v2.0/token", data=form, verify=first.ca_bundle, timeout=10
        )
        assert response.status_code == 200, response.text
    finally:
        stop_server(first)
    # A restart on the same data dir: same starter secret, same keys, nothing seeded twice.
    second = start_server(data, env=env)
    try:
        assert second.credentials["AZURE_CLIENT_SECRET"] == first.credentials["AZURE_CLIENT_SECRET"]
        assert len(json.loads(second.cli("org", "list", "--json").stdout)) == 1
        old_token = response.json()["access_token"]
        keys = requests.get(f"{second.url}/common/discovery/keys", verify=second.ca_bundle, timeout=10).json()["keys"]
        assert jwt.get_unverified_header(old_token)["kid"] in {k["kid"] for k in keys}
    finally:
        stop_server(second)


def test_restart_keeps_the_generated_starter_secret(tmp_path: Path) -> None:
    first = start_server(tmp_path)
    stop_server(first)
    second = start_server(tmp_path)
    try:
        assert second.credentials["AZURE_CLIENT_SECRET"] == first.credentials["AZURE_CLIENT_SECRET"]
        assert second.cli("token").returncode == 0
    finally:
        stop_server(second)


def test_two_workers_share_keys_and_directory(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--workers", "2")
    try:
        kids = set()
        for _ in range(6):
            result = server.cli("token", "--json")
            assert result.returncode == 0, result.stderr
            kids.add(jwt.get_unverified_header(json.loads(result.stdout)["access_token"])["kid"])
        assert len(kids) == 1
    finally:
        stop_server(server)


def test_python_dash_m_and_console_script_agree() -> None:
    module = run("--version")
    script = subprocess.run(
        [str(Path(sys.executable).with_name("d365local")), "--version"], capture_output=True, text=True, check=False
    )
    assert module.stdout == script.stdout
    assert module.stdout.startswith("d365local, version")
    assert os.path.basename(sys.executable).startswith("python")
