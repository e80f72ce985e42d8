"""``d365local postman`` against a real server: the file validates against Postman's schema, and every request,
replayed in order with the collection's own scripts run by node, does what Postman would see."""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]  # no stubs shipped
import pytest

from d365local.tls import TlsFiles
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parents[1] / "data"
SCHEMA = json.loads((DATA / "postman-collection-v2.1.0.schema.json").read_text(encoding="utf-8"))
SANDBOX = DATA / "postman-sandbox.js"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    NODE is None, reason="node is not installed: the collection's JavaScript scripts cannot be executed"
)
_VARIABLE = re.compile(r"\{\{([^{}]+)\}\}")


@dataclass
class Postman:
    """The variable scopes of one Postman session, and a runner for the collection's requests and scripts."""

    collection_document: dict[str, Any]
    ca_file: str
    collection: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] | None = None
    sent_by_scripts: list[dict[str, Any]] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        if self.environment is not None and name in self.environment:
            return self.environment[name]
        return self.collection.get(name)

    def resolve(self, text: str) -> str:
        """``{{name}}`` → value, nested variables too (as Postman does); an unknown name is a test failure."""

        def substitute(match: re.Match[str]) -> str:
            value = self.value(match[1])
            return match[0] if value is None else value

        for _ in range(10):
            replaced = _VARIABLE.sub(substitute, text)
            if replaced == text:
                break
            text = replaced
        assert not _VARIABLE.search(text), f"unresolved variable in {text!r}"
        return text

    def run_script(self, source: list[str], url: str, response: httpx.Response | None) -> list[dict[str, Any]]:
        """Run one script with node; keep the variables it set; return its pm.test results."""
        payload = {
            "script": "\n".join(source),
            "request": {"url": url},
            "response": None
            if response is None
            else {"code": response.status_code, "headers": list(response.headers.items()), "body": response.text},
            "collection": self.collection,
            "environment": self.environment,
            "caFile": self.ca_file,
        }
        assert NODE is not None
        done = subprocess.run(
            [NODE, str(SANDBOX)], input=json.dumps(payload), capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["scriptError"] is None, result["scriptError"]
        self.collection = result["collection"]
        self.environment = result["environment"]
        self.sent_by_scripts.extend(result["sent"])
        return list(result["tests"])

    def send(self, client: httpx.Client, item: dict[str, Any]) -> httpx.Response:
        """Collection pre-request script, the request itself, then the item's test scripts (which must pass)."""
        request = item["request"]
        raw_url = request["url"]["raw"]
        for event in self.collection_document.get("event", []):
            if event["listen"] == "prerequest":
                self.run_script(event["script"]["exec"], raw_url, None)
        headers = {h["key"]: self.resolve(h["value"]) for h in request.get("header", [])}
        body = request.get("body")
        if body is None:
            response = client.request(request["method"], self.resolve(raw_url), headers=headers)
        elif body["mode"] == "urlencoded":
            form = {p["key"]: self.resolve(p["value"]) for p in body["urlencoded"]}
            response = client.request(request["method"], self.resolve(raw_url), headers=headers, data=form)
        else:
            assert body["mode"] == "raw"
            content = self.resolve(body["raw"]).encode()
            response = client.request(request["method"], self.resolve(raw_url), headers=headers, content=content)
        for event in item.get("event", []):
            if event["listen"] == "test":
                results = self.run_script(event["script"]["exec"], raw_url, response)
                assert results, f"{item['name']}: its test script ran no pm.test"
                failed = [r for r in results if not r["passed"]]
                assert not failed, f"{item['name']} (HTTP {response.status_code} {response.text[:300]}): {failed}"
        return response


def client_for(server: Server) -> httpx.Client:
    """An HTTP client that trusts the server's CA bundle, as Postman does once the CA is added."""
    return httpx.Client(verify=ssl.create_default_context(cafile=server.ca_bundle), timeout=30.0)


def requests_in_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests as Postman's Collection Runner visits them: depth first, in file order."""
    flat: list[dict[str, Any]] = []
    for item in items:
        flat.extend(requests_in_order(item["item"]) if "item" in item else [item])
    return flat


def write_collection(server: Server, directory: Path) -> tuple[dict[str, Any], dict[str, Any], str]:
    out, environment_out = directory / "d365local.postman_collection.json", directory / "d365local.postman_env.json"
    result = server.cli("postman", "--out", str(out), "--environment-out", str(environment_out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    collection = json.loads(out.read_text(encoding="utf-8"))
    environment = json.loads(environment_out.read_text(encoding="utf-8"))
    return collection, environment, result.stderr


def test_collection_validates_and_every_request_replays(server: Server, tmp_path: Path) -> None:
    collection, environment, said = write_collection(server, tmp_path)
    jsonschema.Draft7Validator(SCHEMA).validate(collection)
    ca_file = TlsFiles.for_data_dir(server.data_dir).ca_cert.resolve()
    assert "Settings → Certificates → CA certificates" in said
    assert str(ca_file) in said.replace("\n", "")
    assert "SSL certificate verification" in said

    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables["tenantId"] == server.tenant_id
    assert variables["clientId"] == server.client_id
    assert variables["clientSecret"] == server.client_secret
    assert variables["authority"] == server.url
    assert variables["orgUrl"] == server.url
    assert {v["key"]: v["value"] for v in environment["values"]} == variables

    if NODE is None:
        pytest.skip("node is not installed: the collection's JavaScript scripts cannot be executed")
    # The environment is active, as after importing both files: scripts must update it, not just the collection.
    postman = Postman(collection, server.ca_bundle, collection=dict(variables), environment=dict(variables))
    statuses: dict[str, int] = {}
    with client_for(server) as client:
        for item in requests_in_order(collection["item"]):
            statuses[item["name"]] = postman.send(client, item).status_code
    assert statuses == {
        "Get token (v1 endpoint, resource)": 200,
        "Get token (v2 endpoint, scope)": 200,
        "2. WhoAmI": 200,
        "Create account": 201,
        "Retrieve account": 200,
        "Update account": 204,
        "Delete account": 204,
        "Retrieve deleted account (404)": 404,
    }
    assert postman.environment is not None
    assert postman.environment["accessToken"] == postman.collection["accessToken"] != ""
    assert re.fullmatch(r"[0-9a-f-]{36}", postman.collection["accountId"])
    assert postman.sent_by_scripts == []  # the token requests ran first, so the pre-request script had no need


@needs_node
def test_prerequest_script_fetches_a_token_when_missing_or_about_to_expire(server: Server) -> None:
    result = server.cli("postman")  # stdout: the collection and nothing else
    assert result.returncode == 0, result.stderr
    collection = json.loads(result.stdout)
    postman = Postman(collection, server.ca_bundle, collection={v["key"]: v["value"] for v in collection["variable"]})
    whoami = next(i for i in requests_in_order(collection["item"]) if i["name"] == "2. WhoAmI")

    with client_for(server) as client:
        assert postman.send(client, whoami).status_code == 200
        assert len(postman.sent_by_scripts) == 1
        fetched = postman.sent_by_scripts[0]
        assert fetched["url"] == f"{server.url}/{server.tenant_id}/oauth2/v2.0/token"
        assert fetched["form"] == {
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "scope": f"{server.url}/.default",
            "grant_type": "client_credentials",
        }
        assert fetched["code"] == 200
        expires_on = datetime.fromisoformat(postman.collection["accessTokenExpiresOn"].replace("Z", "+00:00"))
        assert timedelta(minutes=55) < expires_on - datetime.now(UTC) <= timedelta(hours=1)

        assert postman.send(client, whoami).status_code == 200
        assert len(postman.sent_by_scripts) == 1  # the token is still good: no new request

        soon = datetime.now(UTC) + timedelta(minutes=4)
        postman.collection["accessTokenExpiresOn"] = soon.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert postman.send(client, whoami).status_code == 200
        assert len(postman.sent_by_scripts) == 2  # within 5 minutes of expiry: fetched again
