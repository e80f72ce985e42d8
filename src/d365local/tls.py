"""The local certificate authority and server certificate that let d365local speak HTTPS.

msal and azure-identity refuse plain-http authorities, so the server needs a certificate that
clients trust. On first start this module creates, under ``<data_dir>/tls``, a local CA, a
server ("leaf") certificate signed by it, and a CA bundle (certifi's roots plus the local CA)
that clients name in ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE`` / ``CURL_CA_BUNDLE``. Later
starts reuse the files and only re-issue what is missing, broken or about to expire.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "TlsFileError",
    "TlsFiles",
    "bundle_path",
    "ca_certificate_der",
    "check_certificate_pair",
    "ensure_tls_files",
]

_TLS_DIRNAME = "tls"
_CA_VALIDITY = timedelta(days=3650)
# Apple platforms reject TLS server certificates valid for longer than 825 days.
_LEAF_VALIDITY = timedelta(days=825)
# Back-dating absorbs small clock differences between the server and its clients.
_BACKDATE = timedelta(days=1)
_RENEW_BEFORE = timedelta(days=30)
_RSA_BITS = 2048
_DEFAULT_SANS: tuple[x509.GeneralName, ...] = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
    x509.IPAddress(ipaddress.IPv6Address("::1")),
)

_PrivateKey = rsa.RSAPrivateKey
# Every file is private to its owner, certificates and bundle too: the data directory is (0700, files 0600).
_PRIVATE = 0o600


class TlsFileError(ValueError):
    """A ``--tls-cert`` / ``--tls-key`` that cannot serve HTTPS; the message names the file and the fix."""


@dataclass(frozen=True)
class TlsFiles:
    """Where the TLS material for one data directory lives."""

    ca_cert: Path
    """Local CA certificate (PEM)."""
    ca_key: Path
    """Local CA private key (PEM, mode 0600)."""
    cert: Path
    """Server leaf certificate (PEM)."""
    key: Path
    """Server leaf private key (PEM, mode 0600)."""
    bundle: Path
    """certifi's roots followed by the local CA (PEM), for clients to trust."""

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> TlsFiles:
        """The file locations under ``data_dir``; nothing is created."""
        tls_dir = data_dir / _TLS_DIRNAME
        return cls(
            ca_cert=tls_dir / "ca.pem",
            ca_key=tls_dir / "ca-key.pem",
            cert=tls_dir / "server.pem",
            key=tls_dir / "server-key.pem",
            bundle=tls_dir / "ca-bundle.pem",
        )


def bundle_path(data_dir: Path) -> Path:
    """Where the client CA bundle for ``data_dir`` lives, without creating anything."""
    return TlsFiles.for_data_dir(data_dir).bundle


def ca_certificate_der(files_or_path: TlsFiles | Path) -> bytes:
    """The local CA certificate in DER form (for ``d365local ca --der``).

    Accepts the ``TlsFiles`` of a data directory, the data directory itself, or the path of
    a PEM CA certificate.
    """
    if isinstance(files_or_path, TlsFiles):
        pem_path = files_or_path.ca_cert
    elif files_or_path.is_dir():
        pem_path = TlsFiles.for_data_dir(files_or_path).ca_cert
    else:
        pem_path = files_or_path
    cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return cert.public_bytes(serialization.Encoding.DER)


def check_certificate_pair(cert_path: Path, key_path: Path) -> None:
    """Check a brought certificate and key before the server starts: PEM, readable, unencrypted, a pair."""
    try:
        certificates = x509.load_pem_x509_certificates(cert_path.read_bytes())
    except OSError as exc:
        raise TlsFileError(f"cannot read --tls-cert {cert_path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise TlsFileError(
            f"--tls-cert {cert_path} is not a PEM certificate (a file starting with -----BEGIN CERTIFICATE-----)"
        ) from exc
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as exc:
        raise TlsFileError(f"cannot read --tls-key {key_path}: {exc.strerror}") from exc
    except TypeError as exc:
        raise TlsFileError(
            f"--tls-key {key_path} is encrypted; give serve an unencrypted key (openssl pkey -in KEY -out PLAIN)"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TlsFileError(
            f"--tls-key {key_path} is not a PEM private key (a file starting with -----BEGIN PRIVATE KEY-----)"
        ) from exc
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if certificates[0].public_key().public_bytes(der, public) != key.public_key().public_bytes(der, public):
        raise TlsFileError(f"--tls-key {key_path} is not the key of --tls-cert {cert_path} (their public keys differ)")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        raise TlsFileError(f"cannot serve HTTPS with --tls-cert {cert_path} and --tls-key {key_path}: {exc}") from exc


def ensure_tls_files(data_dir: Path, *, hosts: Sequence[str] = (), now: datetime | None = None) -> TlsFiles:
    """Make sure a usable CA, server certificate and CA bundle exist under ``data_dir``.

    Existing files are reused. The server certificate is re-issued (by the same CA) when it
    is missing, unreadable, not signed by the CA, expiring within 30 days or missing one of
    the required names (localhost, 127.0.0.1, ::1 and every entry of ``hosts``). The CA,
    and with it the server certificate, is recreated only when it is missing, unreadable or
    expiring within 30 days. ``now`` defaults to the current UTC time.
    """
    moment = now if now is not None else datetime.now(UTC)
    files = TlsFiles.for_data_dir(data_dir)
    files.ca_cert.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(files.ca_cert.parent, 0o700)  # mkdir's mode is masked by the umask
    wanted_sans = _subject_alt_names(hosts)

    ca = _load_usable(files.ca_cert, files.ca_key, moment)
    ca_is_new = ca is None
    if ca is None:
        ca = _issue_ca(moment)
        # Key before certificate: a crash in between leaves a cert-less key, which the next
        # start treats as "no CA" rather than pairing a new certificate with a stale key.
        _write_atomic(files.ca_key, _key_pem(ca[1]), mode=_PRIVATE)
        _write_atomic(files.ca_cert, _cert_pem(ca[0]), mode=_PRIVATE)
    ca_cert, ca_key = ca

    leaf = None if ca_is_new else _load_usable(files.cert, files.key, moment)
    if leaf is None or not _leaf_fits(leaf[0], ca_cert, wanted_sans):
        leaf_cert, leaf_key = _issue_leaf(ca_cert, ca_key, wanted_sans, moment)
        _write_atomic(files.key, _key_pem(leaf_key), mode=_PRIVATE)
        _write_atomic(files.cert, _cert_pem(leaf_cert), mode=_PRIVATE)

    _ensure_bundle(files.bundle, _cert_pem(ca_cert))
    return files


def _subject_alt_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """The default names plus ``hosts``, IP literals as IP SANs, duplicates dropped."""
    names: list[x509.GeneralName] = list(_DEFAULT_SANS)
    for raw in hosts:
        host = raw.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]  # accept bracketed IPv6 as written in URLs
        if not host:
            continue
        name: x509.GeneralName
        try:
            name = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            # Certificates carry A-labels; IDNA-encode so non-ASCII host names still work.
            name = x509.DNSName(host.lower().rstrip(".").encode("idna").decode("ascii"))
        if name not in names:
            names.append(name)
    return names


def _load_usable(cert_path: Path, key_path: Path, moment: datetime) -> tuple[x509.Certificate, _PrivateKey] | None:
    """The certificate and key at these paths, or None if unusable at ``moment``."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, rsa.RSAPrivateKey):
        return None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if cert.public_key().public_bytes(der, public) != key.public_key().public_bytes(der, public):
        return None
    # A certificate that is not yet valid (clock moved back) is as useless as an expired one.
    if cert.not_valid_before_utc > moment or cert.not_valid_after_utc - _RENEW_BEFORE <= moment:
        return None
    return cert, key


def _leaf_fits(leaf: x509.Certificate, ca: x509.Certificate, wanted: list[x509.GeneralName]) -> bool:
    """Whether ``leaf`` was signed by ``ca`` and names every host in ``wanted``."""
    try:
        leaf.verify_directly_issued_by(ca)
        present = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    have = list(present)
    return all(name in have for name in wanted)


def _issue_ca(moment: datetime) -> tuple[x509.Certificate, _PrivateKey]:
    """A fresh self-signed CA certificate and its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "d365local local CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "d365local"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - _BACKDATE)
        .not_valid_after(moment + _CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue_leaf(
    ca_cert: x509.Certificate, ca_key: _PrivateKey, sans: list[x509.GeneralName], moment: datetime
) -> tuple[x509.Certificate, _PrivateKey]:
    """A fresh server certificate for ``sans`` signed by the CA, and its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    # A leaf outliving its CA would fail verification; capping it makes both renew together.
    not_after = min(moment + _LEAF_VALIDITY, ca_cert.not_valid_after_utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(key_encipherment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_usage(*, key_cert_sign: bool = False, crl_sign: bool = False, key_encipherment: bool = False) -> x509.KeyUsage:
    """A KeyUsage with digital_signature plus the named bits."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _ensure_bundle(path: Path, ca_pem: bytes) -> None:
    """Write certifi's roots plus the CA to ``path`` unless it already holds both."""
    roots = Path(certifi.where()).read_bytes()
    try:
        current = path.read_bytes()
    except OSError:
        current = b""
    # Containment rather than equality: a user may append their own roots, and a certifi
    # upgrade or a new CA still forces a rewrite.
    if ca_pem in current and roots in current:
        return
    _write_atomic(path, roots + b"\n" + ca_pem, mode=_PRIVATE)


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: _PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # O_EXCL + O_NOFOLLOW: never write through a pre-planted file or symlink, and the mode is
    # set at creation so a private key is never readable by others, even briefly.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, mode)
    try:
        os.fchmod(fd, mode)  # exactly this mode, whatever the umask
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
