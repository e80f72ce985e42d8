"""``$batch`` without I/O: build a batch, render it as Dataverse's multipart/mixed body, read the reply.

A :class:`Batch` holds top-level GETs and :class:`ChangeSet` s (writes that Dataverse runs all-or-nothing). Inside
a change set every operation gets a Content-ID, unique across the batch; ``create`` returns its ``$n`` reference,
usable as the record of a later update/delete of the same change set and inside bodies
(``"parentcustomerid_account@odata.bind": "$1"``). The body follows
docs/reference/dataverse.md, "Batch requests": quoted
``batch_<uuid>`` boundary, nested ``changeset_<uuid>`` parts, CRLF lines, absolute inner URLs.

:func:`read_reply` turns the ``batchresponse_…`` reply (quoted or unquoted boundaries, CRLF or LF) into one
:class:`BatchResult` per answered operation, in request order. A failed change set is answered by Dataverse with
one error; every operation of that change set gets that error as its result (they were all rolled back). Without
``continue_on_error`` Dataverse stops at the first failure, so operations after it have no result.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from d365local.client.errors import ClientError, DataverseApiError
from d365local.client.webapi_protocol import (
    ApiRequest,
    api_error,
    create_request,
    delete_request,
    encode_path,
    encode_query,
    entity_id,
    get_request,
    query_request,
    update_request,
    upsert_request,
    url_of,
)

MAX_OPERATIONS = 1000
CRLF = "\r\n"
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_REFERENCE = re.compile(r"^\$(\d+)$")
_STATUS = re.compile(r"^[0-9]{3}$")


@dataclass(frozen=True)
class BatchOperation:
    """One request of a batch; ``content_id`` is set inside change sets (``"1"`` is referenced as ``$1``)."""

    request: ApiRequest
    content_id: str | None = None


class ChangeSet:
    """Writes that Dataverse runs in one transaction: all succeed, or none is kept.

    Made by :meth:`Batch.change_set`, which attaches it to the batch at once; ``with`` only scopes the code.
    Each method returns the operation's ``$n`` reference.
    """

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self.operations: list[BatchOperation] = []

    def __enter__(self) -> ChangeSet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def create(self, entity_set: str, record: Mapping[str, Any]) -> str:
        return self._add(create_request(entity_set, record))

    def update(self, entity_set: str, record_id: str, changes: Mapping[str, Any]) -> str:
        """``record_id`` is an id or the ``$n`` of a record created earlier in this change set."""
        return self._add(update_request(entity_set, record_id, changes), self._target(record_id))

    def upsert(self, entity_set: str, key: str, record: Mapping[str, Any]) -> str:
        """``key`` is an id or an alternate key such as ``accountnumber='A1'``."""
        return self._add(upsert_request(entity_set, key, record))

    def delete(self, entity_set: str, record_id: str) -> str:
        """``record_id`` is an id or the ``$n`` of a record created earlier in this change set."""
        return self._add(delete_request(entity_set, record_id), self._target(record_id))

    def _target(self, record_id: str) -> str | None:
        """``$n`` when the operation addresses an earlier operation's record; the URL is then just ``$n``."""
        match = _REFERENCE.match(record_id)
        if match is None:
            return None
        if match.group(1) not in {op.content_id for op in self.operations}:
            # Dataverse would answer 400 "Content-ID Reference: '$n' does not exist in the batch context."
            raise ClientError(f"{record_id} does not name an earlier operation of this change set")
        return record_id

    def _add(self, request: ApiRequest, target: str | None = None) -> str:
        if target is not None:
            request = replace(request, path=target)
        content_id = self._batch._reserve()
        self.operations.append(BatchOperation(request, content_id))
        return f"${content_id}"


class Batch:
    """The operations of one ``$batch`` request, in the order Dataverse runs them."""

    def __init__(self) -> None:
        self._items: list[BatchOperation | ChangeSet] = []
        self._count = 0
        self._content_ids = 0

    def get(self, entity_set: str, record_id: str, *, select: Sequence[str] = (), expand: Sequence[str] = ()) -> None:
        """Read one record; its result's ``body`` is the record."""
        self._add(BatchOperation(get_request(entity_set, record_id, select=select, expand=expand)))

    def query(
        self,
        entity_set: str,
        *,
        select: Sequence[str] = (),
        filter: str | None = None,
        orderby: Sequence[str] = (),
        top: int | None = None,
        expand: Sequence[str] = (),
        page_size: int | None = None,
    ) -> None:
        """Read one page of records; its result's ``body["value"]`` holds them."""
        request = query_request(
            entity_set, select=select, filter=filter, orderby=orderby, top=top, expand=expand, page_size=page_size
        )
        self._add(BatchOperation(request))

    def change_set(self) -> ChangeSet:
        change_set = ChangeSet(self)
        self._items.append(change_set)
        return change_set

    @property
    def items(self) -> list[BatchOperation | ChangeSet]:
        """Top-level operations and change sets as they go on the wire (empty change sets are left out)."""
        return [item for item in self._items if not isinstance(item, ChangeSet) or item.operations]

    @property
    def operations(self) -> list[BatchOperation]:
        """Every operation, flattened, in order: ``results[i]`` answers ``operations[i]``."""
        return [op for item in self.items for op in (item.operations if isinstance(item, ChangeSet) else [item])]

    def __len__(self) -> int:
        return self._count

    def render(self, api: str, *, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> tuple[bytes, str]:
        """The request body and its Content-Type; ``api`` is the API root (``https://org/api/data/v9.2``)."""
        boundary = f"batch_{new_id()}"
        lines: list[str] = []
        for item in self.items:
            if isinstance(item, BatchOperation):
                lines += _request_part(item, boundary, api)
                continue
            inner = f"changeset_{new_id()}"
            lines += [f"--{boundary}", f'Content-Type: multipart/mixed; boundary="{inner}"', ""]
            for operation in item.operations:
                lines += _request_part(operation, inner, api)
            lines += [f"--{inner}--", ""]
        lines.append(f"--{boundary}--")
        return (CRLF.join(lines) + CRLF).encode("utf-8"), f'multipart/mixed; boundary="{boundary}"'

    def _add(self, operation: BatchOperation) -> None:
        self._reserve_slot()
        self._items.append(operation)

    def _reserve(self) -> str:
        """A slot and a Content-ID for a change-set operation."""
        self._reserve_slot()
        self._content_ids += 1
        return str(self._content_ids)

    def _reserve_slot(self) -> None:
        if self._count >= MAX_OPERATIONS:
            raise ClientError(f"a $batch holds at most {MAX_OPERATIONS} operations: split it into several batches")
        self._count += 1


def _request_part(operation: BatchOperation, boundary: str, api: str) -> list[str]:
    request = operation.request
    lines = [f"--{boundary}", "Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if operation.content_id is not None:
        lines.append(f"Content-ID: {operation.content_id}")
    lines += ["", f"{request.method} {_inner_url(api, request)} HTTP/1.1"]
    if request.json is not None:
        lines.append("Content-Type: application/json; type=entry")
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    lines.append("")
    if request.json is not None:
        lines.append(json.dumps(request.json, ensure_ascii=False, separators=(",", ":")))
    return lines


def _inner_url(api: str, request: ApiRequest) -> str:
    if _REFERENCE.match(request.path):
        return request.path
    url = url_of(api, encode_path(request.path))
    return f"{url}?{encode_query(request.params)}" if request.params else url


def batch_request(batch: Batch, api: str, *, continue_on_error: bool = False) -> ApiRequest:
    """The ``POST $batch`` request for ``batch``."""
    content, content_type = batch.render(api)
    headers = {"Content-Type": content_type}
    if continue_on_error:
        headers["Prefer"] = "odata.continue-on-error"
    return ApiRequest("POST", "$batch", headers=headers, content=content)


# -- the reply -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchResult:
    """Dataverse's answer to one operation of a batch."""

    operation: BatchOperation
    status: int
    reason: str
    headers: Mapping[str, str]
    """The inner response's headers, names lowercased."""
    text: str
    body: dict[str, Any] | None
    """The JSON body when it is an object (a record, a page, an error), else ``None``."""

    @property
    def content_id(self) -> str | None:
        return self.operation.content_id

    @property
    def entity_id(self) -> str | None:
        """The id in ``OData-EntityId`` (creates, updates and upserts answer with it)."""
        return entity_id(self.headers.get("odata-entityid", ""))

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def error(self) -> DataverseApiError | None:
        if self.ok:
            return None
        return api_error(self.status, self.headers, self.text.encode("utf-8"), self.reason)

    def raise_for_status(self) -> None:
        error = self.error
        if error is not None:
            raise error


class BatchError(DataverseApiError):
    """A batch with a failed operation, when the caller asked to raise: the first failure's status, code and
    message, plus every result (``results``) to see what did run."""

    def __init__(self, failure: DataverseApiError, results: list[BatchResult]) -> None:
        super().__init__(failure.status, failure.code, failure.message, auth_error=failure.auth_error)
        self.results = results


def read_reply(
    batch: Batch, status: int, headers: Mapping[str, str], content: bytes, *, raise_on_error: bool = False
) -> list[BatchResult]:
    """The results of ``batch`` from the ``$batch`` reply. A reply that is not multipart (the batch itself was
    refused) raises :class:`DataverseApiError`; one that cannot be read raises :class:`ClientError`."""
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    if not content_type.lower().startswith("multipart/mixed"):
        if status >= 400:
            raise api_error(status, headers, content)
        raise ClientError(f"the $batch reply is {content_type or 'untyped'}, not multipart/mixed")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientError("the $batch reply is not UTF-8") from exc
    parts = _parts(text.replace("\r\n", "\n"), _boundary(content_type))
    items = batch.items
    if len(parts) > len(items):
        raise ClientError(f"the $batch reply has {len(parts)} parts for {len(items)} requests")
    results: list[BatchResult] = []
    for item, (part_headers, part_body) in zip(items, parts, strict=False):
        if isinstance(item, ChangeSet):
            results += _change_set_results(item, part_headers, part_body)
        else:
            results.append(_answer(item, part_headers, part_body))
    failure = next((result.error for result in results if result.error is not None), None)
    if failure is None and status >= 400:
        # Dataverse always says which operation failed; a 400 multipart without one is still a failure.
        raise DataverseApiError(status, "", "the $batch failed and its reply names no failed operation")
    if failure is not None and raise_on_error:
        raise BatchError(failure, results)
    return results


def _change_set_results(change_set: ChangeSet, headers: Mapping[str, str], body: str) -> list[BatchResult]:
    operations = change_set.operations
    part_type = headers.get("content-type", "").lower()
    if part_type.startswith("application/http"):
        # A failed change set may be answered by one plain error part (the failure that rolled it back).
        answer = _answer(operations[0], headers, body)
        if answer.ok and len(operations) > 1:
            raise ClientError(f"a change set of {len(operations)} operations was answered by one success")
        return [_as(answer, op) for op in operations]
    if not part_type.startswith("multipart/mixed"):
        raise ClientError(f"a change set was answered with a {part_type or 'untyped'} part")
    inner = [
        (h.get("content-id"), _answer(operations[0], h, b)) for h, b in _parts(body, _boundary(headers["content-type"]))
    ]
    failed = next((answer for _, answer in inner if not answer.ok), None)
    if failed is not None:
        return [_as(failed, op) for op in operations]  # rolled back together
    if len(inner) != len(operations):
        raise ClientError(f"a change set of {len(operations)} operations got {len(inner)} answers")
    by_id = dict(inner)
    if len(by_id) == len(inner) and set(by_id) == {op.content_id for op in operations}:
        # Content-IDs correlate the answers: OData lets a server answer a change set in any order.
        return [_as(by_id[op.content_id], op) for op in operations]
    return [_as(answer, op) for (_, answer), op in zip(inner, operations, strict=True)]


def _as(answer: BatchResult, operation: BatchOperation) -> BatchResult:
    return BatchResult(operation, answer.status, answer.reason, answer.headers, answer.text, answer.body)


def _answer(operation: BatchOperation, headers: Mapping[str, str], body: str) -> BatchResult:
    """An ``application/http`` part: status line, headers, blank line, body."""
    if not headers.get("content-type", "").lower().startswith("application/http"):
        raise ClientError("a $batch answer part is not application/http")
    head, _, payload = body.lstrip("\n").partition("\n\n")
    status_line, *header_lines = head.split("\n")
    words = status_line.strip().split(" ", 2)
    if len(words) < 2 or not words[0].upper().startswith("HTTP/") or not _STATUS.match(words[1]):
        raise ClientError(f"malformed status line in the $batch reply: {status_line[:100]!r}")
    text = payload.strip()
    return BatchResult(
        operation, int(words[1]), words[2] if len(words) > 2 else "", _headers(header_lines), text, _json_object(text)
    )


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        document = json.loads(text) if text else None
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _boundary(content_type: str) -> str:
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise ClientError(f"no boundary in {content_type[:100]!r}")
    return match.group(1) or match.group(2)


def _parts(text: str, boundary: str) -> list[tuple[dict[str, str], str]]:
    """The parts of a multipart body (LF line ends): each part's headers (names lowercased) and its content."""
    parts: list[list[str]] = []
    current: list[str] | None = None
    for line in text.split("\n"):
        marker = line.rstrip()  # RFC 2046 allows whitespace after a delimiter
        if marker == f"--{boundary}--":
            if current is not None:
                parts.append(current)
            break
        if marker == f"--{boundary}":
            if current is not None:
                parts.append(current)
            current = []
        elif current is not None:
            current.append(line)
    else:
        raise ClientError(f"the multipart body does not end with '--{boundary}--'")
    result = []
    for lines in parts:
        blank = lines.index("") if "" in lines else len(lines)
        result.append((_headers(lines[:blank]), "\n".join(lines[blank + 1 :])))
    return result


def _headers(lines: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ClientError(f"malformed header line in the $batch reply: {line[:100]!r}")
        headers[name.strip().lower()] = value.strip()
    return headers
