"""Signing keys published by another authority (``serve --authority URL``), found through its discovery document."""

from __future__ import annotations

import ssl
from collections.abc import Hashable, Mapping
from typing import Any

import httpx


class HttpSigningKeys:
    """Keys published by another authority (``serve --authority URL``), found through its discovery document."""

    def __init__(self, authority: str, *, verify: ssl.SSLContext | bool = True, timeout: float = 10.0) -> None:
        self._authority = authority.rstrip("/")
        self._verify = verify
        self._timeout = timeout

    def version(self) -> Hashable | None:
        return None  # another authority announces nothing: its keys are re-read every MAX_AGE seconds

    def jwks(self) -> Mapping[str, Any]:
        try:
            with httpx.Client(verify=self._verify, timeout=self._timeout) as client:
                configuration = client.get(f"{self._authority}/common/v2.0/.well-known/openid-configuration").json()
                document = client.get(str(configuration["jwks_uri"])).json()
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return {"keys": []}  # unreachable now: tokens fail as "unknown kid" and the next refresh tries again
        return document if isinstance(document, Mapping) else {"keys": []}
