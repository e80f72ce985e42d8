"""The Web API commands against a real server: whoami, query (pages and export), get, create, update, delete."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from d365local.cli.records import _export
from d365local.cli.webapi_session import dataverse_message
from d365local.client import ClientSecret, DataverseApiError, TokenProvider, WebApiClient
from d365local.client.token_provider import default_verify
from tests.e2e.conftest import Server, clean_environment

pytestmark = pytest.mark.e2e


def run(server: Server, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``d365local ARGS --data-dir`` with a clean environment plus ``env`` (which wins over credentials.env)."""
    return subprocess.run(
        [sys.executable, "-m", "d365local", *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environment(**env),
        input=stdin,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def document(result: subprocess.CompletedProcess[str]) -> Any:
    """The one JSON document on stdout (json.loads refuses anything after it)."""
    return json.loads(ok(result).stdout)


def admin(server: Server, *args: str) -> Any:
    result = ok(server.cli(*args, "--json"))
    return json.loads(result.stdout) if result.stdout.strip() else None


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_whoami_table_and_json(server: Server) -> None:
    table = ok(server.cli("whoami"))
    assert "WhoAmI" in table.stdout
    assert "UserId" in table.stdout
    body = document(server.cli("whoami", "--json"))
    assert set(body) == {"@odata.context", "BusinessUnitId", "UserId", "OrganizationId"}
    assert body["@odata.context"].startswith(f"{server.url}/api/data/v9.2/$metadata#")
    assert document(server.cli("--json", "whoami", "--url", server.url)) == body  # --json before the command too


def test_create_get_update_query_delete(server: Server) -> None:
    name = unique("Lifecycle")
    number = uuid.uuid4().hex[:12]
    created = ok(server.cli("create", "accounts", "--set", f"name={name}", "--set", f"accountnumber={number}"))
    record_id = created.stdout.strip()
    assert uuid.UUID(record_id)

    shown = ok(server.cli("get", "accounts", record_id, "--select", "name,accountnumber"))
    assert name in shown.stdout
    assert number in shown.stdout
    by_key = document(server.cli("get", "accounts", f"accountnumber='{number}'", "--json", "--select", "name"))
    assert by_key["accountid"] == record_id
    assert by_key["name"] == name

    updated = document(server.cli("update", "accounts", record_id, "--data", '{"numberofemployees": 7}', "--json"))
    assert updated == {"id": record_id, "entitySet": "accounts", "operation": "update"}
    ok(server.cli("update", "accounts", record_id, "--set", f"name={name} Ltd"))
    row = document(server.cli("get", "accounts", record_id, "--json"))
    assert (row["name"], row["numberofemployees"]) == (f"{name} Ltd", 7)

    second = document(server.cli("create", "accounts", "--data", json.dumps({"name": f"{name} B"}), "--json"))
    assert set(second) == {"id", "entitySet", "url"}
    assert second["url"] == f"{server.url}/api/data/v9.2/accounts({second['id']})"

    options = ["--filter", f"startswith(name,'{name}')", "--select", "name,numberofemployees", "--orderby", "name desc"]
    rows = document(server.cli("query", "accounts", *options, "--json"))
    assert [r["name"] for r in rows] == [f"{name} Ltd", f"{name} B"]
    assert rows[0]["accountid"] == record_id
    assert [r["name"] for r in document(server.cli("query", "accounts", *options, "--top", "1", "--json"))] == [
        f"{name} Ltd"
    ]
    table = ok(server.cli("query", "accounts", *options, "--top", "1")).stdout
    assert "numberofemployees" in table
    assert f"{name} Ltd" in table
    assert f"{name} B" not in table

    deleted = document(server.cli("delete", "accounts", second["id"], "--json"))
    assert deleted == {"id": second["id"], "entitySet": "accounts", "deleted": True}
    ok(server.cli("delete", "accounts", record_id))
    gone = server.cli("get", "accounts", record_id)
    assert gone.returncode == 1
    assert "0x80040217" in gone.stderr
    assert gone.stdout == ""
    missing = server.cli("update", "accounts", record_id, "--set", "name=x")  # If-Match: * → no silent create
    assert "0x80040217" in missing.stderr


def test_upsert_creates_then_updates(server: Server) -> None:
    record_id = str(uuid.uuid4())
    ok(server.cli("update", "accounts", record_id, "--upsert", "--set", "name=Upserted"))
    ok(server.cli("update", "accounts", record_id, "--upsert", "--set", "name=Upserted twice"))
    assert document(server.cli("get", "accounts", record_id, "--json"))["name"] == "Upserted twice"
    ok(server.cli("delete", "accounts", record_id))


def test_set_values_are_json_when_they_parse(server: Server) -> None:
    created = document(
        server.cli(
            "create",
            "accounts",
            "--data",
            '{"name": "overridden", "description": "from --data"}',
            "--set",
            'name="007"',  # quoted: the text 007
            "--set",
            "numberofemployees=42",
            "--set",
            "revenue=12.5",
            "--set",
            "creditonhold=true",
            "--set",
            "telephone1=null",
            "--set",
            "websiteurl=https://example.com/a=b",
            "--json",
        )
    )
    row = document(server.cli("get", "accounts", created["id"], "--json"))
    assert row["name"] == "007"
    assert row["description"] == "from --data"
    assert row["numberofemployees"] == 42
    assert row["revenue"] == 12.5
    assert row["creditonhold"] is True
    assert row["telephone1"] is None
    assert row["websiteurl"] == "https://example.com/a=b"
    ok(server.cli("delete", "accounts", created["id"]))


def test_data_from_a_file_and_stdin(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text(json.dumps({"name": "From a file"}), encoding="utf-8")
    from_file = document(server.cli("create", "accounts", "--data", f"@{path}", "--json"))
    from_stdin = document(run(server, "create", "accounts", "--data", "-", "--json", stdin='{"name": "From stdin"}'))
    assert document(server.cli("get", "accounts", from_file["id"], "--json"))["name"] == "From a file"
    assert document(server.cli("get", "accounts", from_stdin["id"], "--json"))["name"] == "From stdin"
    for created in (from_file, from_stdin):
        ok(server.cli("delete", "accounts", created["id"]))


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--data", '{"name": '], "not valid JSON"),
        (["--data", "[1, 2]"], "must be a JSON object"),
        (["--data", '{"revenue": NaN}'], "not valid JSON"),
        (["--data", "@/nonexistent/account.json"], "cannot read"),
        (["--set", "name"], "is not NAME=VALUE"),
        ([], "--data"),
    ],
)
def test_malformed_data_is_a_usage_error(server: Server, args: list[str], problem: str) -> None:
    result = server.cli("create", "accounts", *args, "--json")
    assert result.returncode == 2
    assert problem in result.stderr
    assert result.stdout == ""


@pytest.fixture(scope="module")
def thirty_accounts(server: Server) -> Iterator[str]:
    """30 accounts whose names share a unique prefix (made with the client library: quicker than 30 CLI runs)."""
    prefix = unique("Export")
    credential = ClientSecret(server.client_secret)
    verify = default_verify({"REQUESTS_CA_BUNDLE": server.ca_bundle})
    with (
        TokenProvider(server.tenant_id, server.client_id, credential, authority=server.url, verify=verify) as provider,
        WebApiClient(server.url, provider, verify=verify) as client,
    ):
        ids = [client.create("accounts", {"name": f"{prefix}-{n:02}", "numberofemployees": n}) for n in range(30)]
        yield prefix
        for record_id in ids:
            client.delete("accounts", record_id)


def test_query_shows_the_first_page_only(server: Server, thirty_accounts: str) -> None:
    rows = ["query", "accounts", "--filter", f"startswith(name,'{thirty_accounts}')", "--page-size", "10"]
    first = run(server, *rows, "--json")
    assert len(document(first)) == 10
    assert first.stderr == ""  # hints are for people: never with --json
    assert "--all" in ok(run(server, *rows)).stderr
    assert len(document(run(server, *rows, "--all", "--json"))) == 30


def test_query_all_out_streams_every_page_to_a_file(server: Server, thirty_accounts: str, tmp_path: Path) -> None:
    out = tmp_path / "accounts.jsonl"
    result = server.cli(
        "query",
        "accounts",
        "--filter",
        f"startswith(name,'{thirty_accounts}')",
        "--select",
        "name,numberofemployees",
        "--orderby",
        "numberofemployees",
        "--all",
        "--out",
        str(out),
        "--page-size",
        "10",
        "--json",
    )
    summary = document(result)
    assert summary == {"entitySet": "accounts", "records": 30, "file": str(out)}
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["numberofemployees"] for line in lines] == list(range(30))
    assert all(json.loads(line)["name"].startswith(thirty_accounts) for line in lines)
    assert list(tmp_path.iterdir()) == [out]  # no accounts.jsonl.part left behind
    assert "30/30" in result.stderr  # the progress bar knew the total from $count

    human = ok(server.cli("query", "accounts", "--filter", f"startswith(name,'{thirty_accounts}')", "--out", str(out)))
    assert f"Wrote 30 records of accounts to {out}" in human.stdout


def test_an_interrupted_export_keeps_the_old_file_and_leaves_no_part(tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    out.write_text("previous export\n", encoding="utf-8")

    def failing() -> Iterator[dict[str, Any]]:
        yield {"name": "one"}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _export(failing(), out, "accounts", 2)
    assert out.read_text(encoding="utf-8") == "previous export\n"
    assert list(tmp_path.iterdir()) == [out]
    with pytest.raises(click.ClickException, match="cannot write"):
        _export(iter([{"name": "one"}]), tmp_path / "missing-dir" / "export.jsonl", "accounts", 1)


def test_whoami_names_the_missing_application_user(server: Server) -> None:
    app = admin(server, "app", "create", "--tenant", server.tenant_id, "--name", unique("no-app-user"))
    secret = admin(server, "app", "secret", "add", "--tenant", server.tenant_id, "--app", app["appId"])
    admin(
        server, "app", "permission", "add", "--tenant", server.tenant_id, "--app", app["appId"],
        "--api", "Dynamics CRM", "--permission", "user_impersonation",
    )  # fmt: skip
    admin(server, "app", "consent", "--tenant", server.tenant_id, "--app", app["appId"])
    result = run(server, "whoami", AZURE_CLIENT_ID=app["appId"], AZURE_CLIENT_SECRET=secret["secretText"])
    assert result.returncode == 1
    assert "0x80072560" in result.stderr
    assert "hint: The app has no application user" in result.stderr
    assert "d365local appuser create" in result.stderr
    assert result.stdout == ""


def test_whoami_with_a_wrong_secret_names_the_aadsts_code(server: Server) -> None:
    result = run(server, "whoami", "--json", AZURE_CLIENT_SECRET="not-the-secret-value")
    assert result.returncode == 1
    assert "AADSTS7000215" in result.stderr
    assert "hint: Send the secret's Value" in result.stderr
    assert result.stdout == ""


def test_missing_settings_are_named(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "d365local", "query", "accounts", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environment(),
        check=False,
    )
    assert result.returncode == 2
    assert "DATAVERSE_URL" in result.stderr
    assert "AZURE_CLIENT_SECRET" in result.stderr


def test_a_refused_token_shows_the_reason_and_a_hint() -> None:
    refused = DataverseApiError(401, "", "The token is expired", auth_error="The token is expired")
    message = dataverse_message(refused)
    assert message.startswith("HTTP 401: the Web API refused the token: The token is expired")
    assert "\nhint: The Web API did not accept the token" in message
    forbidden = dataverse_message(DataverseApiError(403, "0x80042f09", "no roles are assigned to user"))
    assert forbidden.startswith("HTTP 403 0x80042f09: no roles are assigned to user\nhint: ")


def test_formatted_values_in_tables_and_json(server: Server) -> None:
    name = unique("Formatted")
    record_id = ok(server.cli("create", "accounts", "--set", f"name={name}", "--set", "revenue=1250000")).stdout.strip()
    table = ok(server.cli("get", "accounts", record_id, "--select", "name,statecode,revenue", "--formatted")).stdout
    assert "Active" in table  # statecode 0 as Dynamics 365 shows it
    assert "$1,250,000.00" in table
    raw = ok(server.cli("get", "accounts", record_id, "--select", "statecode")).stdout
    assert "Active" not in raw
    rows = document(
        server.cli(
            "query", "accounts", "--filter", f"name eq '{name}'", "--select", "statecode", "--formatted", "--json"
        )
    )
    assert rows[0]["statecode@OData.Community.Display.V1.FormattedValue"] == "Active"
    listed = ok(
        server.cli("query", "accounts", "--filter", f"name eq '{name}'", "--select", "statecode", "--formatted")
    )
    assert "Active" in listed.stdout
