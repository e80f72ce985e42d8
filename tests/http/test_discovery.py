"""OpenID discovery, JWKS and instance discovery (docs/reference/entra.md, "Discovery and signing keys")."""

from __future__ import annotations

import jwt
import pytest

from tests.http.conftest import BASE_URL, Identity


@pytest.mark.parametrize("by", ["id", "domain"])
def test_v2_configuration_uses_the_tenant_guid_and_our_base_url(identity: Identity, by: str) -> None:
    segment = identity.tenant.id if by == "id" else "contoso.onmicrosoft.com"
    response = identity.client.get(f"/{segment}/v2.0/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "max-age=86400, private"
    document = response.json()
    tid = identity.tenant.id
    assert document["token_endpoint"] == f"{BASE_URL}/{tid}/oauth2/v2.0/token"
    assert document["authorization_endpoint"] == f"{BASE_URL}/{tid}/oauth2/v2.0/authorize"
    assert document["jwks_uri"] == f"{BASE_URL}/{tid}/discovery/v2.0/keys"
    assert document["issuer"] == f"{BASE_URL}/{tid}/v2.0"
    assert document["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "private_key_jwt",
        "client_secret_basic",
    ]


def test_v1_configuration(identity: Identity) -> None:
    document = identity.client.get(f"/{identity.tenant.id}/.well-known/openid-configuration").json()
    tid = identity.tenant.id
    assert document["token_endpoint"] == f"{BASE_URL}/{tid}/oauth2/token"
    assert document["issuer"] == f"https://sts.windows.net/{tid}/"
    assert document["jwks_uri"] == f"{BASE_URL}/common/discovery/keys"


def test_discovery_of_an_unknown_tenant(identity: Identity) -> None:
    response = identity.client.get("/nowhere.onmicrosoft.com/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_tenant"
    assert response.json()["error_codes"] == [90002]


@pytest.mark.parametrize(
    "path",
    ["/common/discovery/keys", "/common/discovery/v2.0/keys", "/{tid}/discovery/keys", "/{tid}/discovery/v2.0/keys"],
)
def test_jwks_publishes_the_signing_key(identity: Identity, path: str) -> None:
    response = identity.client.get(path.format(tid=identity.tenant.id))
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert {"kty", "use", "kid", "x5t", "n", "e", "x5c"} <= set(key)
    assert key["kty"] == "RSA"
    assert key["use"] == "sig"
    assert key["e"] == "AQAB"
    assert ("issuer" in key) == ("v2.0" in path)
    token = identity.client.post(identity.token_url(), data=identity.form()).json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=identity.org.url)


def test_rotation_keeps_old_tokens_valid_until_retired(identity: Identity) -> None:
    old_token = identity.client.post(identity.token_url(), data=identity.form()).json()["access_token"]
    new_key = identity.admin.rotate_signing_key()
    new_token = identity.client.post(identity.token_url(), data=identity.form()).json()["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid
    keys = {k["kid"]: jwt.PyJWK(k).key for k in identity.client.get("/common/discovery/keys").json()["keys"]}
    assert len(keys) == 2
    for token in (old_token, new_token):
        jwt.decode(
            token, keys[jwt.get_unverified_header(token)["kid"]], algorithms=["RS256"], audience=identity.org.url
        )
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    identity.admin.retire_signing_key(old_kid)
    published = [k["kid"] for k in identity.client.get("/common/discovery/keys").json()["keys"]]
    assert published == [new_key.kid]


def test_instance_discovery_names_this_server(identity: Identity) -> None:
    response = identity.client.get(
        "/common/discovery/instance",
        params={
            "api-version": "1.1",
            "authorization_endpoint": f"{BASE_URL}/{identity.tenant.id}/oauth2/v2.0/authorize",
        },
    )
    document = response.json()
    assert (
        document["tenant_discovery_endpoint"]
        == f"{BASE_URL}/{identity.tenant.id}/v2.0/.well-known/openid-configuration"
    )
    assert document["metadata"][0]["aliases"] == ["localhost:5443"]


def test_multi_tenant_documents_use_the_segment_and_the_issuer_template(identity: Identity) -> None:
    document = identity.client.get("/common/v2.0/.well-known/openid-configuration").json()
    assert document["token_endpoint"] == f"{BASE_URL}/common/oauth2/v2.0/token"
    assert document["jwks_uri"] == f"{BASE_URL}/common/discovery/v2.0/keys"
    assert document["issuer"] == f"{BASE_URL}/{{tenantid}}/v2.0"
