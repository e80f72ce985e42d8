"""``d365local fault`` against a real server: the next token request / Web API call fails exactly as asked, once."""

from __future__ import annotations

import json
import ssl

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def _token(server: Server) -> httpx.Response:
    return httpx.post(
        f"{server.url}/{server.tenant_id}/oauth2/v2.0/token",
        data={
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "grant_type": "client_credentials",
            "scope": f"{server.url}/.default",
        },
        verify=ssl.create_default_context(cafile=server.ca_bundle),
    )


def test_token_fault_answers_entras_error_then_clears(server: Server) -> None:
    added = server.cli(
        "fault", "token", "--tenant", server.tenant_id, "--app", server.client_id, "--code", "AADSTS7000222", "--json"
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["remaining"] == 1
    failed = _token(server)
    assert failed.status_code == 401
    body = failed.json()
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000222]
    assert body["error_description"].startswith(
        f"AADSTS7000222: The provided client secret keys for app '{server.client_id}' are expired."
    )
    assert _token(server).status_code == 200
    assert json.loads(server.cli("fault", "list", "--json").stdout) == []


def test_throttle_fault_answers_429_with_retry_after(server: Server) -> None:
    token = _token(server).json()["access_token"]
    added = server.cli(
        "fault", "throttle", "--org", "contoso", "--app", server.client_id, "--retry-after", "9", "--count", "2"
    )
    assert added.returncode == 0, added.stderr
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(verify=ssl.create_default_context(cafile=server.ca_bundle)) as client:
        for _ in range(2):
            throttled = client.get(f"{server.url}/api/data/v9.2/WhoAmI", headers=headers)
            assert throttled.status_code == 429
            assert throttled.headers["Retry-After"] == "9"
            assert throttled.json()["error"]["code"] == "0x80072322"
            assert (
                "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
                in (throttled.json()["error"]["message"])
            )
        assert client.get(f"{server.url}/api/data/v9.2/WhoAmI", headers=headers).status_code == 200


def test_bad_fault_requests_exit_non_zero_with_the_reason(server: Server) -> None:
    unknown = server.cli("fault", "token", "--tenant", server.tenant_id, "--app", server.client_id, "--code", "AADSTS1")
    assert unknown.returncode != 0
    assert "not an AADSTS code" in unknown.stderr
    no_user = server.cli("fault", "throttle", "--org", "contoso", "--app", "00000000-0000-0000-0000-000000000001")
    assert no_user.returncode != 0
    added = server.cli("fault", "token", "--tenant", server.tenant_id, "--app", server.client_id, "--code", "7000215")
    assert added.returncode == 0, added.stderr
    cleared = server.cli("fault", "clear", "--app", server.client_id, "--json")
    assert json.loads(cleared.stdout) == {"removed": 1}
    assert _token(server).status_code == 200
