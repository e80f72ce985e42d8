"""A Web API request and response as plain values, so ``$batch`` parts and HTTP requests take the same path."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from d365local.dataverse.errors import DataverseError

ODATA_JSON = "application/json; odata.metadata=minimal"
MAX_BODY_BYTES = 16 * 1024 * 1024
"""Largest request body accepted (Dataverse limits a request to 128 MB of file data; JSON bodies are far smaller)."""


@dataclass(frozen=True)
class WebRequest:
    method: str
    path: str
    """Percent-decoded path after ``/api/data/v9.x/``."""
    query: str
    """The raw query string (still percent-encoded)."""
    headers: Mapping[str, str]
    """Lower-case names; several ``Prefer`` headers are joined with commas."""
    body: bytes
    base_url: str
    """``<org url>/api/data/v9.x``: absolute URLs in responses start with it."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8")) if self.body.strip() else None
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"The request body is not valid JSON: {exc}") from exc


@dataclass(frozen=True)
class WebResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def json_body(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def json_response(document: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> WebResponse:
    return WebResponse(status, {"Content-Type": ODATA_JSON, **(headers or {})}, json_body(document))


def error_response(error: DataverseError) -> WebResponse:
    return json_response({"error": {"code": error.code.code, "message": error.message}}, status=error.code.status)
