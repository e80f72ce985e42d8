"""A small Dataverse Web API client on httpx: the calls integrations make, with the retries they should make.

- Retries 429/502/503/504 honouring an integer ``Retry-After`` (with jitter, capped), and connection errors with
  exponential backoff; on 401 it asks the credential for a fresh token once and retries.
- Failures raise :class:`DataverseApiError` with the Dataverse hex code and message.
- ``$batch`` with change sets: build a :class:`~d365local.client.batch.Batch` and pass it to :meth:`execute_batch`.
- The credential is anything with azure-core's ``get_token(scope)``: :class:`TokenProvider`, azure-identity's…

The wire rules live in :mod:`d365local.client.webapi_protocol` and :mod:`d365local.client.batch`, shared with
:class:`~d365local.client.async_webapi.AsyncWebApiClient`; this module only sends, waits and reads.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import httpx

from d365local.client import webapi_protocol as wire
from d365local.client.batch import Batch, BatchResult, batch_request, read_reply
from d365local.client.token_protocol import AccessToken
from d365local.client.token_provider import default_verify

RETRY_STATUSES = wire.RETRY_STATUSES


class TokenCredential(Protocol):
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken: ...


class WebApiClient:
    def __init__(
        self,
        org_url: str,
        credential: TokenCredential,
        *,
        version: str = "v9.2",
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool | None = None,
        max_retries: int = 5,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
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
        self._http = httpx.Client(
            transport=transport, verify=default_verify() if verify is None else verify, timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WebApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------------------------
    def who_am_i(self) -> dict[str, Any]:
        return self._json(wire.who_am_i_request())

    def create(self, entity_set: str, record: Mapping[str, Any]) -> str:
        return wire.created_id(self._send(wire.create_request(entity_set, record)).headers)

    def get(
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
        return self._json(
            wire.get_request(entity_set, record_id, select=select, expand=expand, annotations=annotations)
        )

    def update(self, entity_set: str, record_id: str, changes: Mapping[str, Any]) -> None:
        self._send(wire.update_request(entity_set, record_id, changes))

    def upsert(self, entity_set: str, key: str, record: Mapping[str, Any]) -> None:
        """``key`` is an id or an alternate key such as ``accountnumber='A1'``."""
        self._send(wire.upsert_request(entity_set, key, record))

    def delete(self, entity_set: str, record_id: str) -> None:
        self._send(wire.delete_request(entity_set, record_id))

    def query(
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
    ) -> Iterator[dict[str, Any]]:
        """Every matching record, following ``@odata.nextLink`` page by page."""
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
            records, next_link = wire.page_of(self._json(request))
            yield from records
            if next_link is None:
                return
            request = wire.next_page_request(next_link, page_size, annotations)

    def count(self, entity_set: str, *, filter: str | None = None) -> int:
        """How many records match, as ``ENTITYSET/$count`` answers: Dataverse caps it at 5000."""
        return wire.parse_count(self._send(wire.count_request(entity_set, filter=filter)).text)

    def create_multiple(self, entity_set: str, logical_name: str, records: Sequence[Mapping[str, Any]]) -> list[str]:
        document = self._json(wire.create_multiple_request(entity_set, logical_name, records))
        return [str(i) for i in document.get("Ids", [])]

    def update_multiple(self, entity_set: str, logical_name: str, records: Sequence[Mapping[str, Any]]) -> None:
        self._send(wire.update_multiple_request(entity_set, logical_name, records))

    def execute_batch(
        self, batch: Batch, *, continue_on_error: bool = False, raise_on_error: bool = False
    ) -> list[BatchResult]:
        """Send ``batch`` as one ``$batch`` request: one result per answered operation, in order.

        Without ``continue_on_error`` Dataverse stops at the first failure. A failure is a result with
        ``ok == False`` (``result.raise_for_status()`` raises it); with ``raise_on_error`` the first one is raised
        as :class:`~d365local.client.batch.BatchError`, which carries all results.
        """
        if not batch.operations:
            return []
        response = self._send(batch_request(batch, self.api, continue_on_error=continue_on_error), check=False)
        return read_reply(
            batch, response.status_code, response.headers, response.content, raise_on_error=raise_on_error
        )

    def request(
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
        return self._send(request)

    # -- transport ------------------------------------------------------------------------------------------
    def _notify(self, retry: wire.RetryState, method: str, url: str) -> None:
        if self._on_retry is not None:
            self._on_retry(retry.notice(method, url))

    def _json(self, request: wire.ApiRequest) -> dict[str, Any]:
        return wire.json_document(self._send(request).content)

    def _send(self, request: wire.ApiRequest, *, check: bool = True) -> httpx.Response:
        """Send with retries; ``check=False`` hands error replies back instead of raising (``$batch`` reads them)."""
        url = wire.url_of(self.api, request.path)
        retry = wire.RetryState(self._max_retries, self._max_delay)
        while True:
            token = self._credential.get_token(wire.token_scope(self.org_url))
            try:
                response = self._http.request(
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
                self._sleep(retry.delay)
                continue
            step = retry.after_response(response.status_code, response.headers)
            if step is wire.Step.REFRESH:
                _force_refresh(self._credential, self.org_url)
                continue
            if step is wire.Step.WAIT:
                self._notify(retry, request.method, url)
                self._sleep(retry.delay)
                continue
            if check and response.status_code >= 400:
                raise wire.api_error(response.status_code, response.headers, response.content, response.reason_phrase)
            return response


def maybe_sent(error: httpx.TransportError) -> bool:
    """Whether the request may have reached the server: anything but a failure to connect."""
    return not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _force_refresh(credential: TokenCredential, org_url: str) -> None:
    """Make the next ``get_token`` fetch a new token when the credential knows how (d365local's providers do)."""
    invalidate = getattr(credential, "invalidate", None)
    if callable(invalidate):
        invalidate(org_url)
