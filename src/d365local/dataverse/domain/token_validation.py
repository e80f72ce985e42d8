"""Bearer-token validation as Dataverse does it: signature from published keys, issuer, audience, lifetime.

RS256 only (``none``, HS* and unknown ``kid`` are refused); ``iss`` must be the org's tenant (v1
``https://sts.windows.net/{tid}/`` or v2 ``<authority>/{tid}/v2.0``); ``aud`` must be the org URL (trailing slash
and loopback aliases allowed) or Dataverse's app ID; ``exp``/``nbf`` with five minutes of skew. Failures raise
:class:`UnauthenticatedError`, answered 401 with ``WWW-Authenticate``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from d365local.dataverse.domain.signing_keys import KeySet
from d365local.dataverse.errors import UnauthenticatedError
from d365local.urls import canonical_url

DATAVERSE_APP_ID = "00000007-0000-0000-c000-000000000000"
CLOCK_SKEW_SECONDS = 300
MAX_TOKEN_LENGTH = 16384


@dataclass(frozen=True)
class Caller:
    """Who a valid token says is calling."""

    tenant_id: str
    app_id: str
    object_id: str | None
    claims: dict[str, Any]
    key_id: str = ""
    """The ``kid`` of the key that signed the token."""


@dataclass(frozen=True)
class Audience:
    """What a token must be for: one organization of one tenant."""

    tenant_id: str
    org_url: str
    authorities: Sequence[str]
    """Authority hosts whose v2 issuer (``<authority>/<tid>/v2.0``) is accepted besides the v1 one."""


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise UnauthenticatedError("no Authorization header: send 'Authorization: Bearer <access token>'")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("the Authorization header is not 'Bearer <access token>'")
    token = token.strip()
    if len(token) > MAX_TOKEN_LENGTH:
        raise UnauthenticatedError("the bearer token is too long to be an access token")
    return token


def validate(token: str, audience: Audience, keys: KeySet, now: float) -> Caller:
    """Check a bearer token against the org it was sent to; return the caller it names."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise UnauthenticatedError("the bearer token is not a JWT") from exc
    if header.get("alg") != "RS256":
        raise UnauthenticatedError(f"tokens must be signed with RS256, not {str(header.get('alg'))[:16]!r}")
    kid = header.get("kid") or header.get("x5t")
    key = keys.key(kid) if isinstance(kid, str) else None
    if key is None:
        raise UnauthenticatedError("the token was signed by a key the authority does not publish (unknown kid)")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise UnauthenticatedError("the token's signature does not verify") from exc
    except jwt.PyJWTError as exc:
        raise UnauthenticatedError(f"the token is malformed: {exc}") from exc
    _check_issuer(claims, audience)
    _check_audience(claims, audience)
    _check_lifetime(claims, now)
    app_id = claims.get("appid") or claims.get("azp")
    if not isinstance(app_id, str) or not app_id:
        raise UnauthenticatedError("the token names no application (appid or azp)")
    object_id = claims.get("oid")
    return Caller(
        audience.tenant_id, app_id.lower(), object_id if isinstance(object_id, str) else None, claims, str(kid)
    )


def _check_issuer(claims: dict[str, Any], audience: Audience) -> None:
    tid = audience.tenant_id
    accepted = {f"https://sts.windows.net/{tid}/", *(f"{a.rstrip('/')}/{tid}/v2.0" for a in audience.authorities)}
    issuer = claims.get("iss")
    if claims.get("tid") != tid or issuer not in accepted:
        raise UnauthenticatedError(
            f"the token was issued for another tenant (iss {str(issuer)[:120]!r}); this org is in {tid}"
        )


def _check_audience(claims: dict[str, Any], audience: Audience) -> None:
    aud = claims.get("aud")
    wanted = canonical_url(audience.org_url)
    if aud == DATAVERSE_APP_ID or (isinstance(aud, str) and canonical_url(aud) == wanted and wanted is not None):
        return
    raise UnauthenticatedError(f"the token is for {str(aud)[:200]!r}, not this organization ({audience.org_url})")


def _check_lifetime(claims: dict[str, Any], now: float) -> None:
    expires, not_before = _time(claims.get("exp")), _time(claims.get("nbf", 0))
    if expires is None or not_before is None:
        raise UnauthenticatedError("the token has no valid exp/nbf")
    if now > expires + CLOCK_SKEW_SECONDS:
        raise UnauthenticatedError("the token has expired: get a new one from the token endpoint")
    if now < not_before - CLOCK_SKEW_SECONDS:
        raise UnauthenticatedError("the token is not valid yet (nbf in the future): check the machine's clock")


def _time(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
