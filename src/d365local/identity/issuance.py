"""What goes into an app-only access token: v1-format claims for Dynamics CRM, and the lifetimes.

Dynamics CRM / Dataverse, like other first-party resources, gets **v1** tokens whichever endpoint was called
(docs/reference/entra.md, "Access tokens"). Observed app tokens have ``iat = nbf = now − 300``, ``exp = now + 3600`` and
``expires_in = 3599``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from d365local.identity.model import Application
from d365local.identity.oauth.discovery import v1_issuer

LIFETIME_SECONDS = 3600
BACKDATE_SECONDS = 300
APPIDACR_SECRET = "1"  # noqa: S105 - an authentication-method code, not a password
APPIDACR_CERTIFICATE = "2"


@dataclass(frozen=True)
class TokenTimes:
    issued_at: int
    """``iat`` and ``nbf``: five minutes in the past, absorbing clock skew."""
    expires_at: int
    expires_in: int


def token_times(now: float) -> TokenTimes:
    whole = int(now)
    return TokenTimes(whole - BACKDATE_SECONDS, whole + LIFETIME_SECONDS, LIFETIME_SECONDS - 1)


def app_token_claims(
    *,
    app: Application,
    audience: str,
    appidacr: str,
    times: TokenTimes,
    uti: bytes,
    aio: bytes,
    roles: Sequence[str] = (),
) -> dict[str, Any]:
    """The claims of a v1 app-only token, in Entra's order; ``roles`` only when app roles were granted."""
    issuer = v1_issuer(app.tenant_id)
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer,
        "iat": times.issued_at,
        "nbf": times.issued_at,
        "exp": times.expires_at,
        "aio": _b64(aio),
        "appid": app.app_id,
        "appidacr": appidacr,
        "idp": issuer,
        "idtyp": "app",
        "oid": app.service_principal_id,
        "rh": f"0.{_b64(uti[:8] + aio[:8])}.",
    }
    if roles:
        claims["roles"] = list(roles)
    claims.update(
        {
            "sub": app.service_principal_id,
            "tid": app.tenant_id,
            "uti": _b64(uti),
            "ver": "1.0",
        }
    )
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
