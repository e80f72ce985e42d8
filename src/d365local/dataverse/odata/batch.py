"""``$batch`` on the wire: multipart/mixed requests (with change sets) in, multipart/mixed responses out.

Reads what real clients send
(docs/reference/dataverse.md, "Batch requests"): quoted or unquoted boundaries, CRLF or LF line ends,
inner URLs absolute, relative or ``$n`` and containing literal spaces. Pure: no I/O, no execution.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_OPERATIONS = 1000
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 412: "Precondition Failed",
    413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
}  # fmt: skip


class BatchSyntaxError(ValueError):
    """The body is not a ``$batch`` request d365local can read; the message says where."""


@dataclass(frozen=True)
class BatchOperation:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass(frozen=True)
class ChangeSet:
    operations: tuple[BatchOperation, ...]


BatchItem = BatchOperation | ChangeSet


@dataclass(frozen=True)
class BatchResponsePart:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_id: str | None = None


def boundary_of(content_type: str | None) -> str:
    if not content_type or not content_type.lower().startswith("multipart/mixed"):
        raise BatchSyntaxError("A $batch request must have Content-Type: multipart/mixed; boundary=…")
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise BatchSyntaxError("The multipart/mixed Content-Type has no boundary.")
    return match.group(1) or match.group(2)


def parse_batch(body: bytes, content_type: str | None) -> tuple[BatchItem, ...]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchSyntaxError("The $batch body is not UTF-8.") from exc
    items: list[BatchItem] = []
    count = 0
    for headers, content in _parts(text.replace("\r\n", "\n"), boundary_of(content_type)):
        part_type = headers.get("content-type", "")
        if part_type.lower().startswith("multipart/mixed"):
            operations = []
            for inner_headers, inner in _parts(content, boundary_of(part_type)):
                operations.append(_operation(inner_headers, inner))
            if not operations:
                raise BatchSyntaxError("A change set must contain at least one request.")
            items.append(ChangeSet(tuple(operations)))
            count += len(operations)
        else:
            items.append(_operation(headers, content))
            count += 1
        if count > MAX_OPERATIONS:
            raise BatchSyntaxError(f"A $batch request can contain at most {MAX_OPERATIONS} operations.")
    if not items:
        raise BatchSyntaxError("The $batch request contains no operations.")
    return tuple(items)


def _parts(text: str, boundary: str) -> list[tuple[dict[str, str], str]]:
    delimiter = f"--{boundary}"
    if f"{delimiter}--" not in text:
        raise BatchSyntaxError(f"The multipart body does not end with '{delimiter}--'.")
    body = text.split(f"{delimiter}--", 1)[0]
    parts = []
    for chunk in body.split(delimiter)[1:]:
        chunk = chunk.removeprefix("\n")
        head, _, content = chunk.partition("\n\n")
        parts.append((_headers(head), content.removesuffix("\n")))
    return parts


def _headers(block: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split("\n"):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise BatchSyntaxError(f"Malformed header line in $batch: '{line[:100]}'.")
        headers[name.strip().lower()] = value.strip()
    return headers


def _operation(part_headers: dict[str, str], content: str) -> BatchOperation:
    if not part_headers.get("content-type", "").lower().startswith("application/http"):
        raise BatchSyntaxError("Each $batch part must have Content-Type: application/http.")
    head, _, body = content.partition("\n\n")
    lines = head.split("\n")
    request_line = lines[0].strip()
    words = request_line.split(" ")
    if len(words) < 3 or not words[-1].upper().startswith("HTTP/"):
        raise BatchSyntaxError(f"Malformed request line in $batch: '{request_line[:200]}'.")
    # The URL may contain literal spaces: the method is the first word, the version the last, the URL all between.
    method, url = words[0].upper(), " ".join(words[1:-1])
    return BatchOperation(
        method, url, _headers("\n".join(lines[1:])), body.strip().encode("utf-8"), part_headers.get("content-id")
    )


def render_batch(parts: Sequence[BatchResponsePart | Sequence[BatchResponsePart]]) -> tuple[bytes, str]:
    """A multipart/mixed response body and its Content-Type; nested sequences are change-set responses."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    lines: list[str] = []
    for part in parts:
        lines.append(f"--{boundary}")
        if isinstance(part, BatchResponsePart):
            lines += _http_part(part)
            continue
        changeset = f"changesetresponse_{uuid.uuid4()}"
        lines += [f"Content-Type: multipart/mixed; boundary={changeset}", ""]
        for inner in part:
            lines.append(f"--{changeset}")
            lines += _http_part(inner)
        lines.append(f"--{changeset}--")
    lines.append(f"--{boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8"), f"multipart/mixed; boundary={boundary}"


def _http_part(part: BatchResponsePart) -> list[str]:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if part.content_id is not None:
        lines.append(f"Content-ID: {part.content_id}")
    lines += ["", f"HTTP/1.1 {part.status} {_STATUS_TEXT.get(part.status, 'Unknown')}"]
    lines += [f"{name}: {value}" for name, value in part.headers.items()]
    lines.append("")
    if part.body:
        lines.append(part.body.decode("utf-8"))
    return lines
