"""The token endpoint over HTTP: success shapes, claims, and every failure in Entra's shape (docs/reference/entra.md)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes

from tests.http.conftest import BASE_URL, Identity

TRACE_LINES = (
    r"\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"
)


def _jwks_keys(identity: Identity) -> dict[str, Any]:
    keys = identity.client.get("/common/discovery/keys").json()["keys"]
    return {k["kid"]: jwt.PyJWK(k).key for k in keys}


def _verify(identity: Identity, token: str, audience: str) -> dict[str, Any]:
    header = jwt.get_unverified_header(token)
    key = _jwks_keys(identity)[header["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], audience=audience)
    return claims


def assert_entra_error(response: Any, status: int, error: str, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["cache-control"] == "no-store, no-cache"
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    import re

    assert re.search(TRACE_LINES, body["error_description"]), body["error_description"]
    assert response.headers["x-ms-request-id"] == body["trace_id"]
    return body


def test_v2_secret_success_shape_and_claims(identity: Identity) -> None:
    response = identity.client.post(identity.token_url("v2"), data=identity.form())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    assert body["ext_expires_in"] == 3599
    assert response.headers["cache-control"] == "no-store, no-cache"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["expires"] == "-1"
    header = jwt.get_unverified_header(body["access_token"])
    assert list(header) == ["typ", "alg", "x5t", "kid"]
    assert header["x5t"] == header["kid"]
    claims = _verify(identity, body["access_token"], identity.org.url)
    tid = identity.tenant.id
    assert claims["aud"] == identity.org.url
    assert claims["iss"] == f"https://sts.windows.net/{tid}/"
    assert claims["idp"] == claims["iss"]
    assert claims["appid"] == identity.app.app_id
    assert claims["appidacr"] == "1"
    assert claims["oid"] == claims["sub"] == identity.app.service_principal_id
    assert claims["tid"] == tid
    assert claims["ver"] == "1.0"
    assert claims["idtyp"] == "app"
    assert "roles" not in claims
    now = int(identity.clock.now())
    assert claims["iat"] == claims["nbf"] == now - 300
    assert claims["exp"] == now + 3600


def test_v1_strings_expires_on_and_resource_as_sent(identity: Identity) -> None:
    resource = identity.org.url + "/"
    response = identity.client.post(identity.token_url("v1"), data=identity.form(scope=None, resource=resource))
    assert response.status_code == 200
    body = response.json()
    assert list(body) == [
        "token_type", "expires_in", "ext_expires_in", "expires_on", "not_before", "resource", "access_token",
    ]  # fmt: skip
    assert body["expires_in"] == "3599"
    assert body["resource"] == resource
    assert int(body["expires_on"]) - int(body["not_before"]) == 3900
    assert _verify(identity, body["access_token"], resource)["aud"] == resource


@pytest.mark.parametrize(
    "resource",
    [
        "https://127.0.0.1:5443",
        "https://[::1]:5443/",
        "HTTPS://LOCALHOST:5443",
        "00000007-0000-0000-c000-000000000000",
    ],
)
def test_loopback_aliases_and_the_dynamics_crm_app_id_are_the_same_resource(identity: Identity, resource: str) -> None:
    response = identity.client.post(identity.token_url("v1"), data=identity.form(scope=None, resource=resource))
    assert response.status_code == 200, response.text
    assert response.json()["resource"] == resource


def test_tenant_by_domain_basic_auth_and_url_encoded_basic(identity: Identity) -> None:
    url = identity.token_url("v2", tenant="contoso.onmicrosoft.com")
    form = identity.form(client_id=None, client_secret=None)
    raw = base64.b64encode(f"{identity.app.app_id}:{identity.secret}".encode()).decode()
    assert identity.client.post(url, data=form, headers={"Authorization": f"Basic {raw}"}).status_code == 200
    from urllib.parse import quote_plus

    encoded = base64.b64encode(f"{identity.app.app_id}:{quote_plus(identity.secret)}".encode()).decode()
    response = identity.client.post(url, data=form, headers={"Authorization": f"Basic {encoded}"})
    assert response.status_code == 200, response.text


def test_organizations_resolves_to_the_apps_home_tenant(identity: Identity) -> None:
    response = identity.client.post(identity.token_url("v2", tenant="organizations"), data=identity.form())
    assert response.status_code == 200
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["tid"] == identity.tenant.id


def _assertion(identity: Identity, *, alg: str = "RS256", **claims: Any) -> str:
    certificate = identity.certificate.certificate
    sha1 = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA1())).decode()  # noqa: S303
    sha256 = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA256())).decode()
    header = {"x5t": sha1} if alg.startswith("RS") else {"x5t#S256": sha256.rstrip("=")}
    now = identity.clock.now()
    body = {
        "aud": f"{BASE_URL}/{identity.tenant.id}/oauth2/v2.0/token",
        "iss": identity.app.app_id,
        "sub": identity.app.app_id,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600.5,
    } | claims
    return jwt.encode(body, identity.certificate.key, algorithm=alg, headers=header)


def _assertion_form(identity: Identity, assertion: str) -> dict[str, str]:
    return identity.form(
        client_secret=None,
        client_assertion=assertion,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    )


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
@pytest.mark.parametrize(
    "aud",
    [
        "https://localhost:5443/{tid}/oauth2/v2.0/token",
        "https://127.0.0.1:5443/{tid}/oauth2/token",
        "https://localhost:5443/contoso.onmicrosoft.com/oauth2/v2.0/token",
    ],
)
def test_certificate_assertion(identity: Identity, alg: str, aud: str) -> None:
    assertion = _assertion(identity, alg=alg, aud=aud.format(tid=identity.tenant.id))
    response = identity.client.post(identity.token_url("v2"), data=_assertion_form(identity, assertion))
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["appidacr"] == "2"
    # msal and azure-identity reuse one assertion for minutes: accepted again until it expires.
    again = identity.client.post(identity.token_url("v2"), data=_assertion_form(identity, assertion))
    assert again.status_code == 200


def test_assertion_with_wrong_audience(identity: Identity) -> None:
    assertion = _assertion(identity, aud="https://login.microsoftonline.com/other/oauth2/v2.0/token")
    response = identity.client.post(identity.token_url("v2"), data=_assertion_form(identity, assertion))
    assert_entra_error(response, 401, "invalid_client", 700023)


def test_assertion_replay_rejected_when_asked(identity: Identity) -> None:
    from starlette.testclient import TestClient

    from d365local.app import AppOptions, create_app

    strict = create_app(identity.database, AppOptions(reject_assertion_replay=True), clock=identity.clock)
    assertion = _assertion(identity)
    with TestClient(strict, base_url=BASE_URL) as client:
        assert client.post(identity.token_url("v2"), data=_assertion_form(identity, assertion)).status_code == 200
        replay = client.post(identity.token_url("v2"), data=_assertion_form(identity, assertion))
    assert_entra_error(replay, 401, "invalid_client", 7000299)


def test_correlation_id_echoes_client_request_id(identity: Identity) -> None:
    request_id = str(uuid.uuid4())
    response = identity.client.post(
        identity.token_url("v2"), data=identity.form(client_secret="wrong"), headers={"client-request-id": request_id}
    )
    body = assert_entra_error(response, 401, "invalid_client", 7000215)
    assert body["correlation_id"] == request_id
    assert identity.app.app_id in body["error_description"]


def test_json_body_as_in_the_seed_blog(identity: Identity) -> None:
    response = identity.client.post(
        identity.token_url("v1"),
        content=json.dumps(identity.form(scope=None, resource=identity.org.url)),
        headers={"Content-Type": "application/json"},
    )
    body = assert_entra_error(response, 400, "invalid_request", 900144)
    assert "'grant_type'" in body["error_description"]


def test_removed_secret_fails_on_the_next_request(identity: Identity) -> None:
    assert identity.client.post(identity.token_url(), data=identity.form()).status_code == 200
    (secret,) = identity.admin.secrets(identity.tenant.id, identity.app.app_id)
    identity.admin.remove_secret(identity.tenant.id, identity.app.app_id, secret.key_id)
    assert_entra_error(identity.client.post(identity.token_url(), data=identity.form()), 401, "invalid_client", 7000215)


def test_expired_secret(identity: Identity) -> None:
    identity.clock.advance(366 * 24 * 3600)
    assert_entra_error(identity.client.post(identity.token_url(), data=identity.form()), 401, "invalid_client", 7000222)


def test_disabled_app_then_enabled_again(identity: Identity) -> None:
    identity.admin.set_app_disabled(identity.tenant.id, identity.app.app_id, True)
    response = identity.client.post(identity.token_url(), data=identity.form())
    body = assert_entra_error(response, 400, "unauthorized_client", 7000112)
    assert "(integration) is disabled" in body["error_description"]
    identity.admin.set_app_disabled(identity.tenant.id, identity.app.app_id, False)
    assert identity.client.post(identity.token_url(), data=identity.form()).status_code == 200


FAILURES: list[tuple[str, str, dict[str, str | None], str | None, int, str, int]] = [
    # (id, tenant, form overrides, version, status, error, code)
    ("unknown tenant", "fabrikam.onmicrosoft.com", {}, "v2", 400, "invalid_tenant", 90002),
    ("unknown tenant guid", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", {}, "v2", 400, "invalid_tenant", 90002),
    ("malformed tenant", "not a tenant!", {}, "v2", 400, "invalid_request", 900023),
    ("common", "common", {}, "v2", 400, "invalid_request", 9001023),
    ("consumers", "consumers", {}, "v2", 400, "invalid_request", 9001023),
    ("unknown tenant before body", "fabrikam.onmicrosoft.com", {"grant_type": None}, "v1", 400, "invalid_tenant", 90002),
    ("unknown app", "", {"client_id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}, "v2", 400, "unauthorized_client", 700016),
    ("non-guid app", "", {"client_id": "my-app"}, "v2", 400, "unauthorized_client", 700016),
    ("wrong secret", "", {"client_secret": "x" * 40}, "v2", 401, "invalid_client", 7000215),
    ("no credential", "", {"client_secret": None}, "v2", 401, "invalid_client", 7000218),
    ("no grant_type", "", {"grant_type": None}, "v2", 400, "invalid_request", 900144),
    ("no client_id", "", {"client_id": None}, "v2", 400, "invalid_request", 900144),
    ("other grant", "", {"grant_type": "password"}, "v2", 400, "unsupported_grant_type", 70003),
    ("v2 without scope", "", {"scope": None}, "v2", 400, "invalid_request", 90014),
    ("v2 with resource", "", {"resource": "https://localhost:5443"}, "v2", 400, "invalid_request", 901002),
    ("scope not .default", "", {"scope": "https://localhost:5443/user_impersonation"}, "v2", 400, "invalid_scope", 1002012),
    ("two resources", "", {"scope": "https://localhost:5443/.default https://x.test/.default"}, "v2", 400, "invalid_scope", 70011),
    ("v1 without resource", "", {"scope": None}, "v1", 400, "invalid_request", 900144),
    ("http not https", "", {"scope": None, "resource": "http://localhost:5443"}, "v1", 400, "invalid_resource", 500011),
    ("trailing path", "", {"scope": None, "resource": "https://localhost:5443/api/data/v9.2"}, "v1", 400, "invalid_resource", 500011),
    ("other host", "", {"scope": "https://contoso.crm4.dynamics.com/.default"}, "v2", 400, "invalid_resource", 500011),
    ("other port", "", {"scope": "https://localhost:5444/.default"}, "v2", 400, "invalid_resource", 500011),
    ("assertion garbage", "", {"client_secret": None, "client_assertion": "abc", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "v2", 400, "invalid_request", 50027),
    ("assertion type", "", {"client_secret": None, "client_assertion": "a.b.c", "client_assertion_type": "jwt"}, "v2", 400, "invalid_request", 90011),
    ("huge value", "", {"client_secret": "s" * 10_000}, "v2", 400, "invalid_request", 90015),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tenant", "overrides", "version", "status", "error", "code"),
    [f[1:] for f in FAILURES],
    ids=[f[0] for f in FAILURES],
)
def test_failures(
    identity: Identity, tenant: str, overrides: dict[str, str | None], version: str, status: int, error: str, code: int
) -> None:
    response = identity.client.post(identity.token_url(version, tenant or None), data=identity.form(**overrides))
    assert_entra_error(response, status, error, code)


def test_get_on_token_endpoint(identity: Identity) -> None:
    assert_entra_error(identity.client.get(identity.token_url()), 400, "invalid_request", 900561)


def test_duplicated_parameter(identity: Identity) -> None:
    body = f"grant_type=client_credentials&grant_type=client_credentials&client_id={identity.app.app_id}"
    response = identity.client.post(
        identity.token_url(), content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_entra_error(response, 400, "invalid_request", 9000411)


def test_non_utf8_body(identity: Identity) -> None:
    response = identity.client.post(
        identity.token_url(),
        content=b"grant_type=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_entra_error(response, 400, "invalid_request", 90013)


def test_oversized_body_is_413(identity: Identity) -> None:
    response = identity.client.post(
        identity.token_url(), content=b"a" * (70 * 1024), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_entra_error(response, 413, "invalid_request", 90015)


def test_a_running_server_sees_a_new_secret_without_restart(identity: Identity) -> None:
    new = identity.admin.add_secret(identity.tenant.id, identity.app.app_id)
    response = identity.client.post(identity.token_url(), data=identity.form(client_secret=new.value))
    assert response.status_code == 200
    assert time.time() > 0
