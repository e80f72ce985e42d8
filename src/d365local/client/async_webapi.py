"""The asyncio twin of :class:`~d365local.client.webapi.WebApiClient`: the same calls, retries and errors, on
``httpx.AsyncClient``, for integrations that already run an event loop (web apps, fan-out jobs).

- Retries 429/502/503/504 honouring an integer ``Retry-After`` (with jitter, capped), and connection errors with
  exponential backoff; on 401 it asks the credential for a fresh token once and retries.
- Failures raise :class:`DataverseApiError`; :meth:`AsyncWebApiClient.query` is an async iterator over all pages.
- The credential is anything with azure-core's async ``get_token(scope)``: :class:`AsyncTokenProvider`,
  azure-identity's ``azure.identity.aio`` credentials…

Every wire rule comes from :mod:`d365local.client.webapi_protocol` and :mod:`d365local.client.batch`, so the two
clients cannot drift apart; this module only sends, awaits and reads.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import httpx

from d365local.client import webapi_protocol as wire
from d365local.client.batch import Batch, BatchResult, batch_request, read_reply
from d365local.client.token_protocol import AccessToken
from d365local.client.token_provider import default_verify
from d365local.client.webapi import maybe_sent


class AsyncTokenCredential(Protocol):
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken: ...


class AsyncWebApiClient:
    def __init__(
        self,
        org_url: str,
        credential: AsyncTokenCredential,
        *,
        version: str = "v9.2",
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool | None = None,
        max_retries: int = 5,
        max_delay: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout: float = 120.0,
        on_retry: Callable[[wire.RetryNotice], None] | None = None,
    ) -> None:
        """``on_retry`` is called before each wait for a retry (429/5xx or a connection error) — e.g. to tell a
        user that the call is being throttled; the client itself never prints."""
        self.org_url = org_url.rstrip("/")
        self.api = wire.api_root(self.org_url, version)
        self._credential = credential
        self._max_retries = max_retries
        self._max_delay = max_delay
        self._sleep = sleep
        self._on_retry = on_retry
        self._http = httpx.AsyncClient(
            transport=transport, verify=default_verify() if verify is None else verify, timeout=timeout
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncWebApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- calls ----------------------------------------------------------------------------------------------
    async def who_am_i(self) -> dict[str, Any]:
        return await self._json(wire.who_am_i_request())

    async def create(self, entity_set: str, record: Mapping[str, Any]) -> str:
        return wire.created_id((await self._send(wire.create_request(entity_set, record))).headers)

    async def get(
        self,
        entity_set: str,
        record_id: str,
        *,
        select: Sequence[str] = (),
        expand: Sequence[str] = (),
        annotations: str | None = None,
    ) -> dict[str, Any]:
        """One record; ``annotations="*"`` (or a name such as ``OData.Community.Display.V1.FormattedValue``) adds
        the formatted values, lookup names and lookup targets."""
        return await self._json(
            wire.get_request(entity_set, record_id, select=select, expand=expand, annotations=annotations)
        )

    async def update(self, entity_set: str, record_id: str, changes: Mapping[str, Any]) -> None:
        await self._send(wire.update_request(entity_set, record_id, changes))

    async def upsert(self, entity_set: str, key: str, record: Mapping[str, Any]) -> None:
        """``key`` is an id or an alternate key such as ``accountnumber='A1'``."""
        await self._send(wire.upsert_request(entity_set, key, record))

    async def delete(self, entity_set: str, record_id: str) -> None:
        await self._send(wire.delete_request(entity_set, record_id))

    async def query(
        self,
        entity_set: str,
        *,
        select: Sequence[str] = (),
        filter: str | None = None,
        orderby: Sequence[str] = (),
        top: int | None = None,
        expand: Sequence[str] = (),
        page_size: int = 5000,
        annotations: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every matching record, following ``@odata.nextLink`` page by page (``async for record in …``)."""
        request = wire.query_request(
            entity_set,
            select=select,
            filter=filter,
            orderby=orderby,
            top=top,
            expand=expand,
            page_size=page_size,
            annotations=annotations,
        )
        while True:
            records, next_link = wire.page_of(await self._json(request))
            for record in records:
                yield record
            if next_link is None:
                return
            request = wire.next_page_request(next_link, page_size, annotations)

    async def count(self, entity_set: str, *, filter: str | None = None) -> int:
        """How many records match, as ``ENTITYSET/$count`` answers: Dataverse caps it at 5000."""
        return wire.parse_count((await self._send(wire.count_request(entity_set, filter=filter))).text)

    async def create_multiple(
        self, entity_set: str, logical_name: str, records: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        document = await self._json(wire.create_multiple_request(entity_set, logical_name, records))
        return [str(i) for i in document.get("Ids", [])]

    async def update_multiple(self, entity_set: str, logical_name: str, records: Sequence[Mapping[str, Any]]) -> None:
        await self._send(wire.update_multiple_request(entity_set, logical_name, records))

    async def execute_batch(
        self, batch: Batch, *, continue_on_error: bool = False, raise_on_error: bool = False
    ) -> list[BatchResult]:
        """Send ``batch`` as one ``$batch`` request: one result per answered operation, in order (see
        :meth:`WebApiClient.execute_batch <d365local.client.webapi.WebApiClient.execute_batch>`)."""
        if not batch.operations:
            return []
        request = batch_request(batch, self.api, continue_on_error=continue_on_error)
        response = await self._send(request, check=False)
        return read_reply(
            batch, response.status_code, response.headers, response.content, raise_on_error=raise_on_error
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Any other call (an action, a function, ``$ref``…), relative to the API root or absolute, with the same
        token, retries and errors as the calls above: ``DataverseApiError`` on a 4xx/5xx answer."""
        request = wire.ApiRequest(
            method.upper(), path, params=dict(params or {}), json=json, headers=dict(headers or {})
        )
        return await self._send(request)

    # -- transport ------------------------------------------------------------------------------------------
    def _notify(self, retry: wire.RetryState, method: str, url: str) -> None:
        if self._on_retry is not None:
            self._on_retry(retry.notice(method, url))

    async def _json(self, request: wire.ApiRequest) -> dict[str, Any]:
        return wire.json_document((await self._send(request)).content)

    async def _send(self, request: wire.ApiRequest, *, check: bool = True) -> httpx.Response:
        """Send with retries; ``check=False`` hands error replies back instead of raising (``$batch`` reads them)."""
        url = wire.url_of(self.api, request.path)
        retry = wire.RetryState(self._max_retries, self._max_delay)
        while True:
            token = await self._credential.get_token(wire.token_scope(self.org_url))
            try:
                response = await self._http.request(
                    request.method,
                    url,
                    params=request.params or None,
                    json=request.json,
                    content=request.content,
                    headers=wire.request_headers(token.token, request.headers),
                )
            except httpx.TransportError as error:
                if retry.after_connection_error(request.method, maybe_sent=maybe_sent(error)) is wire.Step.DONE:
                    raise
                self._notify(retry, request.method, url)
                await self._sleep(retry.delay)
                continue
            step = retry.after_response(response.status_code, response.headers)
            if step is wire.Step.REFRESH:
                await _force_refresh(self._credential, self.org_url)
                continue
            if step is wire.Step.WAIT:
                self._notify(retry, request.method, url)
                await self._sleep(retry.delay)
                continue
            if check and response.status_code >= 400:
                raise wire.api_error(response.status_code, response.headers, response.content, response.reason_phrase)
            return response


async def _force_refresh(credential: AsyncTokenCredential, org_url: str) -> None:
    """Make the next ``get_token`` fetch a new token when the credential knows how; ``invalidate`` may be a plain
    method (d365local's providers) or a coroutine."""
    invalidate = getattr(credential, "invalidate", None)
    if callable(invalidate):
        outcome = invalidate(org_url)
        if inspect.isawaitable(outcome):
            await outcome
