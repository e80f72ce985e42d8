"""A small Dataverse Web API client on httpx: the calls integrations make, with the retries they should make.

- Retries 429/502/503/504 honouring an integer ``Retry-After`` (with jitter, capped), and connection errors with
  exponential backoff; on 401 it asks the credential for a fresh token once and retries.
- Failures raise :class:`DataverseApiError` with the Dataverse hex code and message.
- The credential is anything with azure-core's ``get_token(scope)``: :class:`TokenProvider`, azure-identity's…
"""

from __future__ import annotations

import random
import re
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import httpx

from d365local.client.errors import ClientError, DataverseApiError
from d365local.client.token_protocol import AccessToken
from d365local.client.token_provider import default_verify

RETRY_STATUSES = frozenset({429, 502, 503, 504})
_ENTITY_ID = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")


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
    ) -> None:
        self.org_url = org_url.rstrip("/")
        self.api = f"{self.org_url}/api/data/{version}"
        self._credential = credential
        self._max_retries = max_retries
        self._max_delay = max_delay
        self._sleep = sleep
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
        return self._json("GET", "WhoAmI")

    def create(self, entity_set: str, record: Mapping[str, Any]) -> str:
        response = self._send("POST", entity_set, json=dict(record))
        match = _ENTITY_ID.search(response.headers.get("OData-EntityId", ""))
        if match is None:
            raise ClientError("the create response has no OData-EntityId")
        return match.group(1)

    def get(
        self, entity_set: str, record_id: str, *, select: Sequence[str] = (), expand: Sequence[str] = ()
    ) -> dict[str, Any]:
        return self._json("GET", f"{entity_set}({record_id})", params=_options(select=select, expand=expand))

    def update(self, entity_set: str, record_id: str, changes: Mapping[str, Any]) -> None:
        self._send("PATCH", f"{entity_set}({record_id})", json=dict(changes), headers={"If-Match": "*"})

    def upsert(self, entity_set: str, key: str, record: Mapping[str, Any]) -> None:
        """``key`` is an id or an alternate key such as ``accountnumber='A1'``."""
        self._send("PATCH", f"{entity_set}({key})", json=dict(record))

    def delete(self, entity_set: str, record_id: str) -> None:
        self._send("DELETE", f"{entity_set}({record_id})", headers={"If-Match": "*"})

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
    ) -> Iterator[dict[str, Any]]:
        """Every matching record, following ``@odata.nextLink`` page by page."""
        params = _options(select=select, filter=filter, orderby=orderby, top=top, expand=expand)
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        document = self._json("GET", entity_set, params=params, headers=headers)
        while True:
            yield from document.get("value", [])
            next_link = document.get("@odata.nextLink")
            if not next_link:
                return
            document = self._json("GET", str(next_link), headers=headers)

    def count(self, entity_set: str, *, filter: str | None = None) -> int:
        """How many records match, as ``ENTITYSET/$count`` answers: Dataverse caps it at 5000."""
        response = self._send("GET", f"{entity_set}/$count", params=_options(filter=filter))
        text = response.text.strip().lstrip("\ufeff")
        if not text.isdigit():
            raise ClientError(f"$count answered {text[:80]!r}, not a number")
        return int(text)

    def create_multiple(self, entity_set: str, logical_name: str, records: Sequence[Mapping[str, Any]]) -> list[str]:
        targets = [{**record, "@odata.type": f"Microsoft.Dynamics.CRM.{logical_name}"} for record in records]
        document = self._json("POST", f"{entity_set}/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets})
        return [str(i) for i in document.get("Ids", [])]

    def update_multiple(self, entity_set: str, logical_name: str, records: Sequence[Mapping[str, Any]]) -> None:
        targets = [{**record, "@odata.type": f"Microsoft.Dynamics.CRM.{logical_name}"} for record in records]
        self._send("POST", f"{entity_set}/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": targets})

    # -- transport ------------------------------------------------------------------------------------------
    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, path, **kwargs)
        document = response.json() if response.content else {}
        return document if isinstance(document, dict) else {"value": document}

    def _send(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        url = path if path.startswith("https://") or path.startswith("http://") else f"{self.api}/{path}"
        refreshed = False
        attempt = 0
        while True:
            token = self._credential.get_token(f"{self.org_url}/.default")
            request_headers = {
                "Authorization": f"Bearer {token.token}",
                "Accept": "application/json",
                "OData-MaxVersion": "4.0",
                "OData-Version": "4.0",
                **(headers or {}),
            }
            try:
                response = self._http.request(method, url, headers=request_headers, **kwargs)
            except httpx.TransportError:
                if attempt >= self._max_retries:
                    raise
                self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            if response.status_code == 401 and not refreshed:
                refreshed = True
                _force_refresh(self._credential, self.org_url)
                continue
            if response.status_code in RETRY_STATUSES and attempt < self._max_retries:
                self._sleep(self._retry_delay(response, attempt))
                attempt += 1
                continue
            if response.status_code >= 400:
                raise _api_error(response)
            return response

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        retry_after = response.headers.get("Retry-After", "")
        base = float(retry_after) if retry_after.isdigit() else self._backoff(attempt)
        return min(self._max_delay, base + random.uniform(0, 0.5))  # noqa: S311 - jitter, not security

    def _backoff(self, attempt: int) -> float:
        return min(self._max_delay, 0.5 * 2.0**attempt + random.uniform(0, 0.25))  # noqa: S311 - jitter, not security


def _force_refresh(credential: TokenCredential, org_url: str) -> None:
    """Make the next ``get_token`` fetch a new token when the credential knows how (d365local's providers do)."""
    invalidate = getattr(credential, "invalidate", None)
    if callable(invalidate):
        invalidate(org_url)


def _api_error(response: httpx.Response) -> DataverseApiError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    reason = response.headers.get("x-d365local-auth-error") or response.headers.get("WWW-Authenticate", "")
    return DataverseApiError(
        response.status_code,
        str(error.get("code", "")),
        str(error.get("message", reason or response.reason_phrase)),
        auth_error=reason if response.status_code == 401 else "",
    )


def _options(
    *,
    select: Sequence[str] = (),
    filter: str | None = None,
    orderby: Sequence[str] = (),
    top: int | None = None,
    expand: Sequence[str] = (),
) -> dict[str, str]:
    params: dict[str, str] = {}
    if select:
        params["$select"] = ",".join(select)
    if filter:
        params["$filter"] = filter
    if orderby:
        params["$orderby"] = ",".join(orderby)
    if top is not None:
        params["$top"] = str(top)
    if expand:
        params["$expand"] = ",".join(expand)
    return params
