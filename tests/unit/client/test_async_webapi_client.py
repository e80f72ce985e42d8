"""The async Web API client's retry rules against a mock Web API: the same as the sync client's."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from d365local.client import AsyncWebApiClient, Batch, BatchError, DataverseApiError, RetryNotice
from d365local.client.token_protocol import AccessToken

ORG = "https://contoso.crm.dynamics.com"
RECORD = "5f6c2a4e-6bd3-4a1c-9f0a-1b2c3d4e5f60"


class Credential:
    def __init__(self) -> None:
        self.issued = 0
        self.invalidated: list[str] = []

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        assert scopes == (f"{ORG}/.default",)
        return AccessToken(f"token{self.issued}", 0)

    def invalidate(self, resource: str) -> None:
        self.invalidated.append(resource)
        self.issued += 1


class CoroutineInvalidateCredential(Credential):
    """A credential whose ``invalidate`` is a coroutine: the client awaits it."""

    async def invalidate(self, resource: str) -> None:  # type: ignore[override]
        super().invalidate(resource)


def client(transport: httpx.MockTransport, credential: Credential, sleeps: list[float]) -> AsyncWebApiClient:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return AsyncWebApiClient(ORG, credential, transport=transport, verify=False, sleep=sleep)


def test_429_with_retry_after_is_retried_then_succeeds() -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"code": "0x80072322", "message": "limit"}}),
        httpx.Response(503),
        httpx.Response(200, json={"UserId": "u"}),
    ]
    sleeps: list[float] = []

    async def main() -> dict[str, object]:
        async with client(httpx.MockTransport(lambda request: answers.pop(0)), Credential(), sleeps) as api:
            return await api.who_am_i()

    assert asyncio.run(main()) == {"UserId": "u"}
    assert 7 <= sleeps[0] <= 7.5  # Retry-After plus jitter
    assert 1.0 <= sleeps[1] <= 1.75  # backoff for the 2nd attempt (1 s + jitter), plus the retry jitter
    assert answers == []


def test_on_retry_hears_of_every_wait() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={"UserId": "u"})]
    notices: list[RetryNotice] = []

    async def sleep(seconds: float) -> None:
        assert len(notices) == 1  # told before the wait

    async def main() -> None:
        transport = httpx.MockTransport(lambda request: answers.pop(0))
        async with AsyncWebApiClient(
            ORG, Credential(), transport=transport, verify=False, sleep=sleep, on_retry=notices.append
        ) as api:
            await api.who_am_i()

    asyncio.run(main())
    assert [(n.status, n.retry_after, n.attempt) for n in notices] == [(429, 3, 1)]


@pytest.mark.parametrize(("retry_after", "waits"), [("45", 5), ("600", 0)])
def test_retries_are_bounded_and_long_waits_are_raised(retry_after: str, waits: int) -> None:
    """Five waits at most; a Retry-After beyond max_delay (60 s) is raised at once, carrying the wait."""
    sleeps: list[float] = []
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            429, headers={"Retry-After": retry_after}, json={"error": {"code": "0x80072322", "message": "limit"}}
        )
    )

    async def main() -> None:
        async with client(transport, Credential(), sleeps) as api:
            await api.who_am_i()

    with pytest.raises(DataverseApiError) as caught:
        asyncio.run(main())
    assert (caught.value.status, caught.value.code) == (429, "0x80072322")
    assert caught.value.hint
    assert caught.value.retry_after == int(retry_after)
    assert len(sleeps) == waits
    assert all(45 <= sleep <= 45.5 for sleep in sleeps)


def test_connection_errors_back_off_and_finally_raise() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"UserId": "u"})

    sleeps: list[float] = []

    async def main() -> dict[str, object]:
        async with client(httpx.MockTransport(handler), Credential(), sleeps) as api:
            return await api.who_am_i()

    assert asyncio.run(main())["UserId"] == "u"
    assert len(sleeps) == 2
    assert sleeps[0] < sleeps[1]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def never() -> None:
        async with client(httpx.MockTransport(refuse), Credential(), sleeps) as api:
            await api.who_am_i()

    sleeps.clear()
    with pytest.raises(httpx.ConnectError):
        asyncio.run(never())
    assert len(sleeps) == 5


@pytest.mark.parametrize("async_invalidate", [False, True])
def test_401_refreshes_the_token_once(async_invalidate: bool) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(
            401 if len(seen) < 3 else 200, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}, json={}
        )

    credential = CoroutineInvalidateCredential() if async_invalidate else Credential()

    async def main() -> None:
        async with client(httpx.MockTransport(handler), credential, []) as api:
            await api.who_am_i()

    with pytest.raises(DataverseApiError) as caught:
        asyncio.run(main())
    assert caught.value.status == 401
    assert "invalid_token" in caught.value.auth_error
    assert seen == ["Bearer token0", "Bearer token1"]
    assert credential.invalidated == [ORG]


def test_crud_query_and_count() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.method == "POST":
            return httpx.Response(204, headers={"OData-EntityId": f"{ORG}/api/data/v9.2/accounts({RECORD})"})
        if request.method in {"PATCH", "DELETE"}:
            return httpx.Response(204)
        if request.url.path.endswith("/$count"):
            return httpx.Response(200, text="\ufeff42")
        if "skiptoken" in str(request.url):
            return httpx.Response(200, json={"value": [{"name": "b"}]})
        if request.url.path.endswith(f"({RECORD})"):
            return httpx.Response(200, json={"name": "a"})
        assert request.headers["Prefer"] == "odata.maxpagesize=1"
        return httpx.Response(
            200, json={"value": [{"name": "a"}], "@odata.nextLink": f"{ORG}/api/data/v9.2/accounts?$skiptoken=x"}
        )

    async def main() -> None:
        async with client(httpx.MockTransport(handler), Credential(), []) as api:
            assert await api.create("accounts", {"name": "a"}) == RECORD
            assert await api.get("accounts", RECORD, select=["name"]) == {"name": "a"}
            await api.update("accounts", RECORD, {"name": "b"})
            await api.upsert("accounts", "accountnumber='A1'", {"name": "c"})
            await api.delete("accounts", RECORD)
            assert [r["name"] async for r in api.query("accounts", select=["name"], page_size=1)] == ["a", "b"]
            assert await api.count("accounts") == 42

    asyncio.run(main())
    patches = [r for r in requests if r.method == "PATCH"]
    assert patches[0].headers["If-Match"] == "*"
    assert "If-Match" not in patches[1].headers  # an upsert may create
    assert next(r for r in requests if r.method == "DELETE").headers["If-Match"] == "*"
    assert requests[1].url.params["$select"] == "name"


def test_batch_is_retried_and_its_failures_surface() -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "1"}, json={"error": {"code": "0x80072322", "message": "limit"}}),
        httpx.Response(
            400,
            headers={"Content-Type": "multipart/mixed; boundary=batchresponse_1"},
            content=(
                b"--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n"
                b'{"error":{"code":"0x80040203","message":"bad"}}\r\n--batchresponse_1--\r\n'
            ),
        ),
    ]
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answers.pop(0)

    batch = Batch()
    with batch.change_set() as change_set:
        change_set.create("accounts", {"name": "a"})
        change_set.create("contacts", {"lastname": "b"})
    sleeps: list[float] = []

    async def main() -> None:
        async with client(httpx.MockTransport(handler), Credential(), sleeps) as api:
            await api.execute_batch(batch, continue_on_error=True, raise_on_error=True)

    with pytest.raises(BatchError) as caught:
        asyncio.run(main())
    assert caught.value.code == "0x80040203"
    assert [r.status for r in caught.value.results] == [400, 400]
    assert len(sleeps) == 1
    assert sent[1].url.path == "/api/data/v9.2/$batch"
    assert sent[1].headers["Prefer"] == "odata.continue-on-error"
    assert sent[1].content == sent[0].content  # the retry resends the same body


def test_an_empty_batch_sends_nothing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing should be sent")

    async def main() -> list[object]:
        async with client(httpx.MockTransport(handler), Credential(), []) as api:
            return list(await api.execute_batch(Batch()))

    assert asyncio.run(main()) == []
