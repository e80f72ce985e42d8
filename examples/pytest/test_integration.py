"""An integration's own tests, run against d365local by its pytest plugin (installed with d365local)."""

import os

import msal
import pytest

from d365local.client import AuthenticationError, DataverseApiError


def test_create_and_read_an_account(d365local):
    with d365local.web_api() as api:
        account_id = api.create("accounts", {"name": "Contoso"})
        assert api.get("accounts", account_id, select=["name"])["name"] == "Contoso"


def test_throttled_calls_are_retried(d365local):
    d365local.throttle_next_request(retry_after=1, count=2)  # 429 + Retry-After: 1, twice
    with d365local.web_api() as api:
        assert api.who_am_i()["UserId"] == d365local.user_id


def test_an_expired_secret_is_reported_with_its_code(d365local):
    d365local.fail_next_token_request("AADSTS7000222")
    with d365local.token_provider() as tokens, pytest.raises(AuthenticationError) as caught:
        tokens.token(d365local.org_url)
    assert caught.value.code == 7000222


def test_a_disabled_application_user_is_refused(d365local):
    d365local.disable_user()
    with d365local.web_api() as api, pytest.raises(DataverseApiError) as caught:
        api.who_am_i()
    assert (caught.value.status, caught.value.code) == (403, "0x80040225")


def test_no_security_role_means_403(d365local):
    d365local.remove_role("System Administrator")
    with d365local.web_api() as api, pytest.raises(DataverseApiError) as caught:
        api.query("accounts", top=1).__next__()
    assert caught.value.code == "0x80042f09"


def test_code_that_reads_the_environment(d365local_environ):
    # d365local_environ sets AZURE_* / DATAVERSE_URL / REQUESTS_CA_BUNDLE for this test.
    app = msal.ConfidentialClientApplication(
        os.environ["AZURE_CLIENT_ID"],
        client_credential=os.environ["AZURE_CLIENT_SECRET"],
        authority=f"{os.environ['AZURE_AUTHORITY_HOST']}/{os.environ['AZURE_TENANT_ID']}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[f"{os.environ['DATAVERSE_URL']}/.default"])
    assert result["token_type"] == "Bearer"
