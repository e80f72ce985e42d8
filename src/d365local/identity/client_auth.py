"""Client authentication at the token endpoint: a client secret, or a certificate-signed client assertion.

Decides only; the token service loads the app's credentials and passes them in. Time is injected.
Assertion rules follow Entra's certificate-credentials documentation
(docs/reference/entra.md, "Certificate assertions"): ``alg`` RS256/PS256
(RS384/RS512 too), thumbprint in ``x5t`` (SHA-1) or ``x5t#S256`` (SHA-256), padded or not; ``iss`` = ``sub`` =
client id; ``aud`` = the token endpoint; ``exp``/``nbf`` as NumericDate, floats included.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography import x509

from d365local.identity import errors
from d365local.identity.errors import IdentityError
from d365local.identity.issuance import APPIDACR_CERTIFICATE, APPIDACR_SECRET
from d365local.identity.model import Application, Certificate, ClientSecret
from d365local.identity.secret_hash import SecretHasher

SUPPORTED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256")
CLOCK_SKEW_SECONDS = 300
MAX_ASSERTION_LIFETIME_SECONDS = 3600
"""Entra documents no limit ("keep it short – 5-10 minutes"); d365local refuses assertions living over an hour."""


class ReplayGuard(Protocol):
    """Remembers assertion ids until they expire (``serve --reject-assertion-replay``)."""

    def first_use(self, client_id: str, jti: str, expires_at: float) -> bool: ...


@dataclass(frozen=True)
class AssertionPolicy:
    audience_ok: Callable[[str], bool]
    """Whether an ``aud`` names this token endpoint (v1 or v2, tenant GUID or domain, any loopback alias)."""
    replay_guard: ReplayGuard | None = None


def authenticate_secret(
    app: Application, secrets: Sequence[ClientSecret], candidates: Sequence[str], hasher: SecretHasher, now: float
) -> str:
    """Check a secret against every registered one in constant time; return ``appidacr``."""
    matched: ClientSecret | None = None
    for stored in secrets:
        for candidate in candidates:
            if hasher.matches(candidate, stored.secret_hash) and matched is None:
                matched = stored
    if matched is None:
        raise IdentityError(errors.INVALID_SECRET, app_id=app.app_id)
    if not matched.start <= now < matched.end:
        raise IdentityError(errors.SECRET_EXPIRED, app_id=app.app_id)
    return APPIDACR_SECRET


def authenticate_assertion(
    app: Application,
    certificates: Sequence[Certificate],
    assertion: str,
    policy: AssertionPolicy,
    now: float,
) -> str:
    """Verify a client assertion JWT; return ``appidacr``."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise IdentityError(errors.ASSERTION_MALFORMED) from exc
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or not algorithm:
        raise IdentityError(errors.ASSERTION_MALFORMED)
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise IdentityError(errors.ASSERTION_ALGORITHM, alg=str(algorithm)[:32])
    certificate = _certificate_for(app, certificates, header)
    public_key = x509.load_der_x509_certificate(certificate.der).public_key()
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            public_key,  # type: ignore[arg-type]  # an RSA certificate's key
            algorithms=[algorithm],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise IdentityError(
            errors.ASSERTION_SIGNATURE, thumbprint=certificate.thumbprint, **_validity(certificate)
        ) from exc
    except jwt.PyJWTError as exc:
        raise IdentityError(errors.ASSERTION_MALFORMED) from exc
    if not certificate.start <= now < certificate.end:
        raise IdentityError(errors.ASSERTION_KEY_EXPIRED, thumbprint=certificate.thumbprint, **_validity(certificate))
    _check_claims(app, claims, policy, now)
    return APPIDACR_CERTIFICATE


def _certificate_for(app: Application, certificates: Sequence[Certificate], header: dict[str, Any]) -> Certificate:
    sha1 = _thumbprint(header.get("x5t"))
    sha256 = _thumbprint(header.get("x5t#S256"))
    if sha1 is None and sha256 is None:
        raise IdentityError(errors.ASSERTION_NO_THUMBPRINT)
    for certificate in certificates:
        if certificate.thumbprint == sha1 or certificate.thumbprint_sha256 == sha256:
            return certificate
    raise IdentityError(errors.ASSERTION_KEY_NOT_FOUND, thumbprint=sha1 or sha256, app_id=app.app_id)


def _thumbprint(value: object) -> str | None:
    """Base64url thumbprint (padded or not) → upper-case hex, as Entra quotes it back."""
    if not isinstance(value, str) or not value or len(value) > 128:
        return None
    try:
        raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw.hex().upper() or None


def _check_claims(app: Application, claims: dict[str, Any], policy: AssertionPolicy, now: float) -> None:
    for name in ("aud", "iss", "sub", "exp", "jti"):
        if name not in claims:
            raise IdentityError(errors.ASSERTION_CLAIM_MISSING, name=name)
    issuer, subject = claims["iss"], claims["sub"]
    if issuer != subject:
        raise IdentityError(errors.ASSERTION_SUBJECT_MISMATCH)
    if not isinstance(issuer, str) or issuer.lower() != app.app_id.lower():
        raise IdentityError(errors.ASSERTION_CLIENT_MISMATCH)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if not any(isinstance(aud, str) and policy.audience_ok(aud) for aud in audiences):
        raise IdentityError(errors.ASSERTION_AUDIENCE)
    expires, not_before = _numeric_date(claims.get("exp")), _numeric_date(claims.get("nbf", 0))
    issued = _numeric_date(claims.get("iat", not_before))
    if expires is None or not_before is None or issued is None:
        raise IdentityError(errors.ASSERTION_MALFORMED)
    times = {"now": _entra_time(now), "nbf": _entra_time(not_before), "exp": _entra_time(expires)}
    if expires <= now - CLOCK_SKEW_SECONDS or not_before > now + CLOCK_SKEW_SECONDS:
        raise IdentityError(errors.ASSERTION_TIME, **times)
    if (
        expires - max(issued, not_before, now - CLOCK_SKEW_SECONDS)
        > MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS
    ):
        raise IdentityError(errors.ASSERTION_LIFETIME, limit=MAX_ASSERTION_LIFETIME_SECONDS, **times)
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti:
        raise IdentityError(errors.ASSERTION_CLAIM_MISSING, name="jti")
    if policy.replay_guard is not None and not policy.replay_guard.first_use(app.app_id, jti[:256], expires):
        raise IdentityError(errors.ASSERTION_REPLAYED, jti=jti[:64])


def _numeric_date(value: object) -> float | None:
    """A NumericDate (floats included, as msal sends); NaN and infinities are not dates."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _entra_time(seconds: float) -> str:
    """Entra's ``2024-10-02T22:05:03.6755165Z`` (seven fractional digits)."""
    try:
        moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        moment = dt.datetime.max.replace(tzinfo=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _validity(certificate: Certificate) -> dict[str, str]:
    fmt = "%m/%d/%Y %H:%M:%S"
    return {
        "start": dt.datetime.fromtimestamp(certificate.start, dt.UTC).strftime(fmt),
        "end": dt.datetime.fromtimestamp(certificate.end, dt.UTC).strftime(fmt),
    }
