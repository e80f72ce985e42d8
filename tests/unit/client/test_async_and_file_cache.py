"""The asyncio provider's single-flight, and the file cache shared by providers (as by processes)."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from urllib.parse import parse_qs

import httpx

from d365local.client import AsyncTokenProvider, ClientSecret, FileTokenCache, TokenProvider
from d365local.clock import FrozenClock
from tests.unit.client.test_token_provider import CLIENT, ORG, TENANT, Endpoint


def test_single_flight_under_64_tasks() -> None:
    count = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        await asyncio.sleep(0.05)  # lets every other task reach the lock while this request is in flight
        assert parse_qs(request.content.decode())["scope"] == [f"{ORG}/.default"]
        return httpx.Response(200, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "a1"})

    async def main() -> list[str]:
        async with AsyncTokenProvider(
            TENANT, CLIENT, ClientSecret("x"), clock=FrozenClock(0.0).now, transport=httpx.MockTransport(handler)
        ) as tokens:
            results = await asyncio.gather(*(tokens.get_token(f"{ORG}/.default") for _ in range(64)))
            return [r.token for r in results]

    assert asyncio.run(main()) == ["a1"] * 64
    assert count == 1


def test_file_cache_is_shared_and_private(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    endpoint, clock = Endpoint(), FrozenClock(0.0)
    first = TokenProvider(
        TENANT,
        CLIENT,
        ClientSecret("x"),
        cache=FileTokenCache(path),
        clock=clock.now,
        transport=httpx.MockTransport(endpoint),
    )
    second = TokenProvider(
        TENANT,
        CLIENT,
        ClientSecret("x"),
        cache=FileTokenCache(path),
        clock=clock.now,
        transport=httpx.MockTransport(endpoint),
    )
    assert first.token(ORG).access_token == "t1"
    assert second.token(ORG).access_token == "t1"  # read from the file the first one wrote
    assert len(endpoint.requests) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("{not json")
    assert second.token(ORG).access_token == "t2"  # a damaged file is a cache miss, then rewritten whole
    assert FileTokenCache(path).get(("https://login.microsoftonline.com", TENANT, CLIENT.lower(), ORG)) is not None


def test_async_fast_path_refresh_and_invalidate() -> None:
    endpoint, clock = Endpoint(), FrozenClock(0.0)

    async def handler(request: httpx.Request) -> httpx.Response:
        return endpoint(request)

    async def main() -> list[str]:
        async with AsyncTokenProvider(
            TENANT, CLIENT, ClientSecret("x"), clock=clock.now, transport=httpx.MockTransport(handler)
        ) as tokens:
            scope = f"{ORG}/.default"
            seen = [(await tokens.get_token(scope)).token, (await tokens.get_token(scope)).token]
            clock.advance(3599 - 299)  # due: five minutes before expiry
            seen.append((await tokens.get_token(scope)).token)
            tokens.invalidate(ORG)  # the Web API refused it
            seen.append((await tokens.get_token(scope)).token)
            return seen

    assert asyncio.run(main()) == ["t1", "t1", "t2", "t3"]
    assert len(endpoint.requests) == 3
