"""Tests for the OpenID discovery and JWKS documents in d365local.identity.oauth.discovery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365local.identity.oauth.discovery import (
    instance_discovery,
    jwks,
    openid_configuration_v1,
    openid_configuration_v2,
    v1_issuer,
    v2_issuer,
)

AUTHORITY = "https://localhost:8443"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
BASE = f"{AUTHORITY}/{TENANT_ID}"
EXTERNAL = {
    "https://graph.microsoft.com/oidc/userinfo",
    "https://pas.windows.net",
    f"https://sts.windows.net/{TENANT_ID}/",
    f"{AUTHORITY}/common/discovery/keys",
}
"""URLs Entra's documents carry that are not on the authority or lack the tenant GUID."""

Document = Callable[[str, str], dict[str, Any]]


@pytest.mark.parametrize(
    ("document", "key", "url"),
    [
        pytest.param(openid_configuration_v2, "token_endpoint", f"{BASE}/oauth2/v2.0/token", id="v2-token"),
        pytest.param(openid_configuration_v2, "authorization_endpoint", f"{BASE}/oauth2/v2.0/authorize", id="v2-auth"),
        pytest.param(openid_configuration_v2, "jwks_uri", f"{BASE}/discovery/v2.0/keys", id="v2-jwks"),
        pytest.param(openid_configuration_v2, "issuer", f"{BASE}/v2.0", id="v2-issuer"),
        pytest.param(
            openid_configuration_v2, "device_authorization_endpoint", f"{BASE}/oauth2/v2.0/devicecode", id="v2-device"
        ),
        pytest.param(openid_configuration_v2, "end_session_endpoint", f"{BASE}/oauth2/v2.0/logout", id="v2-logout"),
        pytest.param(openid_configuration_v2, "kerberos_endpoint", f"{BASE}/kerberos", id="v2-kerberos"),
        pytest.param(
            openid_configuration_v2, "userinfo_endpoint", "https://graph.microsoft.com/oidc/userinfo", id="v2-userinfo"
        ),
        pytest.param(openid_configuration_v1, "token_endpoint", f"{BASE}/oauth2/token", id="v1-token"),
        pytest.param(openid_configuration_v1, "authorization_endpoint", f"{BASE}/oauth2/authorize", id="v1-auth"),
        pytest.param(openid_configuration_v1, "jwks_uri", f"{AUTHORITY}/common/discovery/keys", id="v1-jwks"),
        pytest.param(openid_configuration_v1, "issuer", f"https://sts.windows.net/{TENANT_ID}/", id="v1-issuer"),
        pytest.param(openid_configuration_v1, "end_session_endpoint", f"{BASE}/oauth2/logout", id="v1-logout"),
        pytest.param(openid_configuration_v1, "check_session_iframe", f"{BASE}/oauth2/checksession", id="v1-check"),
        pytest.param(openid_configuration_v1, "userinfo_endpoint", f"{BASE}/openid/userinfo", id="v1-userinfo"),
        pytest.param(openid_configuration_v1, "kerberos_endpoint", f"{BASE}/kerberos", id="v1-kerberos"),
    ],
)
def test_document_urls(document: Document, key: str, url: str) -> None:
    assert document(AUTHORITY, TENANT_ID)[key] == url


@pytest.mark.parametrize("document", [openid_configuration_v1, openid_configuration_v2], ids=["v1", "v2"])
def test_every_url_is_on_the_authority_with_the_tenant_guid(document: Document) -> None:
    config = document(AUTHORITY, TENANT_ID)
    urls = [value for value in config.values() if isinstance(value, str) and "://" in value]

    assert len(urls) >= 7
    for url in urls:
        assert url in EXTERNAL or url.startswith(f"{BASE}/"), url
    assert config["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "private_key_jwt",
        "client_secret_basic",
    ]
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]


def test_issuers() -> None:
    assert v1_issuer(TENANT_ID) == f"https://sts.windows.net/{TENANT_ID}/"
    assert v2_issuer(AUTHORITY, TENANT_ID) == f"{AUTHORITY}/{TENANT_ID}/v2.0"


KEYS: list[dict[str, Any]] = [
    {"kty": "RSA", "use": "sig", "kid": "k1", "x5t": "k1", "n": "nn", "e": "AQAB", "x5c": ["MII"]},
    {"kid": "k2"},
]


def test_v2_key_set_adds_the_issuer_template() -> None:
    document = jwks(KEYS, v2=True)

    assert document == {
        "keys": [{**key, "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"} for key in KEYS]
    }
    assert all("issuer" not in key for key in KEYS)


def test_v1_key_set_has_no_issuer() -> None:
    assert jwks(iter(KEYS), v2=False) == {"keys": KEYS}


def test_instance_discovery() -> None:
    document = instance_discovery(AUTHORITY, "localhost:8443", TENANT_ID)

    assert document["tenant_discovery_endpoint"] == f"{BASE}/v2.0/.well-known/openid-configuration"
    assert document["api-version"] == "1.1"
    assert document["metadata"] == [
        {"preferred_network": "localhost:8443", "preferred_cache": "localhost:8443", "aliases": ["localhost:8443"]}
    ]
