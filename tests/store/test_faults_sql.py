"""Injected faults on SQLite and PostgreSQL: validated, consumed exactly ``count`` times, invisible to others."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from d365local.admins import Admins
from d365local.faults import FaultError
from d365local.store.database import open_database
from d365local.store.faults_sql import CachedFaults, SqlFaults
from d365local.store.generation_cache import GenerationCache


@pytest.fixture
def admins(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    database = open_database(tmp_path, database_url)
    admins = Admins.on(database)
    yield admins, database
    database.close()


def _setup(admins: Admins) -> tuple[str, str, str]:
    tenant = admins.directory.create_tenant("faults")
    app = admins.directory.create_app(tenant.id, "app")
    org = admins.directory.create_org(tenant.id, "faults")
    admins.dataverse.ensure_organizations()
    admins.dataverse.create_application_user(org.name, app.app_id, object_id=None, full_name="app")
    return tenant.id, org.id, app.app_id


def test_token_fault_is_taken_count_times_then_gone(admins) -> None:  # type: ignore[no-untyped-def]
    admins_, database = admins
    tenant_id, _org_id, app_id = _setup(admins_)
    fault = admins_.faults.fail_token_requests(tenant_id, app_id.upper(), "7000222", count=2)
    assert (fault.code, fault.remaining) == ("AADSTS7000222", 2)
    cache = GenerationCache(database.directory.generation)
    faults = CachedFaults(SqlFaults(database.engine, database.directory.bump), cache)
    cache.sync()
    assert faults.take_token_fault(tenant_id, "00000000-0000-0000-0000-000000000000") is None
    assert faults.take_webapi_fault(tenant_id, app_id) is None
    assert faults.take_token_fault(tenant_id, app_id) == "AADSTS7000222"
    assert [f.remaining for f in admins_.faults.faults()] == [1]
    assert faults.take_token_fault(tenant_id.upper(), app_id) == "AADSTS7000222"
    assert admins_.faults.faults() == []
    cache.sync()  # the last take bumped the change counter: the cached "who has faults" is dropped
    assert faults.take_token_fault(tenant_id, app_id) is None


def test_webapi_fault_carries_code_and_retry_after(admins) -> None:  # type: ignore[no-untyped-def]
    admins_, database = admins
    _tenant_id, org_id, app_id = _setup(admins_)
    admins_.faults.throttle_webapi("faults", app_id, retry_after=7, code="0x80072326")
    cache = GenerationCache(database.directory.generation)
    cache.sync()
    taken = CachedFaults(SqlFaults(database.engine, database.directory.bump), cache).take_webapi_fault(org_id, app_id)
    assert taken is not None
    assert (taken.code, taken.retry_after) == ("0x80072326", 7)


@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        ("token", {"code": "AADSTS12345"}, "not an AADSTS code"),
        ("token", {"code": "AADSTS7000222", "count": 0}, "1..10000"),
        ("webapi", {"code": "0x80040217"}, "not a service protection code"),
        ("webapi", {"retry_after": -1}, "Retry-After"),
    ],
)
def test_bad_faults_are_refused(admins, kind: str, kwargs: dict[str, object], message: str) -> None:  # type: ignore[no-untyped-def]
    admins_, _database = admins
    tenant_id, _org_id, app_id = _setup(admins_)

    def inject() -> object:
        if kind == "token":
            return admins_.faults.fail_token_requests(tenant_id, app_id, **kwargs)  # type: ignore[arg-type]
        return admins_.faults.throttle_webapi("faults", app_id, **kwargs)  # type: ignore[arg-type]

    with pytest.raises(FaultError, match=message):
        inject()
    assert admins_.faults.faults() == []


@pytest.mark.parametrize("rows", [1, 5], ids=["one fault of 5", "five faults of 1"])
def test_concurrent_takers_consume_exactly_count(admins, rows: int) -> None:  # type: ignore[no-untyped-def]
    admins_, database = admins
    tenant_id, _org_id, app_id = _setup(admins_)
    for _ in range(rows):
        admins_.faults.fail_token_requests(tenant_id, app_id, "AADSTS7000215", count=5 // rows)
    store = SqlFaults(database.engine, database.directory.bump)
    taken: list[object] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        for _ in range(3):
            fault = store.take("token", tenant_id, app_id)
            if fault is not None:
                taken.append(fault)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 5
    assert admins_.faults.faults() == []


def test_clear_removes_one_apps_faults_or_all(admins) -> None:  # type: ignore[no-untyped-def]
    admins_, _database = admins
    tenant_id, _org_id, app_id = _setup(admins_)
    other = admins_.directory.create_app(tenant_id, "other")
    admins_.faults.fail_token_requests(tenant_id, app_id, "AADSTS7000222")
    admins_.faults.fail_token_requests(tenant_id, other.app_id, "AADSTS7000222")
    assert admins_.faults.clear(app_id.upper()) == 1
    assert [f.app_id for f in admins_.faults.faults()] == [other.app_id.lower()]
    assert admins_.faults.clear() == 1
