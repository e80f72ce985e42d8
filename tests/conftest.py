"""Shared test setup: the hypothesis profiles and the database URLs every storage-backed tier runs against."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=150,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that would leave every new file world-readable: what private files must not depend on."""
    previous = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(previous)


# -- databases ------------------------------------------------------------------------------------------------------
POSTGRES_URL = os.environ.get("D365LOCAL_TEST_DATABASE_URL", "")


def _postgres_schema_url(base: str) -> Iterator[str]:
    """A fresh schema per test on the CI PostgreSQL, dropped afterwards; the URL pins it via search_path."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sqlalchemy.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"D365LOCAL_TEST_DATABASE_URL is set but unreachable under CI=true: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage-backed test runs on SQLite and, when configured, on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'd365local.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("set D365LOCAL_TEST_DATABASE_URL to run the PostgreSQL tier")
    yield from _postgres_schema_url(POSTGRES_URL)
