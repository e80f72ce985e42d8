"""The command line as a new user meets it: every mistake is one clear line with the fix and a non-zero exit —
never a traceback — and --json output is exactly one JSON document."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from d365local.identity.model import Domain, Tenant
from d365local.store.database import open_database
from tests.e2e.conftest import Server, clean_environment

pytestmark = pytest.mark.e2e


def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "d365local", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environment(**env),
        cwd=cwd,
        check=False,
    )


def failed(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The error text of a command that had to fail cleanly: non-zero exit, no traceback, nothing on stdout."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    return result.stderr


def document(result: subprocess.CompletedProcess[str]) -> Any:
    """The one JSON document on stdout (json.loads refuses anything after it)."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the database and the data directory ---------------------------------------------------------------------------
def test_an_unreachable_postgresql_is_one_line_with_the_fix(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://someone:hunter2@127.0.0.1:{closed_port()}/d365local"
    stderr = failed(run("tenant", "list", "--database-url", url, "--data-dir", str(tmp_path)))
    assert "cannot connect to the database postgresql+psycopg://someone:***@127.0.0.1" in stderr
    assert "Connection refused" in stderr
    assert "--database-url" in stderr
    assert "hunter2" not in stderr


def test_a_corrupt_database_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "d365local.db").write_bytes(b"this is not a SQLite database, just garbage " * 200)
    stderr = failed(run("tenant", "list", "--data-dir", str(tmp_path)))
    assert f"{tmp_path / 'd365local.db'} is not a usable SQLite database" in stderr
    assert "Move it aside" in stderr
    assert [line for line in stderr.splitlines() if not line.startswith("warning:")] == [stderr.splitlines()[-1]]


def test_a_data_dir_under_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    for command in (["tenant", "list"], ["tenant", "create", "Fabrikam"], ["keys", "rotate"]):
        stderr = failed(run(*command, "--data-dir", str(tmp_path / "file" / "data")))
        assert f"{tmp_path / 'file'} is a file, not a directory" in stderr
    assert (tmp_path / "file").read_text() == "not a directory"


@pytest.mark.parametrize("command", [["keys", "list"], ["fault", "list"], ["tenant", "list"], ["org", "list"]])
def test_listing_an_empty_data_dir_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    data = tmp_path / "new"
    assert document(run(*command, "--json", "--data-dir", str(data))) == []
    human = run(*command, "--data-dir", str(data))
    assert human.returncode == 0, human.stderr
    assert not data.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["user", "list", "--tenant", "contoso.onmicrosoft.com"],
        ["app", "list", "--tenant", "contoso.onmicrosoft.com"],
        ["appuser", "list", "--org", "contoso"],
        ["role", "list", "--org", "contoso"],
    ],
)
def test_listing_what_an_empty_data_dir_lacks_is_one_error_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    data = tmp_path / "new"
    stderr = failed(run(*command, "--data-dir", str(data)))
    assert "holds no d365local data yet" in stderr
    assert not data.exists()


def test_keys_list_never_creates_a_signing_key(tmp_path: Path) -> None:
    """A database made by an admin command has no signing key until `serve` (or `keys rotate`) makes one."""
    assert document(run("tenant", "create", "Fabrikam", "--json", "--data-dir", str(tmp_path)))["displayName"]
    assert document(run("keys", "list", "--json", "--data-dir", str(tmp_path))) == []
    assert document(run("keys", "list", "--json", "--data-dir", str(tmp_path))) == []


def test_a_seed_file_with_a_misspelt_key_stops_serve(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "tenants:\n  - name: Fabrikam\n    apps:\n      - name: ci\n        secret: [s3cret-value-123456]\n"
    )
    result = run("serve", "--port", "0", "--data-dir", str(tmp_path / "data"), "--seed-file", str(seed))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "tenants[0].apps[0].secret: unknown key; did you mean 'secrets'?" in result.stderr
    assert "ready at" not in result.stdout + result.stderr


# -- the command tree ----------------------------------------------------------------------------------------------
def test_a_mistyped_command_gets_did_you_mean() -> None:
    stderr = failed(run("tenat", "list"), code=2)
    assert "No such command 'tenat'" in stderr
    assert "Did you mean 'tenant'" in stderr
    assert "Did you mean 'secret'" in failed(run("app", "secrt", "list"), code=2)
    assert "Did you mean 'doctor'?" in failed(run("docter"), code=2)
    assert "Did you mean" not in failed(run("frobnicate"), code=2)


# -- --tenant by display name ----------------------------------------------------------------------------------------
def test_tenant_accepts_a_unique_display_name(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path))
    fabrikam = document(run("tenant", "create", "Fabrikam", "--json", *data))
    app = document(run("app", "create", "--tenant", "Fabrikam", "--name", "ci", "--json", *data))
    assert [a["appId"] for a in document(run("app", "list", "--tenant", "fabrikam", "--json", *data))] == [app["appId"]]
    assert document(
        run("user", "create", "--tenant", "Fabrikam", "--upn", "a@fabrikam.onmicrosoft.com", "--json", *data)
    )
    assert document(run("app", "list", "--tenant", fabrikam["id"], "--json", *data))[0]["appId"] == app["appId"]


def test_an_ambiguous_tenant_name_lists_the_candidates(tmp_path: Path) -> None:
    """`tenant create` derives each tenant's initial domain from its name, so two tenants of one name come only
    from a directory written otherwise (as Entra allows): written here through the store."""
    database = open_database(tmp_path)
    try:
        for number in (1, 2):
            domain = Domain(f"fabrikam{number}.onmicrosoft.com", is_default=True, is_initial=True)
            database.directory.add_tenant(Tenant(f"{number}1111111-2222-3333-4444-555555555555", "Fabrikam", (domain,)))
    finally:
        database.close()
    stderr = failed(run("app", "list", "--tenant", "fabrikam", "--data-dir", str(tmp_path)), code=2)
    assert "--tenant 'fabrikam' matches 2 tenants by display name" in stderr
    assert "11111111-2222-3333-4444-555555555555 (fabrikam1.onmicrosoft.com)" in stderr
    assert "21111111-2222-3333-4444-555555555555 (fabrikam2.onmicrosoft.com)" in stderr
    assert "Pass the tenant's GUID or one of its domains" in stderr
    listed = document(
        run("app", "list", "--tenant", "fabrikam2.onmicrosoft.com", "--json", "--data-dir", str(tmp_path))
    )
    assert listed == []


def test_an_unknown_tenant_name_is_still_entras_error(tmp_path: Path) -> None:
    run("tenant", "create", "Fabrikam", "--data-dir", str(tmp_path))
    stderr = failed(run("app", "list", "--tenant", "Northwind", "--data-dir", str(tmp_path)))
    assert "AADSTS90002" in stderr


# -- one JSON document ------------------------------------------------------------------------------------------------
def test_ca_and_wait_print_one_json_document(server: Server) -> None:
    ca = document(server.cli("ca", "--json"))
    assert ca["pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert Path(ca["file"]).read_text(encoding="ascii") == ca["pem"]
    assert Path(ca["bundle"]).is_file()
    assert server.cli("ca", "--json").stderr == ""
    assert "choose one" in failed(server.cli("ca", "--json", "--der"), code=2)
    waited = server.cli("wait", "--json", "--timeout", "10")
    assert document(waited) == {"url": server.url, "up": True}
    assert waited.stderr == ""


def test_query_json_prints_no_column_hint(server: Server) -> None:
    name = f"Wide-{uuid.uuid4().hex[:8]}"
    fields = {
        "name": name, "accountnumber": "W-1", "telephone1": "555-0100", "emailaddress1": "a@b.example",
        "websiteurl": "https://b.example", "address1_city": "Oslo", "description": "wide", "numberofemployees": 7,
        "revenue": 1000,
    }  # fmt: skip
    created = server.cli("create", "accounts", "--data", json.dumps(fields))
    assert created.returncode == 0, created.stderr
    try:
        query = ["query", "accounts", "--filter", f"name eq '{name}'"]
        as_json = server.cli(*query, "--json")
        assert document(as_json)[0]["telephone1"] == "555-0100"
        assert as_json.stderr == ""
        assert "Showing 8 of" in server.cli(*query).stderr
    finally:
        server.cli("delete", "accounts", created.stdout.strip())


# -- client commands: what went wrong on the way to the server --------------------------------------------------------
def client_environment(server: Server, **extra: str) -> dict[str, str]:
    """The server's credentials as AZURE_* variables, without its CA bundle: certifi's roots only."""
    names = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST", "DATAVERSE_URL")
    return {name: server.credentials[name] for name in names} | extra


@pytest.mark.parametrize("command", [["whoami"], ["token"], ["query", "accounts"]])
def test_an_untrusted_certificate_names_the_ca_to_trust(server: Server, tmp_path: Path, command: list[str]) -> None:
    stderr = failed(run(*command, "--data-dir", str(tmp_path), **client_environment(server)))
    assert "is not trusted" in stderr
    assert "REQUESTS_CA_BUNDLE" in stderr
    assert "credentials.env" in stderr
    assert "Is the server running" not in stderr


def test_http_to_the_https_port_says_use_https(server: Server, tmp_path: Path) -> None:
    plain = server.url.replace("https://", "http://")
    stderr = failed(run("token", "--authority", plain, "--data-dir", str(server.data_dir)))
    assert "speaks HTTPS" in stderr
    assert f"Use {server.url}" in stderr
    waited = failed(run("wait", "--url", plain, "--timeout", "0.5", "--data-dir", str(tmp_path)))
    assert f"Use {server.url}" in waited


def test_an_authority_that_contains_the_tenant_gets_its_own_hint(server: Server, tmp_path: Path) -> None:
    authority = f"{server.url}/{server.tenant_id}"
    stderr = failed(run("token", "--authority", authority, "--data-dir", str(server.data_dir)), code=2)
    assert "already contains the tenant" in stderr
    assert f"is the host only ({server.url})" in stderr
    env = client_environment(server, AZURE_AUTHORITY_HOST=authority)
    assert "already contains the tenant" in failed(run("whoami", "--data-dir", str(server.data_dir), **env), code=2)


def test_a_throttled_call_says_it_waits_and_the_final_error_gives_retry_after(server: Server) -> None:
    throttle = ["fault", "throttle", "--org", "contoso", "--app", server.client_id]
    assert server.cli(*throttle, "--retry-after", "1", "--count", "1").returncode == 0
    waited = server.cli("whoami", "--json")
    assert document(waited)["UserId"]
    assert "HTTP 429: service protection limit (Retry-After: 1 s); waiting" in waited.stderr
    assert "retry 1 of 5" in waited.stderr

    # Longer than the client waits (60 s): not waited out, raised with the seconds the server asked for.
    assert server.cli(*throttle, "--retry-after", "120", "--count", "1").returncode == 0
    stderr = failed(server.cli("whoami"))
    assert "HTTP 429 0x80072322" in stderr
    assert "(Retry-After: 120 s)" in stderr
    assert document(server.cli("fault", "list", "--json")) == []


def test_fresh_server_for_the_missing_tls_ca(tmp_path: Path) -> None:
    """`ca` on a data directory whose server never ran says how to get one, with --json too."""
    stderr = failed(run("ca", "--json", "--data-dir", str(tmp_path)))
    assert "start the server once" in stderr
