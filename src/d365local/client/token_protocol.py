"""The client-credentials token request and response, sans I/O: build the form, read the answer.

Both Entra endpoints: v1 (``resource``; numbers come back as strings) and v2 (``scope=<resource>/.default``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from d365local.client.errors import AuthenticationError

DEFAULT_SCOPE_SUFFIX = "/.default"
REFRESH_BEFORE_EXPIRY = 300
"""Refresh this many seconds before expiry when the server gives no ``refresh_in`` (what azure-identity does)."""


class AccessToken(NamedTuple):
    """azure-core's ``AccessToken`` shape: what ``TokenCredential.get_token`` returns."""

    token: str
    expires_on: int


class AccessTokenInfo(NamedTuple):
    """azure-core's ``AccessTokenInfo`` shape: what ``get_token_info`` returns."""

    token: str
    expires_on: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    refresh_on: int | None = None


@dataclass(frozen=True)
class CachedToken:
    access_token: str
    expires_on: float
    refresh_on: float
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret

    def usable(self, now: float) -> bool:
        return now < self.expires_on

    def due(self, now: float) -> bool:
        return now >= self.refresh_on


def resource_of(scope: str) -> str:
    """``https://org.crm.dynamics.com/.default`` → ``https://org.crm.dynamics.com``."""
    return scope[: -len(DEFAULT_SCOPE_SUFFIX)] if scope.endswith(DEFAULT_SCOPE_SUFFIX) else scope


def token_endpoint(authority: str, tenant: str, *, v2: bool) -> str:
    return f"{authority.rstrip('/')}/{tenant}/oauth2/{'v2.0/' if v2 else ''}token"


def request_form(client_id: str, resource: str, credential_fields: Mapping[str, str], *, v2: bool) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": client_id, **credential_fields}
    if v2:
        form["scope"] = resource + DEFAULT_SCOPE_SUFFIX
    else:
        form["resource"] = resource
    return form


def parse_response(status: int, body: bytes, now: float, *, correlation_id: str | None = None) -> CachedToken:
    """A token, or :class:`AuthenticationError` with the AADSTS code and a hint."""
    try:
        document: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    if not isinstance(document, dict):
        raise AuthenticationError(
            "invalid_response", f"HTTP {status}: the token endpoint did not answer with JSON", status=status
        )
    if status != 200 or "access_token" not in document:
        raise AuthenticationError(
            str(document.get("error", "invalid_response")),
            str(document.get("error_description", "no access_token in the response")),
            status=status,
            correlation_id=document.get("correlation_id") or correlation_id,
        )
    try:
        expires_in = float(document["expires_in"])  # v1 sends strings, v2 integers
        refresh_in = float(document["refresh_in"]) if "refresh_in" in document else None
    except (KeyError, TypeError, ValueError) as exc:
        raise AuthenticationError(
            "invalid_response", "the token response has no valid expires_in", status=status
        ) from exc
    expires_on = now + expires_in
    refresh_on = now + refresh_in if refresh_in is not None else max(now, expires_on - REFRESH_BEFORE_EXPIRY)
    return CachedToken(str(document["access_token"]), expires_on, refresh_on, str(document.get("token_type", "Bearer")))
