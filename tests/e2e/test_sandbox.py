"""The pytest plugin's sandbox levers, used from d365local's own suite (the plugin is installed with it)."""

from __future__ import annotations

import jwt
import msal
import pytest

from d365local.client import AuthenticationError, DataverseApiError
from d365local.testing import Sandbox

pytestmark = pytest.mark.e2e


def test_each_test_gets_its_own_tenant_app_and_org(d365local: Sandbox) -> None:
    assert d365local.org_url.startswith(f"{d365local.authority}/orgs/")
    with d365local.web_api() as api:
        assert api.who_am_i()["UserId"] == d365local.user_id
    assert set(d365local.environ) >= {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "DATAVERSE_URL"}


def test_roles_custom_roles_and_missing_privileges(d365local: Sandbox) -> None:
    d365local.create_role("Contact reader", ["prvReadContact:Global"])
    d365local.add_role("Contact reader")
    d365local.remove_role("System Administrator")
    with d365local.web_api() as api:
        assert list(api.query("contacts", top=1)) == []
        with pytest.raises(DataverseApiError) as caught:
            list(api.query("accounts", top=1))
    assert caught.value.code == "0x80040220"
    assert "prvReadAccount" in caught.value.message


def test_removed_secret_and_disabled_app(d365local: Sandbox) -> None:
    spare = d365local.add_secret()
    d365local.remove_secret()
    with d365local.token_provider() as tokens, pytest.raises(AuthenticationError) as caught:
        tokens.token(d365local.org_url)
    assert caught.value.code == 7000215
    d365local.client_secret = spare
    with d365local.token_provider() as tokens:
        assert tokens.token(d365local.org_url).access_token
    d365local.disable_app()
    with d365local.token_provider() as tokens, pytest.raises(AuthenticationError) as caught:
        tokens.token(d365local.org_url)
    assert caught.value.code == 7000112


def test_certificates_for_the_library_and_for_msal(d365local_environ: Sandbox) -> None:
    d365local = d365local_environ  # REQUESTS_CA_BUNDLE set: msal (requests) trusts the server
    credential = d365local.add_certificate(sha256=True)
    with d365local.token_provider(credential=credential) as tokens:
        claims = jwt.decode(tokens.token(d365local.org_url).access_token, options={"verify_signature": False})
    assert claims["appidacr"] == "2"
    from cryptography.hazmat.primitives import serialization

    key_pem = credential.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    app = msal.ConfidentialClientApplication(
        d365local.client_id,
        client_credential={"private_key": key_pem, "thumbprint": credential.thumbprint},
        authority=f"{d365local.authority}/{d365local.tenant_id}",
        instance_discovery=False,
    )
    assert app.acquire_token_for_client(scopes=[f"{d365local.org_url}/.default"])["token_type"] == "Bearer"


def test_faults_are_consumed_and_cleared_per_test(d365local: Sandbox) -> None:
    d365local.fail_next_token_request("AADSTS7000222", count=2)
    with d365local.token_provider() as tokens:
        for _ in range(2):
            with pytest.raises(AuthenticationError):
                tokens.token(d365local.org_url)
        assert tokens.token(d365local.org_url).access_token
    d365local.throttle_next_request(retry_after=120)  # longer than the client's max_delay: raised, not waited
    with d365local.web_api() as api, pytest.raises(DataverseApiError) as caught:
        api.who_am_i()
    assert (caught.value.status, caught.value.retry_after) == (429, 120)
    d365local.throttle_next_request(count=5)
    d365local.clear_faults()
    with d365local.web_api() as api:
        assert api.who_am_i()["UserId"]
