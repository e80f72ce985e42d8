"""d365local.client against a real server: secrets and certificates, v1 and v2, and the Dataverse SDK on top."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from PowerPlatform.Dataverse.client import DataverseClient

from d365local.client import AsyncTokenProvider, AuthenticationError, ClientCertificate, ClientSecret, TokenProvider
from d365local.clock import FrozenClock
from tests.e2e.conftest import Server
from tests.http.conftest import make_certificate

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("v2", [True, False])
def test_secret_tokens_v1_and_v2(trust: Server, v2: bool) -> None:
    with TokenProvider(
        trust.tenant_id, trust.client_id, ClientSecret(trust.client_secret), authority=trust.url, v2=v2
    ) as tokens:
        token = tokens.token(trust.url)
        assert jwt.decode(token.access_token, options={"verify_signature": False})["aud"] == trust.url
        assert tokens.token(trust.url) is token
        assert tokens.requests_sent == 1


@pytest.mark.parametrize("sha256", [False, True])
def test_certificate_tokens(trust: Server, tmp_path: Path, sha256: bool) -> None:
    credential = make_certificate("client library")
    (tmp_path / "cert.pem").write_bytes(credential.pem)
    app = json.loads(trust.cli("app", "create", "--tenant", trust.tenant_id, "--name", "lib cert", "--json").stdout)
    added = trust.cli(
        "app", "cert", "add", "--tenant", trust.tenant_id, "--app", app["appId"], "--cert", str(tmp_path / "cert.pem")
    )
    assert added.returncode == 0, added.stderr
    key_pem = credential.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "both.pem").write_bytes(key_pem + credential.pem)
    certificate = ClientCertificate.from_pem(tmp_path / "both.pem", sha256=sha256)
    with TokenProvider(trust.tenant_id, app["appId"], certificate, authority=trust.url) as tokens:
        claims = jwt.decode(tokens.token(trust.url).access_token, options={"verify_signature": False})
    assert claims["appidacr"] == "2"


def test_errors_carry_the_aadsts_code_and_a_hint(trust: Server) -> None:
    with (
        TokenProvider(trust.tenant_id, trust.client_id, ClientSecret("not-the-value"), authority=trust.url) as tokens,
        pytest.raises(AuthenticationError) as caught,
    ):
        tokens.token(trust.url)
    assert caught.value.code == 7000215
    assert caught.value.hint


def test_the_dataverse_sdk_runs_on_the_library_credential(trust: Server) -> None:
    with TokenProvider(
        trust.tenant_id, trust.client_id, ClientSecret(trust.client_secret), authority=trust.url
    ) as tokens:
        with DataverseClient(trust.credentials["DATAVERSE_URL"], tokens) as client:  # type: ignore[arg-type]
            account_id = client.records.create("account", {"name": "via d365local.client"})
            assert client.records.retrieve("account", account_id, select=["name"]) is not None
            client.records.delete("account", account_id)
        assert tokens.requests_sent == 1  # the SDK asks before every request; the cache answers


def test_single_flight_under_64_tasks(trust: Server) -> None:
    async def main() -> list[str]:
        async with AsyncTokenProvider(
            trust.tenant_id, trust.client_id, ClientSecret(trust.client_secret), authority=trust.url
        ) as tokens:
            results = await asyncio.gather(*(tokens.get_token(f"{trust.url}/.default") for _ in range(64)))
            assert tokens.requests_sent == 1
            return [r.token for r in results]

    assert len(set(asyncio.run(main()))) == 1


def test_single_flight_under_64_threads(trust: Server) -> None:
    with TokenProvider(
        trust.tenant_id, trust.client_id, ClientSecret(trust.client_secret), authority=trust.url
    ) as tokens:
        barrier = threading.Barrier(64)
        results: list[str] = []

        def ask() -> None:
            barrier.wait()
            results.append(tokens.get_token(f"{trust.url}/.default").token)

        threads = [threading.Thread(target=ask) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert tokens.requests_sent == 1
    assert len(results) == 64
    assert len(set(results)) == 1


def test_refresh_before_expiry_and_surviving_a_failed_refresh(trust: Server) -> None:
    """Injected clock on the client; the refresh failure is a real one (an injected AADSTS7000222 fault)."""
    clock = FrozenClock(time.time())
    with TokenProvider(
        trust.tenant_id, trust.client_id, ClientSecret(trust.client_secret), authority=trust.url, clock=clock.now
    ) as tokens:
        first = tokens.get_token(f"{trust.url}/.default")
        clock.advance(3599 - 301)
        assert tokens.get_token(f"{trust.url}/.default") is first  # served from the cache
        assert tokens.requests_sent == 1
        clock.advance(2)  # five minutes before expiry: refreshed proactively
        second = tokens.get_token(f"{trust.url}/.default")
        assert second.token != first.token
        assert tokens.requests_sent == 2
        faulted = trust.cli(
            "fault", "token", "--tenant", trust.tenant_id, "--app", trust.client_id, "--code", "AADSTS7000222"
        )
        assert faulted.returncode == 0, faulted.stderr
        clock.advance(3599 - 299)
        assert tokens.get_token(f"{trust.url}/.default").token == second.token  # the refresh failed: still valid
        assert tokens.requests_sent == 3
        clock.advance(29)
        assert tokens.get_token(f"{trust.url}/.default").token == second.token  # no retry within 30 s
        assert tokens.requests_sent == 3
        clock.advance(2)
        assert tokens.get_token(f"{trust.url}/.default").token not in (first.token, second.token)
        assert tokens.requests_sent == 4


def test_web_api_client_crud_paging_and_throttling(trust: Server) -> None:
    import uuid

    from d365local.client import DataverseApiError, WebApiClient

    tag = uuid.uuid4().hex[:8]
    with (
        TokenProvider(
            trust.tenant_id, trust.client_id, ClientSecret(trust.client_secret), authority=trust.url
        ) as tokens,
        WebApiClient(trust.credentials["DATAVERSE_URL"], tokens) as api,
    ):
        assert api.who_am_i()["UserId"]
        ids = api.create_multiple("accounts", "account", [{"name": f"{tag}-{i}"} for i in range(7)])
        record_id = api.create("accounts", {"name": f"{tag}-x"})
        api.update("accounts", record_id, {"telephone1": "555"})
        assert api.get("accounts", record_id, select=["telephone1"])["telephone1"] == "555"
        names = [
            r["name"]
            for r in api.query(
                "accounts", select=["name"], filter=f"startswith(name,'{tag}')", orderby=["name"], page_size=3
            )
        ]
        assert names == sorted([f"{tag}-{i}" for i in range(7)] + [f"{tag}-x"])
        api.delete("accounts", record_id)
        with pytest.raises(DataverseApiError) as caught:
            api.get("accounts", record_id)
        assert (caught.value.status, caught.value.code) == (404, "0x80040217")
        for identifier in ids:
            api.delete("accounts", identifier)


def test_a_real_429_is_retried_after_retry_after(tmp_path: Path) -> None:
    import time

    from d365local.client import WebApiClient
    from tests.e2e.conftest import start_server, stop_server

    server = start_server(tmp_path, "--service-protection", "requests=3,concurrent=52,execution=1200,window=2")
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    try:
        trust = ssl.create_default_context(cafile=server.ca_bundle)
        with (
            TokenProvider(
                server.tenant_id,
                server.client_id,
                ClientSecret(server.client_secret),
                authority=server.url,
                verify=trust,
            ) as tokens,
            WebApiClient(server.credentials["DATAVERSE_URL"], tokens, verify=trust, sleep=sleep) as api,
        ):
            for _ in range(5):
                assert api.who_am_i()["UserId"]
        assert slept  # at least one 429 was answered and waited out
        assert all(1 <= s <= 3 for s in slept)
    finally:
        stop_server(server)


def test_azure_core_sees_the_providers_as_its_credentials_and_its_pipeline_uses_them(trust: Server) -> None:
    """Other Azure SDKs: azure-core's runtime-checkable protocols, and its BearerTokenCredentialPolicy in a pipeline."""
    from azure.core.credentials import SupportsTokenInfo, TokenCredential
    from azure.core.credentials_async import AsyncSupportsTokenInfo, AsyncTokenCredential
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    org = trust.credentials["DATAVERSE_URL"]
    with TokenProvider(
        trust.tenant_id, trust.client_id, ClientSecret(trust.client_secret), authority=trust.url
    ) as tokens:
        assert isinstance(tokens, TokenCredential)
        assert isinstance(tokens, SupportsTokenInfo)
        pipeline = Pipeline(
            transport=RequestsTransport(connection_verify=trust.ca_bundle),
            policies=[BearerTokenCredentialPolicy(tokens, f"{org}/.default")],
        )
        with pipeline:
            for _ in range(3):
                response = pipeline.run(HttpRequest("GET", f"{org}/api/data/v9.2/WhoAmI")).http_response
                assert response.status_code == 200
        assert tokens.requests_sent == 1  # the policy asked three times; one token request
    provider = AsyncTokenProvider(trust.tenant_id, trust.client_id, ClientSecret(trust.client_secret))
    assert isinstance(provider, AsyncTokenCredential)
    assert isinstance(provider, AsyncSupportsTokenInfo)
    asyncio.run(provider.close())
