"""The Dataverse Web API's wire rules for d365local's clients, without I/O.

What the sync :class:`~d365local.client.webapi.WebApiClient`, the async
:class:`~d365local.client.async_webapi.AsyncWebApiClient` and ``$batch`` share: which request each call makes
(:class:`ApiRequest`), the headers and URLs, query-option encoding, reading ids, counts and pages out of replies,
turning an error reply into :class:`DataverseApiError`, and the retry decisions (:class:`RetryState`). The clients
only move bytes and sleep; everything here is plain data in, plain data out.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import quote, urlencode

from d365local.client.errors import ClientError, DataverseApiError

RETRY_STATUSES = frozenset({429, 502, 503, 504})
ODATA_HEADERS: Mapping[str, str] = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
_ENTITY_ID = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")


@dataclass(frozen=True)
class ApiRequest:
    """One Web API request, described before it is sent (directly, or as a part of a ``$batch``)."""

    method: str
    path: str
    """Relative to the API root (``accounts(…)``), an absolute URL (``@odata.nextLink``) or, in a batch, ``$n``."""
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    """A raw body (the ``$batch`` multipart); ``json`` is the body otherwise."""


# -- the requests each call makes ----------------------------------------------------------------------------
def who_am_i_request() -> ApiRequest:
    return ApiRequest("GET", "WhoAmI")


def create_request(entity_set: str, record: Mapping[str, Any]) -> ApiRequest:
    return ApiRequest("POST", entity_set, json=dict(record))


def get_request(
    entity_set: str,
    record_id: str,
    *,
    select: Sequence[str] = (),
    expand: Sequence[str] = (),
    annotations: str | None = None,
) -> ApiRequest:
    return ApiRequest(
        "GET",
        f"{entity_set}({record_id})",
        params=query_options(select=select, expand=expand),
        headers=prefer_headers(None, annotations),
    )


def update_request(entity_set: str, record_id: str, changes: Mapping[str, Any]) -> ApiRequest:
    # If-Match: * turns the PATCH into a pure update: a missing record is a 404, not a silent create.
    return ApiRequest("PATCH", f"{entity_set}({record_id})", json=dict(changes), headers={"If-Match": "*"})


def upsert_request(entity_set: str, key: str, record: Mapping[str, Any]) -> ApiRequest:
    return ApiRequest("PATCH", f"{entity_set}({key})", json=dict(record))


def delete_request(entity_set: str, record_id: str) -> ApiRequest:
    return ApiRequest("DELETE", f"{entity_set}({record_id})", headers={"If-Match": "*"})


def query_request(
    entity_set: str,
    *,
    select: Sequence[str] = (),
    filter: str | None = None,
    orderby: Sequence[str] = (),
    top: int | None = None,
    expand: Sequence[str] = (),
    page_size: int | None = 5000,
    annotations: str | None = None,
) -> ApiRequest:
    params = query_options(select=select, filter=filter, orderby=orderby, top=top, expand=expand)
    # Dataverse ignores $top when odata.maxpagesize is also sent (docs/reference/dataverse.md, "Paging"), and $top is at
    # most 5000 (one page) anyway: with a top, ask for no page size so that top is what comes back.
    headers = prefer_headers(None if top is not None else page_size, annotations)
    return ApiRequest("GET", entity_set, params=params, headers=headers)


def next_page_request(next_link: str, page_size: int | None, annotations: str | None = None) -> ApiRequest:
    """The next page: ``@odata.nextLink`` already carries the query options; the preferences must be sent again."""
    return ApiRequest("GET", next_link, headers=prefer_headers(page_size, annotations))


def count_request(entity_set: str, *, filter: str | None = None) -> ApiRequest:
    return ApiRequest("GET", f"{entity_set}/$count", params=query_options(filter=filter))


def create_multiple_request(entity_set: str, logical_name: str, records: Sequence[Mapping[str, Any]]) -> ApiRequest:
    return ApiRequest(
        "POST", f"{entity_set}/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": _targets(logical_name, records)}
    )


def update_multiple_request(entity_set: str, logical_name: str, records: Sequence[Mapping[str, Any]]) -> ApiRequest:
    return ApiRequest(
        "POST", f"{entity_set}/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": _targets(logical_name, records)}
    )


def _targets(logical_name: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    # Every Target of CreateMultiple/UpdateMultiple must name its type (docs/reference/dataverse.md, "Bulk messages").
    return [{**record, "@odata.type": f"Microsoft.Dynamics.CRM.{logical_name}"} for record in records]


def prefer_headers(page_size: int | None, annotations: str | None = None) -> dict[str, str]:
    """One ``Prefer`` header, preferences comma-joined as the Dataverse SDK sends them. ``annotations``: ``*`` or
    names such as ``OData.Community.Display.V1.FormattedValue`` (``name@…FormattedValue`` in the answer)."""
    preferences = [f"odata.maxpagesize={page_size}"] if page_size else []
    if annotations:
        preferences.append(f'odata.include-annotations="{annotations}"')
    return {"Prefer": ",".join(preferences)} if preferences else {}


# -- URLs and headers ------------------------------------------------------------------------------------------
def api_root(org_url: str, version: str) -> str:
    return f"{org_url.rstrip('/')}/api/data/{version}"


def token_scope(org_url: str) -> str:
    return f"{org_url.rstrip('/')}/.default"


def url_of(api: str, path: str) -> str:
    """``path`` resolved against the API root; absolute URLs (next links) are used as they are."""
    return path if path.startswith(("https://", "http://")) else f"{api}/{path}"


def request_headers(access_token: str, extra: Mapping[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}", **ODATA_HEADERS, **extra}


def query_options(
    *,
    select: Sequence[str] = (),
    filter: str | None = None,
    orderby: Sequence[str] = (),
    top: int | None = None,
    expand: Sequence[str] = (),
) -> dict[str, str]:
    """The OData system query options for a call, unencoded (httpx or :func:`encode_query` encodes them)."""
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


def encode_query(params: Mapping[str, str]) -> str:
    """A query string for URLs written by hand (``$batch`` parts): ``$``, quotes and parentheses stay readable."""
    return urlencode(params, quote_via=quote, safe="$,'()/:@")


def encode_path(path: str) -> str:
    """A resource path for URLs written by hand: spaces in alternate keys are escaped, OData punctuation is not."""
    return quote(path, safe="$,'()/:@=;!*+&~")


# -- reading replies ---------------------------------------------------------------------------------------------
def entity_id(odata_entity_id: str) -> str | None:
    """The record id at the end of an ``OData-EntityId`` header (``…/accounts(<guid>)``), if it has one."""
    match = _ENTITY_ID.search(odata_entity_id)
    return match.group(1) if match else None


def created_id(headers: Mapping[str, str]) -> str:
    record_id = entity_id(headers.get("OData-EntityId", ""))
    if record_id is None:
        raise ClientError("the create response has no OData-EntityId")
    return record_id


def json_document(content: bytes) -> dict[str, Any]:
    """A reply body as an object; an empty body is ``{}`` and a bare array becomes ``{"value": [...]}``."""
    document = json.loads(content) if content else {}
    return document if isinstance(document, dict) else {"value": document}


def page_of(document: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """A page's records and its ``@odata.nextLink`` (``None`` on the last page)."""
    next_link = document.get("@odata.nextLink")
    return list(document.get("value", [])), str(next_link) if next_link else None


def parse_count(text: str) -> int:
    """A ``$count`` reply: a bare number (Dataverse caps it at 5000), sometimes after a byte-order mark."""
    stripped = text.strip().lstrip("\ufeff")
    if not (stripped.isascii() and stripped.isdigit()):
        raise ClientError(f"$count answered {stripped[:80]!r}, not a number")
    return int(stripped)


def api_error(status: int, headers: Mapping[str, str], content: bytes, reason: str = "") -> DataverseApiError:
    """An error reply as :class:`DataverseApiError`: the ``{"error": {code, message}}`` body, else the headers."""
    try:
        document = json.loads(content) if content else {}
    except (ValueError, RecursionError):  # not JSON (a proxy's HTML page), or absurdly nested
        document = {}
    error = document.get("error", {}) if isinstance(document, dict) else {}
    if not isinstance(error, dict):
        error = {}
    lowered = {name.lower(): value for name, value in headers.items()}
    why = lowered.get("x-d365local-auth-error") or lowered.get("www-authenticate", "")
    return DataverseApiError(
        status,
        str(error.get("code", "")),
        str(error.get("message", why or reason)),
        auth_error=why if status == 401 else "",
        retry_after=_seconds(lowered.get("retry-after", "")),
    )


def _seconds(value: str) -> int | None:
    # isascii: "²".isdigit() is true, but int("²") fails.
    return int(value) if value.isascii() and value.isdigit() else None


# -- retries -------------------------------------------------------------------------------------------------------
class Step(Enum):
    """What a client does after a reply."""

    DONE = "done"
    """Hand the reply on: a success, or an error to raise."""
    REFRESH = "refresh"
    """The token was refused: invalidate it and send again at once (once per call)."""
    WAIT = "wait"
    """Sleep :attr:`RetryState.delay` seconds and send again."""


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
"""Safe to send again when a reply was lost (a Web API PATCH is an update or an upsert of the same values)."""


@dataclass(frozen=True)
class RetryNotice:
    """A wait the client is about to make before sending a request again — what ``on_retry`` receives, so an
    application can say so (the library itself never prints)."""

    method: str
    url: str
    status: int | None
    """The reply that asked for the wait (429, 502, 503, 504); ``None`` after a connection error."""
    delay: float
    """Seconds the client waits now."""
    attempt: int
    """1 for the first retry of this call."""
    max_retries: int
    retry_after: int | None
    """The server's ``Retry-After`` seconds, when it sent one."""


class RetryState:
    """The retry decisions for one call: 429/502/503/504 honour an integer ``Retry-After`` (else exponential
    backoff), with jitter so that many throttled clients do not come back at the same instant; a ``Retry-After``
    longer than ``max_delay`` is not waited out but raised (``DataverseApiError.retry_after`` says how long).
    Connection errors back off — for a POST (create, ``$batch``…) only when the request cannot have reached the
    server, so a lost reply never creates a record twice. A 401 refreshes the token once without counting."""

    def __init__(
        self, max_retries: int, max_delay: float, *, jitter: Callable[[float, float], float] = random.uniform
    ) -> None:
        self.max_retries = max_retries
        self.max_delay = max_delay
        self.attempt = 0
        self.refreshed = False
        self.delay = 0.0
        self.status: int | None = None
        self.retry_after: int | None = None
        self._jitter = jitter

    def after_response(self, status: int, headers: Mapping[str, str]) -> Step:
        if status == 401 and not self.refreshed:
            self.refreshed = True
            return Step.REFRESH
        if status in RETRY_STATUSES and self.attempt < self.max_retries:
            retry_after = _seconds(headers.get("Retry-After", ""))
            if retry_after is not None and retry_after > self.max_delay:
                return Step.DONE
            self.status, self.retry_after = status, retry_after
            base = float(retry_after) if retry_after is not None else self._backoff()
            return self._wait(min(self.max_delay, base + self._jitter(0, 0.5)))
        return Step.DONE

    def after_connection_error(self, method: str, *, maybe_sent: bool) -> Step:
        """``WAIT`` to try again, ``DONE`` when the retries are spent or resending could repeat a write (the
        caller re-raises). ``maybe_sent``: the request may have reached the server (a read timeout, a reset)."""
        if self.attempt >= self.max_retries or (maybe_sent and method.upper() not in IDEMPOTENT_METHODS):
            return Step.DONE
        self.status, self.retry_after = None, None
        return self._wait(self._backoff())

    def notice(self, method: str, url: str) -> RetryNotice:
        """The wait just decided (after a ``WAIT`` step), for ``on_retry``."""
        return RetryNotice(method, url, self.status, self.delay, self.attempt, self.max_retries, self.retry_after)

    def _wait(self, delay: float) -> Step:
        self.delay = delay
        self.attempt += 1
        return Step.WAIT

    def _backoff(self) -> float:
        return min(self.max_delay, 0.5 * 2.0**self.attempt + self._jitter(0, 0.25))
