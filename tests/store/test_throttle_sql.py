"""Service-protection counts shared by several processes through PostgreSQL, in batches."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365local.clock import FrozenClock
from d365local.dataverse.domain.service_protection import EXCHANGE_INTERVAL, Limits, ServiceProtection, ThrottledError
from d365local.store.database import open_database
from d365local.store.throttle_sql import PostgresSharedUsage


def test_two_processes_share_one_limit(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("counts are shared only through PostgreSQL; SQLite means one host, counted in memory")
    database = open_database(tmp_path, database_url)
    try:
        clock = FrozenClock(1_000_000.0)
        limits = Limits(requests=4, window_seconds=300)
        first = ServiceProtection(limits, clock, PostgresSharedUsage(database.engine, 300))
        second = ServiceProtection(limits, clock, PostgresSharedUsage(database.engine, 300))
        for _ in range(4):
            with first.admit("org/user"):
                pass
        clock.advance(EXCHANGE_INTERVAL)
        with pytest.raises(ThrottledError), first.admit("org/user"):  # shares its four, then counts them
            pass
        with pytest.raises(ThrottledError) as caught, second.admit("org/user"):
            pass
        assert caught.value.code.code == "0x80072322"
        assert 1 <= caught.value.retry_after <= 300
        with second.admit("another/user"):
            pass
        clock.advance(300)
        with second.admit("org/user"):
            pass
    finally:
        database.close()
