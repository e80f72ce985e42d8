"""The token-to-Web-API chain over real HTTP: 401s, 403s with their codes, and admin changes taking effect."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class App:
    client_id: str
    secret: str
    secret_id: str


def admin(server: Server, *args: str) -> Any:
    result = server.cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def new_app(server: Server) -> App:
    app = admin(server, "app", "create", "--tenant", server.tenant_id, "--name", f"app-{uuid.uuid4().hex[:6]}")
    secret = admin(server, "app", "secret", "add", "--tenant", server.tenant_id, "--app", app["appId"])
    return App(app["appId"], secret["secretText"], secret["keyId"])


def token(server: Server, app: App, resource: str) -> str:
    response = requests.post(
        f"{server.url}/{server.tenant_id}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.secret,
            "resource": resource,
        },
        verify=server.ca_bundle,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def who_am_i(server: Server, bearer: str | None, org_url: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.get(
        f"{org_url or server.url}/api/data/v9.2/WhoAmI", headers=headers, verify=server.ca_bundle, timeout=10
    )


def dataverse_error(response: requests.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["x-ms-service-request-id"]
    error = response.json()["error"]
    assert error["code"] == code
    return str(error["message"])


def test_who_am_i_with_plain_requests(server: Server) -> None:
    starter = App(server.client_id, server.client_secret, "")
    response = who_am_i(server, token(server, starter, server.url))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"@odata.context", "BusinessUnitId", "UserId", "OrganizationId"}
    assert body["@odata.context"] == f"{server.url}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"


def test_no_token_is_401_with_the_authority(server: Server) -> None:
    response = who_am_i(server, None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f"Bearer authorization_uri={server.url}/{server.tenant_id}/oauth2/authorize, resource_id={server.url}/"
    )
    assert who_am_i(server, "not-a-jwt").status_code == 401


def test_the_application_user_chain(server: Server) -> None:
    app = new_app(server)
    bearer = token(server, app, server.url)
    dataverse_error(who_am_i(server, bearer), 403, "0x80072560")
    admin(server, "appuser", "create", "--org", "contoso", "--app", app.client_id)
    message = dataverse_error(who_am_i(server, bearer), 403, "0x80042f09")
    assert "no roles are assigned to user" in message
    admin(
        server,
        "role",
        "create",
        "--org",
        "contoso",
        "--name",
        f"Readers {app.client_id[:8]}",
        "--privilege",
        "prvReadAccount",
    )
    admin(
        server, "role", "assign", "--org", "contoso", "--app", app.client_id, "--role", f"Readers {app.client_id[:8]}"
    )
    assert who_am_i(server, bearer).status_code == 200
    created = requests.post(
        f"{server.url}/api/data/v9.2/accounts",
        json={"name": "nope"},
        headers={"Authorization": f"Bearer {bearer}"},
        verify=server.ca_bundle,
        timeout=10,
    )
    assert "missing prvCreateAccount privilege" in dataverse_error(created, 403, "0x80040220")
    admin(server, "appuser", "disable", "--org", "contoso", "--app", app.client_id)
    assert "is disabled" in dataverse_error(who_am_i(server, bearer), 403, "0x80040225")
    admin(server, "appuser", "enable", "--org", "contoso", "--app", app.client_id)
    assert who_am_i(server, bearer).status_code == 200
    admin(
        server, "role", "remove", "--org", "contoso", "--app", app.client_id, "--role", f"Readers {app.client_id[:8]}"
    )
    dataverse_error(who_am_i(server, bearer), 403, "0x80042f09")


def test_removed_secret_stops_new_tokens_but_not_issued_ones(server: Server) -> None:
    app = new_app(server)
    admin(server, "appuser", "create", "--org", "contoso", "--app", app.client_id, "--role", "Basic User")
    issued = token(server, app, server.url)
    admin(
        server,
        "app",
        "secret",
        "remove",
        "--tenant",
        server.tenant_id,
        "--app",
        app.client_id,
        "--key-id",
        app.secret_id,
    )
    refused = requests.post(
        f"{server.url}/{server.tenant_id}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.secret,
            "resource": server.url,
        },
        verify=server.ca_bundle,
        timeout=10,
    )
    assert refused.json()["error_codes"] == [7000215]
    assert who_am_i(server, issued).status_code == 200


def test_a_second_org_has_its_own_url_and_tokens(server: Server) -> None:
    name = f"sales{uuid.uuid4().hex[:6]}"
    org = admin(server, "org", "create", "--tenant", server.tenant_id, "--name", name)
    assert org["url"] == f"{server.url}/orgs/{name}"
    starter = App(server.client_id, server.client_secret, "")
    default_token = token(server, starter, server.url)
    assert who_am_i(server, default_token, org["url"]).status_code == 401  # a token for the default org
    admin(server, "appuser", "create", "--org", name, "--app", server.client_id, "--role", "System Administrator")
    org_token = token(server, starter, org["url"])
    mine = who_am_i(server, org_token, org["url"])
    assert mine.status_code == 200
    assert mine.json()["OrganizationId"] == org["id"]
    assert who_am_i(server, org_token).status_code == 401  # and the other way round


def test_basic_depth_sees_only_own_records(server: Server) -> None:
    starter = App(server.client_id, server.client_secret, "")
    admin_token = token(server, starter, server.url)
    tag = uuid.uuid4().hex[:8]
    requests.post(
        f"{server.url}/api/data/v9.2/accounts",
        json={"name": f"admin-{tag}"},
        headers={"Authorization": f"Bearer {admin_token}"},
        verify=server.ca_bundle,
        timeout=10,
    ).raise_for_status()
    app = new_app(server)
    admin(server, "appuser", "create", "--org", "contoso", "--app", app.client_id, "--role", "Basic User")
    bearer = token(server, app, server.url)
    headers = {"Authorization": f"Bearer {bearer}"}
    own = requests.post(
        f"{server.url}/api/data/v9.2/accounts",
        json={"name": f"own-{tag}"},
        headers=headers,
        verify=server.ca_bundle,
        timeout=10,
    )
    assert own.status_code == 204
    listed = requests.get(
        f"{server.url}/api/data/v9.2/accounts",
        params={"$select": "name", "$filter": f"contains(name,'{tag}')"},
        headers=headers,
        verify=server.ca_bundle,
        timeout=10,
    )
    assert [r["name"] for r in listed.json()["value"]] == [f"own-{tag}"]


def test_roles_assigned_through_the_web_api(server: Server) -> None:
    starter = App(server.client_id, server.client_secret, "")
    headers = {"Authorization": f"Bearer {token(server, starter, server.url)}"}
    api = f"{server.url}/api/data/v9.2"
    app = new_app(server)
    user = admin(server, "appuser", "create", "--org", "contoso", "--app", app.client_id)
    roles = requests.get(
        f"{api}/roles", params={"$select": "name"}, headers=headers, verify=server.ca_bundle, timeout=10
    ).json()
    basic = next(r["roleid"] for r in roles["value"] if r["name"] == "Basic User")
    reference = {"@odata.id": f"{api}/roles({basic})"}
    url = f"{api}/systemusers({user['systemuserid']})/systemuserroles_association"
    assigned = requests.post(f"{url}/$ref", json=reference, headers=headers, verify=server.ca_bundle, timeout=10)
    assert assigned.status_code == 204, assigned.text
    listed = requests.get(url, headers=headers, verify=server.ca_bundle, timeout=10).json()["value"]
    assert [r["name"] for r in listed] == ["Basic User"]
    bearer = token(server, app, server.url)
    assert who_am_i(server, bearer).status_code == 200
    removed = requests.delete(f"{url}({basic})/$ref", headers=headers, verify=server.ca_bundle, timeout=10)
    assert removed.status_code == 204
    dataverse_error(who_am_i(server, bearer), 403, "0x80042f09")


def test_the_sdk_works_at_a_second_org(trust: Server) -> None:
    from azure.identity import ClientSecretCredential
    from PowerPlatform.Dataverse.client import DataverseClient

    name = f"ops{uuid.uuid4().hex[:6]}"
    org = admin(trust, "org", "create", "--tenant", trust.tenant_id, "--name", name)
    admin(trust, "appuser", "create", "--org", name, "--app", trust.client_id, "--role", "System Administrator")
    credential = ClientSecretCredential(
        trust.tenant_id, trust.client_id, trust.client_secret, authority=trust.url, disable_instance_discovery=True
    )
    with DataverseClient(org["url"], credential) as client:
        account_id = client.records.create("account", {"name": f"{name} account"})
        assert [r["name"] for r in client.records.list("account", select=["name"])] == [f"{name} account"]
        client.records.delete("account", account_id)


def test_keys_of_another_authority_come_through_its_discovery_document(server: Server) -> None:
    import ssl

    from d365local.dataverse.http.authority_keys import HttpSigningKeys

    trusted = ssl.create_default_context(cafile=server.ca_bundle)
    published = requests.get(f"{server.url}/common/discovery/v2.0/keys", verify=server.ca_bundle, timeout=10).json()
    document = HttpSigningKeys(server.url, verify=trusted).jwks()
    assert [k["kid"] for k in document["keys"]] == [k["kid"] for k in published["keys"]]
    assert HttpSigningKeys("https://localhost:1", verify=trusted, timeout=1).jwks() == {"keys": []}
