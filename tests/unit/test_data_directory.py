"""The data directory: private whatever the umask, tightened with a warning, and owned by one server."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from d365local.data_directory import (
    LOCK_FILE,
    DataDirectoryInUseError,
    claim,
    create_private_file,
    ensure_private_directory,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_a_new_directory_and_file_are_private_whatever_the_umask(tmp_path: Path) -> None:
    data = ensure_private_directory(tmp_path / "a" / "data")
    assert mode(data) == 0o700
    create_private_file(data / "secret")
    assert mode(data / "secret") == 0o600


def test_an_existing_loose_directory_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    (data / "tls").mkdir(parents=True)
    (data / "credentials.env").write_text("AZURE_CLIENT_SECRET=x\n")
    (data / "tls" / "server-key.pem").write_text("key")
    for path, loose in ((data, 0o755), (data / "tls", 0o777), (data / "credentials.env", 0o644)):
        os.chmod(path, loose)
    os.chmod(data / "tls" / "server-key.pem", 0o640)
    with caplog.at_level(logging.WARNING, logger="d365local.data_directory"):
        ensure_private_directory(data)
    assert mode(data) == mode(data / "tls") == 0o700
    assert mode(data / "credentials.env") == mode(data / "tls" / "server-key.pem") == 0o600
    [warning] = caplog.records
    assert "readable by other users" in warning.getMessage()
    assert "data 0755" in warning.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="d365local.data_directory"):
        ensure_private_directory(data)  # already private: nothing to say
    assert caplog.records == []


def test_a_symlink_in_the_directory_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    data = tmp_path / "data"
    data.mkdir()
    (data / "link").symlink_to(outside)
    ensure_private_directory(data)
    assert mode(outside) == 0o644


def test_a_second_server_is_refused_with_the_owner_pid_and_url(tmp_path: Path) -> None:
    first = claim(tmp_path, None)
    first.publish("https://localhost:5443")
    with pytest.raises(DataDirectoryInUseError) as refused:
        claim(tmp_path, None)
    assert f"in use by PID {os.getpid()} at https://localhost:5443" in str(refused.value)
    assert "--public-url https://localhost:5443" in str(refused.value)
    assert mode(tmp_path / LOCK_FILE) == 0o600
    first.release()
    claim(tmp_path, None).release()  # released: the next server owns it


def test_servers_with_the_same_public_url_share_the_directory(tmp_path: Path) -> None:
    first = claim(tmp_path, "https://d365.example.test")
    second = claim(tmp_path, "https://d365.example.test")
    with pytest.raises(DataDirectoryInUseError, match="only with the same --public-url"):
        claim(tmp_path, "https://other.example.test")
    with pytest.raises(DataDirectoryInUseError):
        claim(tmp_path, None)
    first.release()
    with pytest.raises(DataDirectoryInUseError):  # the second one still holds it
        claim(tmp_path, None)
    second.release()
    claim(tmp_path, None).release()


def test_a_server_still_starting_is_named_without_a_url(tmp_path: Path) -> None:
    first = claim(tmp_path, None)
    with pytest.raises(DataDirectoryInUseError, match=r"in use by PID \d+ \(still starting\)"):
        claim(tmp_path, None)
    first.release()
