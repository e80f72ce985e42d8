"""``POST $batch``: run each part through the same Web API path; change sets all-or-nothing.

Content-IDs of change-set creates can be referenced later as ``$n`` — as a request URL (``PATCH $1``) or in
``@odata.bind`` values. The batch replaces each reference by the record's URL before the part runs, so nothing
below it knows about Content-IDs. Without ``Prefer: odata.continue-on-error`` the first failure stops the batch and the
top-level status is 400 (docs/reference/dataverse.md, "Batch requests").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from d365local.dataverse import errors
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.domain.records import Records
from d365local.dataverse.endpoints.api_request import ApiRequest
from d365local.dataverse.endpoints.web_request import WebRequest, WebResponse, error_response
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.batch import (
    BatchOperation,
    BatchResponsePart,
    BatchSyntaxError,
    ChangeSet,
    parse_batch,
    render_batch,
)
from d365local.dataverse.schema.metadata import Catalog

Dispatch = Callable[[WebRequest, AuthorizedCaller], WebResponse]
"""How one part runs: the Web API's own request handling."""

_API_PREFIX = re.compile(r"^.*?/api/data/v9\.\d/")
_ENTITY_ID = re.compile(r"/([A-Za-z_][A-Za-z0-9_]*)\(([0-9a-fA-F-]{36})\)$")
_CONTENT_REFERENCE = re.compile(r"^\$(\d+)(/.*)?$")


class _RollBack(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, part: BatchResponsePart) -> None:
        super().__init__("change set failed")
        self.part = part


class BatchEndpoint:
    def __init__(self, dispatch: Dispatch, records: Records, catalog: Catalog) -> None:
        self._dispatch = dispatch
        self._records = records
        self._catalog = catalog

    def handle(self, api_request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        request = api_request.raw
        try:
            items = parse_batch(request.body, request.header("content-type"))
        except BatchSyntaxError as exc:
            return error_response(DataverseError(errors.INVALID_ARGUMENT, detail=str(exc)))
        continue_on_error = api_request.preferences.continue_on_error
        results: list[BatchResponsePart | list[BatchResponsePart]] = []
        content_ids: dict[str, tuple[str, str]] = {}
        stopped = False
        for item in items:
            if isinstance(item, ChangeSet):
                parts, ok = self._change_set(item, request, caller, content_ids)
                results.append(parts)
            else:
                part = self._run(item, request, caller, content_ids)
                results.append(part)
                ok = part.status < 400
            if not ok and not continue_on_error:
                stopped = True
                break
        body, content_type = render_batch(results)
        return WebResponse(400 if stopped else 200, {"Content-Type": content_type}, body)

    def _change_set(
        self,
        change_set: ChangeSet,
        request: WebRequest,
        caller: AuthorizedCaller,
        content_ids: dict[str, tuple[str, str]],
    ) -> tuple[list[BatchResponsePart], bool]:
        local_ids = dict(content_ids)
        parts: list[BatchResponsePart] = []
        try:
            with self._records.atomic():
                for operation in change_set.operations:
                    if operation.method == "GET":
                        error = DataverseError(
                            errors.INVALID_ARGUMENT, detail="GET requests are not allowed in a change set."
                        )
                        raise _RollBack(_part(error_response(error), operation.content_id))
                    part = self._run(operation, request, caller, local_ids)
                    if part.status >= 400:
                        raise _RollBack(part)
                    parts.append(part)
        except _RollBack as failure:
            return [failure.part], False
        content_ids.update(local_ids)
        return parts, True

    def _run(
        self,
        operation: BatchOperation,
        request: WebRequest,
        caller: AuthorizedCaller,
        content_ids: dict[str, tuple[str, str]],
    ) -> BatchResponsePart:
        try:
            path, query = self._resolve(operation.url, content_ids)
        except DataverseError as exc:
            return _part(error_response(exc), operation.content_id)
        if path.split("/", 1)[0].split("?", 1)[0] == "$batch":
            error = DataverseError(errors.INVALID_ARGUMENT, detail="A $batch request cannot contain another $batch.")
            return _part(error_response(error), operation.content_id)
        body = _bound_references(operation.body, self._references(content_ids, request.base_url))
        inner = WebRequest(operation.method, path, query, operation.headers, body, request.base_url)
        response = self._dispatch(inner, caller)
        if operation.content_id is not None and response.status < 300:
            created = _ENTITY_ID.search(response.headers.get("OData-EntityId", ""))
            entity = self._catalog.by_entity_set(created.group(1)) if created else None
            if created and entity:
                content_ids[operation.content_id] = (entity.logical_name, created.group(2))
        return _part(response, operation.content_id)

    def _references(self, content_ids: dict[str, tuple[str, str]], base_url: str) -> dict[str, str]:
        """``$n`` → the record URL it stands for."""
        urls: dict[str, str] = {}
        for content_id, (table, record_id) in content_ids.items():
            entity = self._catalog.by_logical_name(table)
            if entity is not None:
                urls[f"${content_id}"] = f"{base_url}/{entity.entity_set_name}({record_id})"
        return urls

    def _resolve(self, url: str, content_ids: dict[str, tuple[str, str]]) -> tuple[str, str]:
        """An inner URL (absolute, relative or ``$n``) → (decoded path after /api/data/v9.x/, raw query)."""
        reference = _CONTENT_REFERENCE.match(url.strip())
        if reference:
            target = content_ids.get(reference.group(1))
            entity = self._catalog.by_logical_name(target[0]) if target else None
            if target is None or entity is None:
                raise DataverseError(
                    errors.INVALID_ARGUMENT,
                    detail=f"Content-ID Reference: '${reference.group(1)}' does not exist in the batch context.",
                )
            url = f"{entity.entity_set_name}({target[1]}){reference.group(2) or ''}"
        raw_path, _, query = url.strip().partition("?")
        if "://" in raw_path:
            raw_path = urlsplit(raw_path).path
        path = _API_PREFIX.sub(
            "", raw_path if raw_path.startswith("/") or "://" in url else "/api/data/v9.2/" + raw_path
        )
        return unquote(path).lstrip("/"), query.replace(" ", "%20")


def _part(response: WebResponse, content_id: str | None) -> BatchResponsePart:
    return BatchResponsePart(response.status, {"OData-Version": "4.0", **response.headers}, response.body, content_id)


def _bound_references(body: bytes, references: dict[str, str]) -> bytes:
    """A JSON body whose ``…@odata.bind`` values that are ``$n`` point at the records those parts created (unknown
    references are left for the payload parser to refuse; a body that is not JSON is left as it is)."""
    if not references or b"@odata.bind" not in body:
        return body
    try:
        document = json.loads(body)
    except ValueError:
        return body

    def bind(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: references.get(item.strip(), item)
                if key.endswith("@odata.bind") and isinstance(item, str)
                else bind(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [bind(item) for item in value]
        return value

    return json.dumps(bind(document)).encode()
