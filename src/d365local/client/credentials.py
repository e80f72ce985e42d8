"""What proves the app's identity in a token request: a client secret, or a certificate-signed client assertion.

Certificates as Entra documents them: RS256 with ``x5t`` (SHA-1 thumbprint) or PS256 with ``x5t#S256``; claims
``aud`` = the token endpoint, ``iss`` = ``sub`` = client id, a fresh ``jti``, ten minutes of life.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from d365local.client.errors import ClientError

ASSERTION_LIFETIME = 600
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class Credential(Protocol):
    def fields(self, client_id: str, token_endpoint: str, now: float) -> dict[str, str]:
        """The form fields that authenticate ``client_id`` at ``token_endpoint``."""


@dataclass(frozen=True)
class ClientSecret:
    value: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.value:
            raise ClientError("the client secret is empty: pass the secret's Value")

    def fields(self, client_id: str, token_endpoint: str, now: float) -> dict[str, str]:
        return {"client_secret": self.value}


@dataclass(frozen=True)
class ClientCertificate:
    """A private key and its certificate; ``sha256=True`` signs PS256 with ``x5t#S256`` (Entra's current advice)."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate
    sha256: bool = False

    @classmethod
    def from_pem(cls, path: str | Path, *, password: bytes | None = None, sha256: bool = False) -> ClientCertificate:
        """A PEM file holding the private key and the certificate."""
        data = Path(path).read_bytes()
        try:
            key = serialization.load_pem_private_key(data, password=password)
            certificate = x509.load_pem_x509_certificate(data)
        except ValueError as exc:
            raise ClientError(f"{path}: expected a PEM file with a private key and its certificate") from exc
        return cls._checked(key, certificate, sha256)

    @classmethod
    def from_pfx(cls, path: str | Path, *, password: bytes | None = None, sha256: bool = True) -> ClientCertificate:
        try:
            key, certificate, _chain = pkcs12.load_key_and_certificates(Path(path).read_bytes(), password)
        except ValueError as exc:
            raise ClientError(f"{path}: not a PFX file, or the password is wrong") from exc
        return cls._checked(key, certificate, sha256)

    @classmethod
    def _checked(cls, key: object, certificate: x509.Certificate | None, sha256: bool) -> ClientCertificate:
        if not isinstance(key, rsa.RSAPrivateKey) or certificate is None:
            raise ClientError("the certificate credential needs an RSA private key and its certificate")
        return cls(key, certificate, sha256)

    @classmethod
    def self_signed(
        cls, common_name: str, *, valid_from: dt.datetime | None = None, days: int = 30, sha256: bool = False
    ) -> ClientCertificate:
        """A new RSA-2048 key and a self-signed certificate for it (valid from ``valid_from``, default five
        minutes ago, for ``days``): register its public part on the app, then sign assertions with it."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        start = valid_from or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate, sha256)

    @property
    def thumbprint(self) -> str:
        """The SHA-1 thumbprint in hex, as the Entra admin center lists certificates."""
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - Entra's thumbprint is SHA-1

    def fields(self, client_id: str, token_endpoint: str, now: float) -> dict[str, str]:
        if self.sha256:
            headers = {"alg": "PS256", "typ": "JWT", "x5t#S256": _b64(self.certificate.fingerprint(hashes.SHA256()))}
        else:
            headers = {"alg": "RS256", "typ": "JWT", "x5t": _b64(self.certificate.fingerprint(hashes.SHA1()))}  # noqa: S303 - x5t is SHA-1 by definition
        claims = {
            "aud": token_endpoint,
            "iss": client_id,
            "sub": client_id,
            "jti": str(uuid.uuid4()),
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + ASSERTION_LIFETIME,
        }
        assertion = jwt.encode(claims, self.private_key, algorithm=headers["alg"], headers=headers)
        return {"client_assertion_type": JWT_BEARER, "client_assertion": assertion}


def certificate_from_file(path: str | Path, password: str | None = None) -> ClientCertificate:
    """What azure-identity's ``AZURE_CLIENT_CERTIFICATE_PATH`` names: a PFX/PKCS#12 file (``.pfx``/``.p12``, PS256)
    or a PEM file holding the private key and the certificate (RS256)."""
    secret = password.encode() if password else None
    if Path(path).suffix.lower() in (".pfx", ".p12"):
        return ClientCertificate.from_pfx(path, password=secret)
    return ClientCertificate.from_pem(path, password=secret)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
