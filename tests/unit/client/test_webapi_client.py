"""The Web API client's retry rules against a mock Web API: 429/5xx with Retry-After, connection errors, 401."""

from __future__ import annotations

import httpx
import pytest

from d365local.client import DataverseApiError, RetryNotice, WebApiClient
from d365local.client.token_protocol import AccessToken

ORG = "https://contoso.crm.dynamics.com"


class Credential:
    def __init__(self) -> None:
        self.issued = 0
        self.invalidated: list[str] = []

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        assert scopes == (f"{ORG}/.default",)
        return AccessToken(f"token{self.issued}", 0)

    def invalidate(self, resource: str) -> None:
        self.invalidated.append(resource)
        self.issued += 1


def client(handler: httpx.MockTransport, credential: Credential, sleeps: list[float]) -> WebApiClient:
    return WebApiClient(ORG, credential, transport=handler, verify=False, sleep=sleeps.append)


def test_429_with_retry_after_is_retried_then_succeeds() -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"code": "0x80072322", "message": "limit"}}),
        httpx.Response(503),
        httpx.Response(200, json={"UserId": "u"}),
    ]
    sleeps: list[float] = []
    with client(httpx.MockTransport(lambda request: answers.pop(0)), Credential(), sleeps) as api:
        assert api.who_am_i() == {"UserId": "u"}
    assert 7 <= sleeps[0] <= 7.5  # Retry-After plus jitter
    assert 1.0 <= sleeps[1] <= 1.75  # backoff for the 2nd attempt (1 s + jitter), plus the retry jitter
    assert answers == []


@pytest.mark.parametrize(("retry_after", "waits"), [("45", 5), ("600", 0)])
def test_retries_are_bounded_and_long_waits_are_raised(retry_after: str, waits: int) -> None:
    """Five waits at most; a Retry-After beyond max_delay (60 s) is raised at once, carrying the wait."""
    sleeps: list[float] = []
    handler = httpx.MockTransport(
        lambda request: httpx.Response(
            429, headers={"Retry-After": retry_after}, json={"error": {"code": "0x80072322", "message": "limit"}}
        )
    )
    with client(handler, Credential(), sleeps) as api, pytest.raises(DataverseApiError) as caught:
        api.who_am_i()
    assert caught.value.status == 429
    assert caught.value.code == "0x80072322"
    assert caught.value.retry_after == int(retry_after)
    assert len(sleeps) == waits
    assert all(45 <= sleep <= 45.5 for sleep in sleeps)


def test_connection_errors_back_off() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"UserId": "u"})

    sleeps: list[float] = []
    with client(httpx.MockTransport(handler), Credential(), sleeps) as api:
        assert api.who_am_i()["UserId"] == "u"
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("method", "error", "resent"),
    [
        ("POST", httpx.ReadTimeout, False),  # the create may have happened: never twice
        ("POST", httpx.RemoteProtocolError, False),
        ("POST", httpx.ConnectError, True),  # never reached the server: safe
        ("GET", httpx.ReadTimeout, True),
        ("PATCH", httpx.ReadError, True),  # an update or upsert of the same values
        ("DELETE", httpx.ReadTimeout, True),
    ],
)
def test_a_lost_reply_is_resent_only_when_that_cannot_repeat_a_write(
    method: str, error: type[httpx.TransportError], resent: bool
) -> None:
    requests: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request.method)
        if len(requests) == 1:
            raise error("lost", request=request)
        headers = {"OData-EntityId": f"{ORG}/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)"}
        return httpx.Response(204, headers=headers)

    sleeps: list[float] = []
    with client(httpx.MockTransport(handler), Credential(), sleeps) as api:
        calls = {
            "POST": lambda: api.create("accounts", {"name": "x"}),
            "GET": lambda: api.who_am_i(),
            "PATCH": lambda: api.update("accounts", "00000000-0000-0000-0000-000000000001", {"name": "x"}),
            "DELETE": lambda: api.delete("accounts", "00000000-0000-0000-0000-000000000001"),
        }
        if resent:
            calls[method]()
        else:
            with pytest.raises(error):
                calls[method]()
    assert requests == [method] * (2 if resent else 1)


def test_401_refreshes_the_token_once() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(401 if len(seen) < 3 else 200, json={})

    credential = Credential()
    with client(httpx.MockTransport(handler), credential, []) as api, pytest.raises(DataverseApiError) as caught:
        api.who_am_i()
    assert caught.value.status == 401
    assert seen == ["Bearer token0", "Bearer token1"]
    assert credential.invalidated == [ORG]


def test_create_reads_the_id_and_query_follows_next_links() -> None:
    record_id = "5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f60"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(204, headers={"OData-EntityId": f"{ORG}/api/data/v9.2/accounts({record_id})"})
        if "skiptoken" in str(request.url):
            return httpx.Response(200, json={"value": [{"name": "b"}]})
        assert request.headers["Prefer"] == "odata.maxpagesize=1"
        return httpx.Response(
            200, json={"value": [{"name": "a"}], "@odata.nextLink": f"{ORG}/api/data/v9.2/accounts?$skiptoken=x"}
        )

    with client(httpx.MockTransport(handler), Credential(), []) as api:
        assert api.create("accounts", {"name": "a"}) == record_id
        assert [r["name"] for r in api.query("accounts", select=["name"], page_size=1)] == ["a", "b"]


def test_one_prefer_header_with_page_size_and_annotations() -> None:
    from d365local.client import webapi_protocol as wire

    assert wire.prefer_headers(100, "*") == {"Prefer": 'odata.maxpagesize=100,odata.include-annotations="*"'}
    assert wire.prefer_headers(None, None) == {}
    top = wire.query_request("accounts", top=3, annotations="*")
    assert top.headers == {"Prefer": 'odata.include-annotations="*"'}  # with $top, no page size (see query_request)


def test_on_retry_hears_of_every_wait_before_it_happens() -> None:
    """The hook an application uses to say "throttled, waiting" (the CLI prints it); the library never prints."""
    answers = [
        httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"code": "0x80072322", "message": "limit"}}),
        httpx.Response(503),
        httpx.Response(200, json={"UserId": "u"}),
    ]
    sleeps: list[float] = []
    notices: list[RetryNotice] = []

    def on_retry(notice: RetryNotice) -> None:
        assert len(sleeps) == len(notices)  # told before the wait, not after
        notices.append(notice)

    transport = httpx.MockTransport(lambda request: answers.pop(0))
    with WebApiClient(
        ORG, Credential(), transport=transport, verify=False, sleep=sleeps.append, on_retry=on_retry
    ) as api:
        api.who_am_i()
    assert [(n.status, n.retry_after, n.attempt, n.max_retries, n.method) for n in notices] == [
        (429, 7, 1, 5, "GET"),
        (503, None, 2, 5, "GET"),
    ]
    assert [n.delay for n in notices] == sleeps
    assert notices[0].url == f"{ORG}/api/data/v9.2/WhoAmI"


def test_on_retry_after_a_connection_error_has_no_status() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return httpx.Response(200, json={"UserId": "u"})

    notices: list[RetryNotice] = []
    transport = httpx.MockTransport(handler)
    with WebApiClient(
        ORG, Credential(), transport=transport, verify=False, sleep=lambda s: None, on_retry=notices.append
    ) as api:
        api.who_am_i()
    assert [(n.status, n.retry_after, n.attempt) for n in notices] == [(None, None, 1)]
