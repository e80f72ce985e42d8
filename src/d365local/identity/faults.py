"""Injected token-endpoint failures: "the next token request of this app fails with AADSTS7000222".

Integrations must handle Entra's errors (an expired secret, a disabled app…) without a real outage to test against;
``d365local fault token`` and the pytest plugin store such faults, and the token service answers the app's next
request(s) with the chosen catalogue entry, rendered exactly as a real failure would be.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Protocol

from d365local.identity import errors
from d365local.identity.errors import AadstsCode, IdentityError
from d365local.identity.model import Application, Tenant

_CODE = re.compile(r"^(?:AADSTS)?(\d{5,8})$", re.IGNORECASE)


class TokenFaults(Protocol):
    """Where injected faults are kept (``d365local.store`` implements it)."""

    def take_token_fault(self, tenant_id: str, app_id: str) -> str | None:
        """Consume one pending fault for this app's token requests; its code (``AADSTS7000222``) or None."""


def injectable_code(text: str) -> AadstsCode:
    """``AADSTS7000222`` or ``7000222`` → the catalogue entry; ValueError naming the choices otherwise."""
    match = _CODE.match(text.strip())
    found = next((c for c in errors.CATALOGUE if match and c.number == int(match.group(1))), None)
    if found is None:
        known = ", ".join(f"AADSTS{number}" for number in sorted({c.number for c in errors.CATALOGUE}))
        raise ValueError(f"{text!r} is not an AADSTS code d365local answers; choose one of: {known}")
    return found


def injected_error(code: str, tenant: Tenant, app: Application, target: str, now: float) -> IdentityError:
    """The error a real failure of this kind would raise, its message filled in for this tenant, app and resource."""
    moment = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    params: dict[str, object] = {
        "tenant": tenant.id,
        "tenant_name": tenant.display_name,
        "client_id": app.app_id,
        "app_id": app.app_id,
        "app_name": app.display_name,
        "resource": target,
        "resource_name": target,
        "scope": target,
        "grant_type": "client_credentials",
        "method": "POST",
        "name": "client_id",
        "alg": "RS256",
        "jti": "",
        "thumbprint": "",
        "limit": 600,
        "start": moment,
        "end": moment,
        "now": moment,
        "nbf": moment,
        "exp": moment,
    }
    return IdentityError(injectable_code(code), **params)
