"""Reading a request body with a size limit: checked on Content-Length, then while streaming.

Shared by the token service and the Web API (neither imports the other); each turns the outcome into its own error.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request


class BodyTooLargeError(Exception):
    """The body is larger than the limit."""


class ClientGoneError(Exception):
    """The client disconnected before the body was complete."""


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLargeError
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise ClientGoneError from exc
    return b"".join(chunks)
