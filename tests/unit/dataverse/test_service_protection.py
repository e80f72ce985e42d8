"""Service protection limits: requests and execution time over a sliding window, and concurrency."""

from __future__ import annotations

import pytest

from d365local.clock import FrozenClock
from d365local.dataverse.domain.service_protection import Limits, ServiceProtection, ThrottledError


def test_request_limit_over_the_window_with_retry_after() -> None:
    clock = FrozenClock(1_000.0)
    protection = ServiceProtection(Limits(requests=3, window_seconds=300), clock)
    for _ in range(3):
        with protection.admit("u"):
            clock.advance(10)
    with pytest.raises(ThrottledError) as caught, protection.admit("u"):
        pass
    assert caught.value.code.code == "0x80072322"
    assert caught.value.code.status == 429
    assert caught.value.retry_after == 270  # the first request (t=1000) leaves the window at t=1300; now is 1030
    assert "exceeded the limit of 3 over time window of 300 seconds" in caught.value.message
    with protection.admit("someone else"):
        pass
    clock.advance(270)
    with protection.admit("u"):
        pass


def test_execution_time_limit() -> None:
    clock = FrozenClock(0.0)
    protection = ServiceProtection(Limits(execution_ms=5_000, window_seconds=300), clock)
    with protection.admit("u"):
        clock.advance(6)
    with pytest.raises(ThrottledError) as caught, protection.admit("u"):
        pass
    assert caught.value.code.code == "0x80072321"
    assert caught.value.retry_after >= 1


def test_concurrency_limit_is_immediate() -> None:
    protection = ServiceProtection(Limits(concurrent=2), FrozenClock(0.0))
    with protection.admit("u"), protection.admit("u"):
        with pytest.raises(ThrottledError) as caught, protection.admit("u"):
            pass
        assert caught.value.code.code == "0x80072326"
        assert caught.value.retry_after == 1
    with protection.admit("u"):
        pass
