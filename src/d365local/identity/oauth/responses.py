"""Token endpoint response bodies and headers, in Entra's exact shapes (docs/reference/entra.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from d365local.identity.errors import IdentityError
from d365local.identity.oauth.token_request import Endpoint

ERROR_URI = "https://login.microsoftonline.com/error?code={number}"
ESTS_SERVER = "2.1.d365local"
"""Value of ``x-ms-ests-server``; real Entra sends a build and region string here."""


@dataclass(frozen=True)
class IssuedToken:
    """What the token service hands back for rendering."""

    access_token: str
    expires_in: int
    expires_on: int
    not_before: int
    resource: str


def token_body(endpoint: Endpoint, token: IssuedToken) -> dict[str, Any]:
    """v2 numbers are JSON integers; v1 numbers are strings plus ``expires_on``/``not_before``/``resource``.

    Neither has ``scope`` (oauthlib raises when a returned scope differs) nor ``refresh_token``.
    """
    if endpoint is Endpoint.V2:
        return {
            "token_type": "Bearer",
            "expires_in": token.expires_in,
            "ext_expires_in": token.expires_in,
            "access_token": token.access_token,
        }
    return {
        "token_type": "Bearer",
        "expires_in": str(token.expires_in),
        "ext_expires_in": str(token.expires_in),
        "expires_on": str(token.expires_on),
        "not_before": str(token.not_before),
        "resource": token.resource,
        "access_token": token.access_token,
    }


def entra_timestamp(now: float) -> str:
    """Entra's ``YYYY-MM-DD HH:MM:SSZ``."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def error_body(error: IdentityError, *, trace_id: str, correlation_id: str, now: float) -> dict[str, Any]:
    """The JSON every Entra error has; the description ends with the Trace ID / Correlation ID / Timestamp lines."""
    timestamp = entra_timestamp(now)
    description = (
        f"{error.message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
    )
    return {
        "error": error.code.error,
        "error_description": description,
        "error_codes": [error.code.number],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": ERROR_URI.format(number=error.code.number),
    }


def no_store_headers(trace_id: str) -> dict[str, str]:
    """Headers of every token-endpoint answer, success or error."""
    return {
        "Cache-Control": "no-store, no-cache",
        "Pragma": "no-cache",
        "Expires": "-1",
        "x-ms-request-id": trace_id,
        "x-ms-ests-server": ESTS_SERVER,
    }
