"""``d365local doctor`` against real servers: every diagnosis comes from a real misconfiguration, not a mock."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import certifi
import pytest

from d365local.clock import FrozenClock
from d365local.identity.admin import DirectoryAdmin
from d365local.identity.secret_hash import SecretHasher
from d365local.store.database import open_database
from tests.e2e.conftest import Server, clean_environment, start_server, stop_server

pytestmark = pytest.mark.e2e

STEPS = ["settings", "org URL", "authority", "tenant", "token", "token claims", "clock", "WhoAmI", "read accounts"]


@dataclass(frozen=True)
class App:
    client_id: str
    secret: str
    secret_id: str


def admin(server: Server, *args: str) -> Any:
    result = server.cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def new_app(server: Server, *, role: str | None = None, app_user: bool = True) -> App:
    """A registered app with a secret and (unless told otherwise) an application user in the default org."""
    app = admin(server, "app", "create", "--tenant", server.tenant_id, "--name", f"doctor-{uuid.uuid4().hex[:6]}")
    secret = admin(server, "app", "secret", "add", "--tenant", server.tenant_id, "--app", app["appId"])
    if app_user:
        admin(
            server, "appuser", "create", "--org", "contoso", "--app", app["appId"], *(("--role", role) if role else ())
        )
    return App(app["appId"], secret["secretText"], secret["keyId"])


def doctor(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, as_json: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``d365local doctor`` as a user would: a subprocess, flags and/or environment variables."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "d365local",
            "doctor",
            *args,
            "--data-dir",
            str(data_dir),
            *(["--json"] if as_json else []),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environment(**(env or {})),
        check=False,
    )


def as_app(server: Server, app: App, *args: str) -> subprocess.CompletedProcess[str]:
    return doctor(server.data_dir, "--client-id", app.client_id, "--client-secret", app.secret, *args)


def checks(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """``--json``: exactly one JSON array of {step, ok, detail, fix} on stdout."""
    document = json.loads(result.stdout)
    assert isinstance(document, list)
    for check in document:
        assert set(check) == {"step", "ok", "detail", "fix"}
        assert isinstance(check["ok"], bool)
        assert isinstance(check["detail"], str)
        assert isinstance(check["fix"], str)
    return document


def stopped_at(result: subprocess.CompletedProcess[str], step: str) -> dict[str, Any]:
    """Exit 1, every step before ``step`` passed, ``step`` failed with a fix, and nothing ran after it."""
    assert result.returncode == 1, result.stdout + result.stderr
    found = checks(result)
    assert found[-1]["step"] == step, found
    assert [c["ok"] for c in found] == [True] * (len(found) - 1) + [False]
    assert found[-1]["fix"]
    assert [c["step"] for c in found] == STEPS[: len(found)]
    return found[-1]


def marks(output: str) -> list[tuple[str, str]]:
    """The human checklist: (✓ or ✗, step) per line."""
    return [(line[0], line[2:].split(":", 1)[0]) for line in output.splitlines() if line[:1] in ("✓", "✗")]


# -- all good ---------------------------------------------------------------------------------------------------------
def test_all_good_is_every_step_ticked_and_exit_0(server: Server) -> None:
    result = doctor(server.data_dir, as_json=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert marks(result.stdout) == [("✓", step) for step in STEPS]
    assert "All 9 checks passed." in result.stdout
    found = checks(doctor(server.data_dir))
    assert [c["ok"] for c in found] == [True] * 9
    claims = found[5]["detail"]
    assert f"aud {server.url}," in claims
    assert f"appid {server.client_id}" in claims
    assert f"tid {server.tenant_id}" in claims


def test_all_good_from_environment_variables_and_the_v1_endpoint(server: Server, tmp_path: Path) -> None:
    env = dict(server.credentials)
    result = doctor(tmp_path, "--endpoint", "v1", env=env)
    assert result.returncode == 0, result.stdout
    assert f"/{server.tenant_id}/oauth2/token (resource {server.url}" in checks(result)[4]["detail"]


# -- before any request -----------------------------------------------------------------------------------------------
def test_missing_settings(server: Server, tmp_path: Path) -> None:
    result = doctor(tmp_path, as_json=False)
    assert result.returncode == 1
    assert marks(result.stdout) == [("✗", "settings")]
    assert "missing --tenant / AZURE_TENANT_ID" in result.stdout
    env = {k: server.credentials[k] for k in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")}
    found = stopped_at(doctor(tmp_path, env=env), "settings")
    assert found["detail"] == "missing --url / DATAVERSE_URL"


@pytest.mark.parametrize(
    ("suffix", "words"),
    [("/api/data/v9.2", "has a path (/api/data/v9.2)"), ("/main.aspx?appid=1", "has a path (/main.aspx)")],
)
def test_org_url_with_a_path(server: Server, suffix: str, words: str) -> None:
    found = stopped_at(doctor(server.data_dir, "--url", server.url + suffix), "org URL")
    assert words in found["detail"]
    assert f"to {server.url} " in found["fix"]


def test_org_url_over_http(server: Server) -> None:
    found = stopped_at(doctor(server.data_dir, "--url", server.url.replace("https://", "http://")), "org URL")
    assert "uses http://" in found["detail"]


def test_org_url_with_a_trailing_slash_is_fine(server: Server) -> None:
    assert doctor(server.data_dir, "--url", server.url + "/").returncode == 0


# -- TLS and reachability ---------------------------------------------------------------------------------------------
def test_tls_trust_without_the_local_ca(server: Server, tmp_path: Path) -> None:
    env = {k: v for k, v in server.credentials.items() if not k.endswith("_BUNDLE") and k != "SSL_CERT_FILE"}
    result = doctor(tmp_path, env=env | {"REQUESTS_CA_BUNDLE": certifi.where()})
    found = stopped_at(result, "authority")
    assert found["detail"].startswith(f"TLS: the certificate of {server.url} is not trusted")
    assert "CERTIFICATE_VERIFY_FAILED" in found["detail"]
    assert f"REQUESTS_CA_BUNDLE={certifi.where()}" in found["fix"]
    assert "`d365local ca`" in found["fix"]
    assert "set -a; . .d365local/credentials.env" in found["fix"]


def test_nothing_listening(server: Server) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    found = stopped_at(doctor(server.data_dir, "--authority", f"https://localhost:{port}"), "authority")
    assert "refused" in found["detail"]
    assert "`d365local serve`" in found["fix"]


# -- Entra ID ---------------------------------------------------------------------------------------------------------
def test_unknown_tenant(server: Server) -> None:
    tenant = str(uuid.uuid4())
    found = stopped_at(doctor(server.data_dir, "--tenant", tenant), "tenant")
    assert f"AADSTS90002: Tenant '{tenant}' not found" in found["detail"]
    assert "`d365local tenant list`" in found["fix"]


def test_app_not_in_the_tenant(server: Server) -> None:
    found = stopped_at(doctor(server.data_dir, "--client-id", str(uuid.uuid4())), "token")
    assert "AADSTS700016" in found["detail"]
    assert f"`d365local app list --tenant {server.tenant_id}`" in found["fix"]


def test_wrong_secret(server: Server) -> None:
    found = stopped_at(doctor(server.data_dir, "--client-secret", "abc8Q~not-the-right-secret-at-all-000000"), "token")
    assert "the client secret is wrong: AADSTS7000215" in found["detail"]
    assert "GUID" not in found["detail"]


def test_the_secret_id_instead_of_its_value(server: Server) -> None:
    app = new_app(server, app_user=False)
    found = stopped_at(as_app(server, App(app.client_id, app.secret_id, "")), "token")
    assert "AADSTS7000215" in found["detail"]
    assert "it is a GUID: that is the secret's ID, not its value" in found["detail"]
    assert f"`d365local app secret add --tenant {server.tenant_id} --app {app.client_id}`" in found["fix"]


def test_expired_secret(server: Server) -> None:
    app = new_app(server, app_user=False)
    database = open_database(server.data_dir, None)
    try:  # a secret created two hours ago that lived one hour, by the same use case `app secret add` runs
        hasher = SecretHasher(database.settings.secret_hash_key())
        past = DirectoryAdmin(database.directory, hasher, FrozenClock(time.time() - 7200))
        expired = past.add_secret(server.tenant_id, app.client_id, description="expired", lifetime_seconds=3600)
    finally:
        database.close()
    found = stopped_at(as_app(server, App(app.client_id, expired.value, "")), "token")
    assert "has expired: AADSTS7000222" in found["detail"]
    assert "New client secret" in found["fix"]


def test_disabled_app(server: Server) -> None:
    app = new_app(server, app_user=False)
    admin(server, "app", "disable", "--tenant", server.tenant_id, "--app", app.client_id)
    found = stopped_at(as_app(server, app), "token")
    assert "AADSTS7000112" in found["detail"]
    assert f"`d365local app enable --tenant {server.tenant_id} --app {app.client_id}`" in found["fix"]


def test_resource_in_another_region(server: Server) -> None:
    found = stopped_at(doctor(server.data_dir, "--url", "https://contoso.crm.dynamics.com"), "token")
    assert (
        "AADSTS500011: The resource principal named https://contoso.crm.dynamics.com was not found" in found["detail"]
    )
    assert "'contoso' is the environment name and 'crm' the region (North America)" in found["fix"]
    assert "crm4" in found["fix"]
    assert "Power Platform admin center" in found["fix"]
    assert "`d365local org list`" in found["fix"]


def test_json_body_like_the_blog(server: Server) -> None:
    result = doctor(server.data_dir, "--body", "json", "--endpoint", "v1", as_json=False)
    assert result.returncode == 1
    assert marks(result.stdout)[-2:] == [("✓", "tenant"), ("✗", "token")]
    assert "AADSTS900144" in result.stdout
    assert "application/x-www-form-urlencoded" in result.stdout
    found = stopped_at(doctor(server.data_dir, "--body", "json"), "token")
    assert "sent as JSON" in found["detail"]


@pytest.fixture(scope="module")
def skewed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("doctor-skewed"), "--clock-skew", "900")
    yield running
    stop_server(running)


def test_clock_skew(skewed: Server) -> None:
    found = stopped_at(doctor(skewed.data_dir), "clock")
    assert "the issuer's clock is" in found["detail"]
    assert "s ahead of this machine's" in found["detail"]
    assert 880 < int(found["detail"].split(" is ")[1].split(" s ")[0]) < 920
    assert "NTP" in found["fix"]
    assert "serve --clock-skew" in found["fix"]


# -- Dataverse --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def foreign(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose Web API trusts the session server's keys, not its own token service's."""
    running = start_server(tmp_path_factory.mktemp("doctor-foreign"), "--authority", server.url)
    yield running
    stop_server(running)


def test_token_the_web_api_does_not_trust_is_401(foreign: Server) -> None:
    result = doctor(foreign.data_dir, as_json=False)
    assert result.returncode == 1
    assert marks(result.stdout)[-2:] == [("✓", "clock"), ("✗", "WhoAmI")]
    found = stopped_at(doctor(foreign.data_dir), "WhoAmI")
    assert found["detail"].startswith("HTTP 401: the Web API refused the token: ")
    assert "serve --authority URL" in found["fix"]


def test_no_application_user(server: Server) -> None:
    app = new_app(server, app_user=False)
    found = stopped_at(as_app(server, app), "WhoAmI")
    assert "0x80072560" in found["detail"]
    assert "Application users → New app user" in found["fix"]
    command = f"`d365local appuser create --org {server.url} --app {app.client_id} --role 'System Administrator'`"
    assert command in found["fix"]


def test_disabled_application_user(server: Server) -> None:
    app = new_app(server, role="System Administrator")
    admin(server, "appuser", "disable", "--org", "contoso", "--app", app.client_id)
    found = stopped_at(as_app(server, app), "WhoAmI")
    assert "0x80040225" in found["detail"]
    assert "is disabled" in found["detail"]
    assert f"`d365local appuser enable --org {server.url} --app {app.client_id}`" in found["fix"]


def test_application_user_without_a_role(server: Server) -> None:
    app = new_app(server)
    found = stopped_at(as_app(server, app), "WhoAmI")
    assert "0x80042f09" in found["detail"]
    assert "no security role" in found["detail"]
    command = f"`d365local role assign --org {server.url} --app {app.client_id} --role 'System Administrator'`"
    assert command in found["fix"]


def test_role_without_the_read_privilege(server: Server) -> None:
    role = f"Contacts only {uuid.uuid4().hex[:6]}"
    admin(server, "role", "create", "--org", "contoso", "--name", role, "--privilege", "prvReadContact:Global")
    app = new_app(server, role=role)
    result = as_app(server, app)
    found = stopped_at(result, "read accounts")
    assert "0x80040220" in found["detail"]
    assert "lack prvReadAccount" in found["detail"]
    assert "--privilege prvReadAccount:Global" in found["fix"]
    assert as_app(server, app, "--entity-set", "contacts").returncode == 0
