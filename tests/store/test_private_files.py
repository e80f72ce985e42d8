"""Keys at rest: the SQLite database (signing keys, secret-hash key) and its -wal/-shm are 0600 whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from d365local.store.database import open_database


def modes(directory: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}


@pytest.mark.usefixtures("permissive_umask")
def test_a_new_database_and_its_companions_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    database = open_database(data)
    try:
        database.settings.secret_hash_key()  # a write, so the -wal and -shm files exist
        found = modes(data)
    finally:
        database.close()
    assert {"d365local.db", "d365local.db-wal", "d365local.db-shm", "d365local.db.lock"} <= set(found)
    assert set(found.values()) == {0o600}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


@pytest.mark.usefixtures("permissive_umask")
def test_a_database_url_outside_the_data_directory_is_private_too(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "store.db"
    database = open_database(tmp_path / "unused", f"sqlite:///{path}")
    try:
        database.settings.secret_hash_key()
    finally:
        database.close()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert set(modes(path.parent).values()) == {0o600}
    assert not (tmp_path / "unused").exists()


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_database(data).close()
    for path in data.iterdir():
        os.chmod(path, 0o644)
    os.chmod(data, 0o755)  # noqa: S103 - the loose mode under test
    database = open_database(data)
    try:
        database.settings.secret_hash_key()
    finally:
        database.close()
    assert set(modes(data).values()) == {0o600}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
