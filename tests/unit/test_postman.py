"""The Postman collection builder and the ``postman`` command, without a server: schema, variables, token
request, scripts, and what the command writes where."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs shipped
import pytest
from click.testing import CliRunner

from d365local.cli import cli
from d365local.postman import (
    COLLECTION_SCHEMA,
    VARIABLE_NAMES,
    PostmanValues,
    build_collection,
    build_environment,
    is_microsoft_cloud,
)

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "postman-collection-v2.1.0.schema.json").read_text("utf-8"))
TENANT = "8f2b1c3d-0000-4000-8000-000000000001"
CLIENT = "5a1e7b9c-0000-4000-8000-000000000002"
SECRET = "s3cret~Value.With-Characters_That+Need%Encoding"
LOCAL = PostmanValues(TENANT, CLIENT, SECRET, "https://localhost:5443/", "https://localhost:5443/")
CLOUD = PostmanValues(TENANT, CLIENT, SECRET, "https://login.microsoftonline.com", "https://contoso.crm.dynamics.com")


def requests_by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        found |= requests_by_name(item["item"]) if "item" in item else {item["name"]: item}
    return found


def script(item: dict[str, Any], listen: str) -> str:
    return "\n".join(line for e in item["event"] if e["listen"] == listen for line in e["script"]["exec"])


def headers(item: dict[str, Any]) -> dict[str, str]:
    return {h["key"]: h["value"] for h in item["request"]["header"]}


@pytest.mark.parametrize("values", [LOCAL, CLOUD], ids=["d365local", "real-cloud"])
def test_collection_validates_against_the_v2_1_0_schema(values: PostmanValues) -> None:
    collection = build_collection(values)
    jsonschema.Draft7Validator(SCHEMA).validate(collection)
    assert collection["info"]["schema"] == COLLECTION_SCHEMA


def test_the_schema_is_strict_enough_to_catch_a_broken_collection() -> None:
    collection = build_collection(LOCAL)
    del collection["item"][1]["request"]["header"][0]["value"]  # a header needs key and value
    assert not jsonschema.Draft7Validator(SCHEMA).is_valid(collection)


def test_variables_hold_the_values_without_trailing_slashes() -> None:
    variables = {v["key"]: v["value"] for v in build_collection(LOCAL)["variable"]}
    assert tuple(variables) == VARIABLE_NAMES
    assert variables == {
        "tenantId": TENANT,
        "clientId": CLIENT,
        "clientSecret": SECRET,
        "authority": "https://localhost:5443",
        "orgUrl": "https://localhost:5443",
        "webApiUrl": "{{orgUrl}}/api/data/v9.2",
        "accessToken": "",
        "accessTokenExpiresOn": "",
        "accountId": "",
    }


def test_token_requests_post_a_form_to_the_v1_and_v2_endpoints() -> None:
    requests = requests_by_name(build_collection(CLOUD)["item"])
    v1, v2 = requests["Get token (v1 endpoint, resource)"], requests["Get token (v2 endpoint, scope)"]
    for item, path, target in ((v1, "oauth2/token", "resource"), (v2, "oauth2/v2.0/token", "scope")):
        request = item["request"]
        assert request["method"] == "POST"
        assert request["url"]["raw"] == "{{authority}}/{{tenantId}}/" + path
        assert request["body"]["mode"] == "urlencoded"
        assert [p["key"] for p in request["body"]["urlencoded"]] == ["client_id", "client_secret", target, "grant_type"]
        assert headers(item)["Content-Type"] == "application/x-www-form-urlencoded"
        assert "application/json" not in headers(item)["Content-Type"]
    form_v1 = {p["key"]: p["value"] for p in v1["request"]["body"]["urlencoded"]}
    form_v2 = {p["key"]: p["value"] for p in v2["request"]["body"]["urlencoded"]}
    assert form_v1 == {
        "client_id": "{{clientId}}",
        "client_secret": "{{clientSecret}}",
        "resource": "{{orgUrl}}",
        "grant_type": "client_credentials",
    }
    assert form_v2["scope"] == "{{orgUrl}}/.default"


def test_token_test_script_keeps_the_token_and_its_expiry() -> None:
    requests = requests_by_name(build_collection(LOCAL)["item"])
    source = script(requests["Get token (v1 endpoint, resource)"], "test")
    assert "store('accessToken', body.access_token)" in source
    assert "Date.now() + Number(body.expires_in) * 1000" in source
    assert "pm.environment.set(name, value)" in source
    assert "pm.collectionVariables.set(name, value)" in source


def test_collection_pre_request_script_refreshes_within_five_minutes_with_a_form_body() -> None:
    collection = build_collection(LOCAL)
    (event,) = collection["event"]
    assert event["listen"] == "prerequest"
    source = "\n".join(event["script"]["exec"])
    assert "pm.sendRequest(" in source
    assert "mode: 'urlencoded'" in source
    assert "5 * 60 * 1000" in source
    assert "{{authority}}/{{tenantId}}/oauth2/v2.0/token" in source
    assert "indexOf('/oauth2/')" in source  # the token requests are not preceded by another token request


def test_web_api_requests_send_the_bearer_token_and_odata_headers() -> None:
    requests = requests_by_name(build_collection(LOCAL)["item"])
    assert list(requests) == [
        "Get token (v1 endpoint, resource)",
        "Get token (v2 endpoint, scope)",
        "2. WhoAmI",
        "Create account",
        "Retrieve account",
        "Update account",
        "Delete account",
        "Retrieve deleted account (404)",
    ]
    for name in list(requests)[2:]:
        sent = headers(requests[name])
        assert sent["Authorization"] == "Bearer {{accessToken}}"
        assert sent["OData-MaxVersion"] == sent["OData-Version"] == "4.0"
        assert requests[name]["request"]["url"]["raw"].startswith("{{webApiUrl}}/")
    assert requests["2. WhoAmI"]["request"]["url"]["raw"] == "{{webApiUrl}}/WhoAmI"
    assert headers(requests["Create account"])["Prefer"] == "return=representation"
    assert "OData-EntityId" in script(requests["Create account"], "test")
    assert headers(requests["Update account"])["If-Match"] == "*"
    assert requests["Update account"]["request"]["method"] == "PATCH"
    assert requests["Delete account"]["request"]["method"] == "DELETE"
    assert requests["Retrieve account"]["request"]["url"]["query"] == [{"key": "$select", "value": "name,telephone1"}]


def test_no_secret_leaves_the_secret_out_of_both_files() -> None:
    shared = PostmanValues(TENANT, CLIENT, "", LOCAL.authority, LOCAL.org_url)
    collection, environment = build_collection(shared), build_environment(shared)
    assert {v["key"]: v["value"] for v in collection["variable"]}["clientSecret"] == ""
    assert {v["key"]: v["value"] for v in environment["values"]}["clientSecret"] == ""
    assert SECRET not in json.dumps(collection) + json.dumps(environment)
    jsonschema.Draft7Validator(SCHEMA).validate(collection)


def test_environment_has_the_same_values_and_masks_secrets() -> None:
    environment = build_environment(LOCAL)
    assert environment["_postman_variable_scope"] == "environment"
    assert {v["key"]: v["value"] for v in environment["values"]} == {
        v["key"]: v["value"] for v in build_collection(LOCAL)["variable"]
    }
    secret = {v["key"] for v in environment["values"] if v["type"] == "secret"}
    assert secret == {"clientSecret", "accessToken"}


def test_microsoft_cloud_hosts() -> None:
    assert is_microsoft_cloud("https://login.microsoftonline.com")
    assert is_microsoft_cloud("https://LOGIN.microsoftonline.us/")
    assert is_microsoft_cloud("https://login.chinacloudapi.cn")
    assert not is_microsoft_cloud("https://localhost:5443")
    assert not is_microsoft_cloud("https://127.0.0.1:5443")
    assert not is_microsoft_cloud("https://login.microsoftonline.com.evil.example")


# --- the command ------------------------------------------------------------------------------------------------


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """No AZURE_* / DATAVERSE_URL from the caller's environment: the flags say everything."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "DATAVERSE_", "D365LOCAL_")):
            monkeypatch.delenv(name)
    return CliRunner()


def flags(authority: str = "https://localhost:5443", url: str = "https://localhost:5443") -> list[str]:
    return [
        "--tenant",
        TENANT,
        "--client-id",
        CLIENT,
        "--client-secret",
        SECRET,
        "--authority",
        authority,
        "--url",
        url,
    ]


def test_command_writes_json_only_to_stdout(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["postman", "--data-dir", str(tmp_path), *flags()])
    assert result.exit_code == 0, result.output
    collection = json.loads(result.stdout)
    jsonschema.Draft7Validator(SCHEMA).validate(collection)
    assert "to stdout: 8 requests" in result.stderr
    assert str((tmp_path / "tls" / "ca.pem").resolve()) in result.stderr.replace("\n", "")
    assert "SSL certificate verification" in result.stderr


def test_command_writes_files_and_keeps_a_secret_private(runner: CliRunner, tmp_path: Path) -> None:
    out, environment_out = tmp_path / "c.json", tmp_path / "e.json"
    args = [
        "postman",
        "--data-dir",
        str(tmp_path),
        *flags(),
        "--out",
        str(out),
        "--environment-out",
        str(environment_out),
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert json.loads(out.read_text())["variable"][2] == {"key": "clientSecret", "value": SECRET, "type": "string"}
    assert json.loads(environment_out.read_text())["values"][0]["value"] == TENANT
    assert stat.S_IMODE(out.stat().st_mode) == stat.S_IMODE(environment_out.stat().st_mode) == 0o600
    assert f"to {out}" in result.stderr
    assert "--no-secret" in result.stderr


def test_command_json_summary_and_no_ca_step_for_the_real_cloud(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    cloud = flags("https://login.microsoftonline.com", "https://contoso.crm.dynamics.com/")
    result = runner.invoke(
        cli, ["postman", "--data-dir", str(tmp_path), *cloud, "--no-secret", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {
        "collection": str(out),
        "environment": None,
        "requests": 8,
        "variables": list(VARIABLE_NAMES),
        "includesSecret": False,
        "caCertificate": None,
    }
    assert SECRET not in out.read_text()
    assert "CA certificates" not in result.stderr
    variables = {v["key"]: v["value"] for v in json.loads(out.read_text())["variable"]}
    assert variables["orgUrl"] == "https://contoso.crm.dynamics.com"


def test_command_reads_credentials_env_and_names_what_is_missing(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["postman", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "missing --tenant, --client-id, --client-secret, --url" in result.stderr

    (tmp_path / "credentials.env").write_text(
        f"AZURE_TENANT_ID={TENANT}\nAZURE_CLIENT_ID={CLIENT}\nAZURE_CLIENT_SECRET={SECRET}\n"
        "AZURE_AUTHORITY_HOST=https://localhost:6000\nDATAVERSE_URL=https://localhost:6000\n"
    )
    result = runner.invoke(cli, ["postman", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    variables = {v["key"]: v["value"] for v in json.loads(result.stdout)["variable"]}
    assert (variables["tenantId"], variables["clientSecret"], variables["authority"]) == (
        TENANT,
        SECRET,
        "https://localhost:6000",
    )


def test_an_unwritable_out_is_a_clear_error_and_leaves_nothing(runner: CliRunner, tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    result = runner.invoke(cli, ["postman", "--data-dir", str(tmp_path), *flags(), "--out", str(blocked / "c.json")])
    assert result.exit_code == 1
    assert f"cannot write {blocked / 'c.json'}" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file-not-dir"]
