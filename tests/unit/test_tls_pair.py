"""``serve --tls-cert/--tls-key``: a file that is not a certificate, not a key, encrypted, or not the pair is refused
with one line naming the file, before the server starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from d365local.tls import TlsFileError, TlsFiles, check_certificate_pair, ensure_tls_files


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure_tls_files(tmp_path_factory.mktemp("tls"))


def test_a_certificate_and_its_key_pass(files: TlsFiles) -> None:
    check_certificate_pair(files.cert, files.key)


def test_swapped_files(files: TlsFiles) -> None:
    with pytest.raises(TlsFileError, match=r"--tls-cert .*server-key\.pem is not a PEM certificate"):
        check_certificate_pair(files.key, files.cert)


def test_a_key_that_is_a_certificate(files: TlsFiles) -> None:
    with pytest.raises(TlsFileError, match=r"--tls-key .*ca\.pem is not a PEM private key"):
        check_certificate_pair(files.cert, files.ca_cert)


def test_a_key_of_another_certificate(files: TlsFiles) -> None:
    with pytest.raises(TlsFileError, match="is not the key of --tls-cert"):
        check_certificate_pair(files.cert, files.ca_key)


def test_an_encrypted_key(files: TlsFiles, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pass"),
        )
    )
    with pytest.raises(TlsFileError, match="is encrypted"):
        check_certificate_pair(files.cert, encrypted)


def test_an_unreadable_or_empty_file(files: TlsFiles, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(TlsFileError, match="is not a PEM certificate"):
        check_certificate_pair(empty, files.key)
    with pytest.raises(TlsFileError, match="cannot read --tls-key"):
        check_certificate_pair(files.cert, tmp_path / "missing.pem")
