"""The client's token provider against a mock token endpoint: caching, proactive refresh, failures, single-flight."""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes

from d365local.client import AuthenticationError, ClientCertificate, ClientError, ClientSecret, TokenProvider
from d365local.clock import FrozenClock
from tests.http.conftest import make_certificate

ORG = "https://contoso.crm.dynamics.com"
TENANT = "contoso.onmicrosoft.com"
CLIENT = "11111111-2222-3333-4444-555555555555"


class Endpoint:
    """A token endpoint that counts requests and answers what it is told to."""

    def __init__(self, expires_in: int = 3599, refresh_in: int | None = None) -> None:
        self.requests: list[dict[str, list[str]]] = []
        self.urls: list[str] = []
        self.fail_with: tuple[int, dict[str, object]] | None = None
        self.expires_in = expires_in
        self.refresh_in = refresh_in
        self.delay = 0.0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            threading.Event().wait(self.delay)  # widen the window in which concurrent callers could race
        self.requests.append(parse_qs(request.content.decode()))
        self.urls.append(str(request.url))
        if self.fail_with is not None:
            status, body = self.fail_with
            return httpx.Response(status, json=body)
        body: dict[str, object] = {
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "access_token": f"t{len(self.requests)}",
        }
        if self.refresh_in is not None:
            body["refresh_in"] = self.refresh_in
        return httpx.Response(200, json=body)


def provider(endpoint: Endpoint, clock: FrozenClock, **options: object) -> TokenProvider:
    return TokenProvider(
        TENANT,
        CLIENT,
        ClientSecret("s3cret+value/="),
        clock=clock.now,
        transport=httpx.MockTransport(endpoint),
        **options,  # type: ignore[arg-type]
    )


def test_v2_request_and_cache() -> None:
    endpoint, clock = Endpoint(), FrozenClock(1_000.0)
    tokens = provider(endpoint, clock)
    assert tokens.token(ORG).access_token == "t1"
    assert tokens.token(ORG).access_token == "t1"
    assert len(endpoint.requests) == 1
    assert endpoint.urls[0] == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    assert endpoint.requests[0] == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT],
        "client_secret": ["s3cret+value/="],
        "scope": [f"{ORG}/.default"],
    }


def test_v1_request_takes_string_numbers() -> None:
    endpoint, clock = Endpoint(), FrozenClock(1_000.0)

    def v1(request: httpx.Request) -> httpx.Response:
        endpoint.requests.append(parse_qs(request.content.decode()))
        return httpx.Response(200, json={"token_type": "Bearer", "expires_in": "3599", "access_token": "v1"})

    tokens = TokenProvider(
        TENANT, CLIENT, ClientSecret("x"), v2=False, clock=clock.now, transport=httpx.MockTransport(v1)
    )
    assert tokens.token(ORG).expires_on == 1_000.0 + 3599
    assert endpoint.requests[0]["resource"] == [ORG]


def test_refresh_five_minutes_before_expiry() -> None:
    endpoint, clock = Endpoint(), FrozenClock(0.0)
    tokens = provider(endpoint, clock)
    tokens.token(ORG)
    clock.advance(3599 - 301)
    assert tokens.token(ORG).access_token == "t1"
    clock.advance(2)
    assert tokens.token(ORG).access_token == "t2"


def test_refresh_in_from_the_server_wins() -> None:
    endpoint, clock = Endpoint(refresh_in=600), FrozenClock(0.0)
    tokens = provider(endpoint, clock)
    tokens.token(ORG)
    clock.advance(600)
    assert tokens.token(ORG).access_token == "t2"


def test_a_failed_refresh_keeps_the_valid_token_and_waits_30_seconds() -> None:
    endpoint, clock = Endpoint(), FrozenClock(0.0)
    tokens = provider(endpoint, clock)
    tokens.token(ORG)
    clock.advance(3400)
    endpoint.fail_with = (503, {"error": "temporarily_unavailable", "error_description": "AADSTS90033: try again"})
    assert tokens.token(ORG).access_token == "t1"
    assert len(endpoint.requests) == 2
    clock.advance(29)
    assert tokens.token(ORG).access_token == "t1"
    assert len(endpoint.requests) == 2  # no retry inside 30 s
    clock.advance(2)
    endpoint.fail_with = None
    assert tokens.token(ORG).access_token == "t3"


def test_an_expired_token_and_a_failure_raise_with_code_and_hint() -> None:
    endpoint, clock = Endpoint(), FrozenClock(0.0)
    endpoint.fail_with = (
        401,
        {
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x",
            "correlation_id": "c",
        },
    )
    with pytest.raises(AuthenticationError) as caught:
        provider(endpoint, clock).token(ORG)
    assert caught.value.code == 7000215
    assert caught.value.status == 401
    assert caught.value.correlation_id == "c"
    assert "Value" in caught.value.hint
    assert caught.value.description == "AADSTS7000215: Invalid client secret provided."


def test_single_flight_under_64_threads() -> None:
    endpoint, clock = Endpoint(), FrozenClock(0.0)
    endpoint.delay = 0.05
    tokens = provider(endpoint, clock)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(tokens.token(ORG).access_token)) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == ["t1"] * 64
    assert len(endpoint.requests) == 1


def test_token_credential_protocol() -> None:
    endpoint, clock = Endpoint(), FrozenClock(100.0)
    tokens = provider(endpoint, clock)
    token = tokens.get_token(f"{ORG}/.default")
    assert (token.token, token.expires_on) == ("t1", 100 + 3599)
    info = tokens.get_token_info(f"{ORG}/.default")
    assert (info.token, info.token_type, info.refresh_on) == ("t1", "Bearer", 100 + 3599 - 300)
    with pytest.raises(ClientError):
        tokens.get_token(f"{ORG}/.default", "https://graph.microsoft.com/.default")


def test_get_token_fast_path_still_refreshes_and_honours_invalidate() -> None:
    endpoint, clock = Endpoint(), FrozenClock(0.0)
    tokens = provider(endpoint, clock)
    scope = f"{ORG}/.default"
    first = tokens.get_token(scope)
    assert tokens.get_token(scope) is first  # the cache hit hands out the same object
    clock.advance(3599 - 301)
    assert tokens.get_token(scope).token == "t1"
    clock.advance(2)  # due: five minutes before expiry
    assert tokens.get_token(scope).token == "t2"
    tokens.invalidate(ORG)  # the Web API refused it: the next call fetches a new one
    assert tokens.get_token(scope).token == "t3"
    clock.advance(3400)
    endpoint.fail_with = (503, {"error": "temporarily_unavailable", "error_description": "AADSTS90033: try again"})
    assert tokens.get_token(scope).token == "t3"  # a failed refresh keeps serving the valid token
    assert tokens.get_token(scope).token == "t3"
    assert len(endpoint.requests) == 4  # and does not retry inside 30 s


def test_an_invalidation_racing_get_token_is_not_lost() -> None:
    endpoint, clock = Endpoint(), FrozenClock(0.0)
    tokens = provider(endpoint, clock)
    scope = f"{ORG}/.default"
    read = tokens.token

    def read_then_another_thread_invalidates(resource: str) -> object:
        token = read(resource)
        tokens.invalidate(ORG)  # another thread got a 401 with this very token meanwhile
        return token

    tokens.token = read_then_another_thread_invalidates  # type: ignore[method-assign,assignment]
    assert tokens.get_token(scope).token == "t1"
    tokens.token = read  # type: ignore[method-assign]
    assert tokens.get_token(scope).token == "t2"  # the refused token was not remembered by the fast path


@pytest.mark.parametrize("sha256", [False, True])
def test_certificate_assertion(sha256: bool) -> None:
    credential = make_certificate()
    fields = ClientCertificate(credential.key, credential.certificate, sha256=sha256).fields(
        CLIENT, "https://x/t/oauth2/v2.0/token", 1_000.0
    )
    assert fields["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    header = jwt.get_unverified_header(fields["client_assertion"])
    claims = jwt.decode(
        fields["client_assertion"],
        credential.key.public_key(),
        algorithms=["RS256", "PS256"],
        audience="https://x/t/oauth2/v2.0/token",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert claims["iss"] == claims["sub"] == CLIENT
    assert claims["exp"] - claims["iat"] == 600
    if sha256:
        assert header["alg"] == "PS256"
        assert "x5t#S256" in header
    else:
        assert header["alg"] == "RS256"
        import base64

        assert base64.urlsafe_b64decode(header["x5t"] + "=") == credential.certificate.fingerprint(hashes.SHA1())  # noqa: S303
    assert json.dumps(fields)
