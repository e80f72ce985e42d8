"""Token signing keys: RSA-2048 with a self-signed certificate, kid = base64url SHA-1 thumbprint.

The key ring holds every published key; exactly one is active (it signs), retired keys leave the JWKS. Keys live
in the store so every worker signs with the same key and tokens survive restarts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from d365local.identity.model import SigningKey

KEY_SIZE = 2048
CERTIFICATE_YEARS = 5


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_signing_key(now: float) -> SigningKey:
    """Generate a key pair and a self-signed certificate to publish it in, as Entra's keys are published."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "d365local token signing")])
    start = dt.datetime.fromtimestamp(now, dt.UTC) - dt.timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * CERTIFICATE_YEARS))
        .sign(private_key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningKey(kid=b64url(hashlib.sha1(der).digest()), private_key_pem=pem, certificate_der=der, created_at=now)  # noqa: S324 - x5t is SHA-1 by definition


@dataclass(frozen=True)
class _LoadedKey:
    key: SigningKey
    private_key: rsa.RSAPrivateKey
    jwk: dict[str, Any]


class KeyRing:
    """The published keys, parsed once; signs with the active key."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self._keys = {k.kid: _load(k) for k in keys if not k.retired}
        active = [k for k in self._keys.values() if k.key.active]
        if not active:
            raise ValueError("no active signing key")
        # The newest active key signs; older ones stay published until retired.
        self._active = max(active, key=lambda k: k.key.created_at)

    @property
    def active_kid(self) -> str:
        return self._active.key.kid

    def public_jwks(self) -> list[dict[str, Any]]:
        return [k.jwk for k in self._keys.values()]

    def sign(self, claims: Mapping[str, Any], *, x5t: bool) -> str:
        """RS256 JWT with ``typ``, ``alg``, ``kid`` and (v1 tokens) ``x5t`` in the header."""
        kid = self._active.key.kid
        headers = {"typ": "JWT", "alg": "RS256", "kid": kid}
        if x5t:
            headers = {"typ": "JWT", "alg": "RS256", "x5t": kid, "kid": kid}
        return jwt.encode(
            dict(claims), self._active.private_key, algorithm="RS256", headers=headers, sort_headers=False
        )


def _load(key: SigningKey) -> _LoadedKey:
    private_key = serialization.load_pem_private_key(key.private_key_pem, password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise TypeError(f"signing key {key.kid} is not RSA")
    numbers = private_key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "use": "sig",
        "kid": key.kid,
        "x5t": key.kid,
        "n": b64url(_uint_bytes(numbers.n)),
        "e": b64url(_uint_bytes(numbers.e)),
        "x5c": [base64.b64encode(key.certificate_der).decode("ascii")],
    }
    return _LoadedKey(key, private_key, jwk)


def _uint_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


class KeyRingCache:
    """The current :class:`KeyRing`, re-parsed only when the published keys change."""

    def __init__(self, load: Callable[[], Sequence[SigningKey]]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._state: tuple[tuple[str, bool, bool], ...] = ()
        self._ring: KeyRing | None = None

    def __call__(self) -> KeyRing:
        keys = self._load()
        state = tuple((k.kid, k.active, k.retired) for k in keys)
        with self._lock:
            if self._ring is None or state != self._state:
                self._ring = KeyRing(keys)
                self._state = state
            return self._ring
