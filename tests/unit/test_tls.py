"""Tests for the local CA, server certificate and CA bundle in d365local.tls."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import PolicyBuilder, Store

from d365local.tls import TlsFiles, bundle_path, ca_certificate_der, ensure_tls_files

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(files: TlsFiles) -> list[object]:
    ext = _cert(files.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return [name.value for name in ext.value]


def _snapshot(files: TlsFiles) -> dict[str, bytes]:
    return {
        "ca_cert": files.ca_cert.read_bytes(),
        "ca_key": files.ca_key.read_bytes(),
        "cert": files.cert.read_bytes(),
        "key": files.key.read_bytes(),
        "bundle": files.bundle.read_bytes(),
    }


def _verify(files: TlsFiles, subject: DNSName | IPAddress, at: datetime) -> None:
    verifier = PolicyBuilder().store(Store([_cert(files.ca_cert)])).time(at).build_server_verifier(subject)
    verifier.verify(_cert(files.cert), [])


def test_creates_files_under_tls_dir_with_private_modes(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)

    tls_dir = tmp_path / "tls"
    assert files == TlsFiles(
        ca_cert=tls_dir / "ca.pem",
        ca_key=tls_dir / "ca-key.pem",
        cert=tls_dir / "server.pem",
        key=tls_dir / "server-key.pem",
        bundle=tls_dir / "ca-bundle.pem",
    )
    assert sorted(p.name for p in tls_dir.iterdir()) == sorted(p.name for p in vars(files).values())
    assert stat.S_IMODE(files.ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(tls_dir.stat().st_mode) & 0o077 == 0


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> tuple[bool, x509.ExtensionType]:
    ext = cert.extensions.get_extension_for_class(kind)
    return ext.critical, ext.value


def _usage(**bits: bool) -> x509.KeyUsage:
    names = ["content_commitment", "key_encipherment", "data_encipherment", "key_agreement"]
    names += ["key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]
    return x509.KeyUsage(digital_signature=True, **{n: bits.get(n, False) for n in names})


def test_ca_and_leaf_have_required_shape(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)
    ca, leaf = _cert(files.ca_cert), _cert(files.cert)

    assert ca.subject.rfc4514_string() == "O=d365local,CN=d365local local CA"
    assert _ext(ca, x509.BasicConstraints) == (True, x509.BasicConstraints(ca=True, path_length=0))
    assert _ext(ca, x509.KeyUsage) == (True, _usage(key_cert_sign=True, crl_sign=True))
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert (ca.not_valid_before_utc, ca.not_valid_after_utc) == (NOW - DAY, NOW + 3650 * DAY)

    assert leaf.subject.rfc4514_string() == "CN=localhost"
    assert leaf.issuer == ca.subject
    assert _ext(leaf, x509.BasicConstraints) == (True, x509.BasicConstraints(ca=False, path_length=None))
    assert _ext(leaf, x509.KeyUsage) == (True, _usage(key_encipherment=True))
    server_auth = x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH])
    assert _ext(leaf, x509.ExtendedKeyUsage) == (False, server_auth)
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
    assert _ext(leaf, x509.AuthorityKeyIdentifier) == (False, aki)
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert (leaf.not_valid_before_utc, leaf.not_valid_after_utc) == (NOW - DAY, NOW + 825 * DAY)


def test_leaf_verifies_against_ca_for_default_names(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)

    _verify(files, DNSName("localhost"), NOW)
    _verify(files, IPAddress(ipaddress.ip_address("127.0.0.1")), NOW)
    _verify(files, IPAddress(ipaddress.ip_address("::1")), NOW)
    with pytest.raises(x509.verification.VerificationError):
        _verify(files, DNSName("example.com"), NOW)


def test_extra_hosts_become_sans_without_duplicates(tmp_path: Path) -> None:
    hosts = ["d365.test", "10.1.2.3", "fe80::1", "LOCALHOST", "127.0.0.1", "d365.test", "[::1]", " "]
    files = ensure_tls_files(tmp_path, hosts=hosts, now=NOW)

    assert _sans(files) == [
        "localhost",
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        "d365.test",
        ipaddress.ip_address("10.1.2.3"),
        ipaddress.ip_address("fe80::1"),
    ]
    _verify(files, DNSName("d365.test"), NOW)
    _verify(files, IPAddress(ipaddress.ip_address("10.1.2.3")), NOW)


def test_later_calls_reuse_everything(tmp_path: Path) -> None:
    first = ensure_tls_files(tmp_path, hosts=["a.test", "b.test"], now=NOW)
    before = _snapshot(first)

    second = ensure_tls_files(tmp_path, hosts=["a.test", "b.test"], now=NOW + timedelta(days=100))
    ensure_tls_files(tmp_path, hosts=["a.test"], now=NOW)  # a subset of the names is covered
    ensure_tls_files(tmp_path, now=NOW + timedelta(days=825 - 31))  # not yet near expiry

    assert second == first
    assert _snapshot(second) == before


def test_new_host_reissues_leaf_but_keeps_ca(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)
    before = _snapshot(files)

    ensure_tls_files(tmp_path, hosts=["new.test"], now=NOW)
    after = _snapshot(files)

    assert not [p for p in (tmp_path / "tls").iterdir() if p.name.endswith(".tmp")]
    assert after["ca_cert"] == before["ca_cert"]
    assert after["ca_key"] == before["ca_key"]
    assert after["bundle"] == before["bundle"]
    assert after["cert"] != before["cert"]
    assert after["key"] != before["key"]
    assert "new.test" in _sans(files)
    _verify(files, DNSName("new.test"), NOW)


def test_expiring_leaf_is_reissued_with_same_ca(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)
    before = _snapshot(files)
    later = NOW + timedelta(days=825 - 10)

    ensure_tls_files(tmp_path, now=later)
    after = _snapshot(files)

    assert after["ca_cert"] == before["ca_cert"]
    assert after["cert"] != before["cert"]
    assert _cert(files.cert).not_valid_after_utc == later + timedelta(days=825)
    _verify(files, DNSName("localhost"), later)


def test_expiring_ca_recreates_ca_and_leaf(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)
    before = _snapshot(files)
    later = NOW + timedelta(days=3650 - 5)

    ensure_tls_files(tmp_path, now=later)
    after = _snapshot(files)

    assert after["ca_cert"] != before["ca_cert"]
    assert after["ca_key"] != before["ca_key"]
    assert after["cert"] != before["cert"]
    assert after["ca_cert"] in after["bundle"]
    assert before["ca_cert"] not in after["bundle"]
    _verify(files, DNSName("localhost"), later)


def test_leaf_never_outlives_its_ca(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)
    later = NOW + timedelta(days=3650 - 100)

    ensure_tls_files(tmp_path, hosts=["late.test"], now=later)

    assert _cert(files.cert).not_valid_after_utc == _cert(files.ca_cert).not_valid_after_utc


def _damage_leaf(files: TlsFiles, how: str, scratch: Path) -> None:
    if how in ("delete-cert", "delete-key"):
        (files.cert if how == "delete-cert" else files.key).unlink()
    elif how in ("garbage-cert", "garbage-key"):
        (files.cert if how == "garbage-cert" else files.key).write_bytes(b"not a pem file")
    elif how == "mismatched-key":
        files.key.write_bytes(files.ca_key.read_bytes())  # a valid key, not the one in server.pem
    else:  # "foreign-ca": a matching pair, but signed by some other CA
        other = ensure_tls_files(scratch, now=NOW)
        files.cert.write_bytes(other.cert.read_bytes())
        files.key.write_bytes(other.key.read_bytes())


@pytest.mark.parametrize(
    "how",
    ["delete-cert", "delete-key", "garbage-cert", "garbage-key", "mismatched-key", "foreign-ca"],
)
def test_broken_leaf_is_reissued_with_same_ca(tmp_path: Path, how: str) -> None:
    files = ensure_tls_files(tmp_path / "data", now=NOW)
    before = _snapshot(files)
    _damage_leaf(files, how, tmp_path / "other")
    damaged_cert = files.cert.read_bytes() if files.cert.exists() else b""

    ensure_tls_files(tmp_path / "data", now=NOW)
    after = _snapshot(files)

    assert after["ca_cert"] == before["ca_cert"]
    assert after["ca_key"] == before["ca_key"]
    assert after["cert"] not in (before["cert"], damaged_cert)
    _verify(files, DNSName("localhost"), NOW)


@pytest.mark.parametrize("which", ["ca_cert", "ca_key"])
def test_missing_ca_part_recreates_ca_and_leaf(tmp_path: Path, which: str) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)
    before = _snapshot(files)
    getattr(files, which).unlink()

    ensure_tls_files(tmp_path, now=NOW)
    after = _snapshot(files)

    assert after["ca_cert"] != before["ca_cert"]
    assert after["cert"] != before["cert"]
    _verify(files, DNSName("localhost"), NOW)


def test_bundle_holds_certifi_roots_and_ca(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)
    bundle = files.bundle.read_bytes()

    assert bundle == Path(certifi.where()).read_bytes() + b"\n" + files.ca_cert.read_bytes()
    assert bundle_path(tmp_path) == files.bundle

    files.bundle.write_bytes(Path(certifi.where()).read_bytes())

    ensure_tls_files(tmp_path, now=NOW)

    assert files.ca_cert.read_bytes() in files.bundle.read_bytes()


def test_bundle_with_user_additions_is_kept(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)
    extended = files.bundle.read_bytes() + b"\n# user addition\n"
    files.bundle.write_bytes(extended)

    ensure_tls_files(tmp_path, now=NOW)

    assert files.bundle.read_bytes() == extended


def test_bundle_path_creates_nothing(tmp_path: Path) -> None:
    path = bundle_path(tmp_path / "data")

    assert path == tmp_path / "data" / "tls" / "ca-bundle.pem"
    assert not (tmp_path / "data").exists()


def test_ca_certificate_der_accepts_files_dir_and_pem_path(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, now=NOW)
    ca = _cert(files.ca_cert)

    for source in (files, tmp_path, files.ca_cert):
        der = ca_certificate_der(source)
        assert x509.load_der_x509_certificate(der) == ca


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1"])
def test_real_tls_handshake_with_bundle(tmp_path: Path, server_hostname: str) -> None:
    # Real time: OpenSSL checks validity against the system clock.
    files = ensure_tls_files(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(files.cert, files.key)
    client_ctx = ssl.create_default_context(cafile=str(files.bundle))
    # Python >= 3.13 sets this by default; setting it here keeps the certificates honest on 3.11.
    client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    errors: list[BaseException] = []

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)
        port = listener.getsockname()[1]

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                conn.settimeout(5)
                with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
                    tls_conn.sendall(b"hello")
            except BaseException as exc:  # reported to the test thread below
                errors.append(exc)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls_client,
        ):
            assert tls_client.recv(5) == b"hello"
            peer = tls_client.getpeercert()
        thread.join(timeout=5)

    assert not thread.is_alive()
    assert errors == []
    assert peer is not None
    assert ("DNS", "localhost") in peer["subjectAltName"]
