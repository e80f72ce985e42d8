"""Service protection limits per application user (reference/dataverse.md §B.5), counted in this process.

Over a sliding window (5 minutes): at most ``requests`` requests and ``execution_ms`` of combined execution time;
at any moment at most ``concurrent`` requests in flight. Over a limit the request is refused with 429, the limit's
code and an integer ``Retry-After``. Counts live in one-second buckets, so memory per user is bounded.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from d365local.clock import Clock
from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseError


@dataclass(frozen=True)
class Limits:
    requests: int = 6000
    execution_ms: int = 1_200_000
    concurrent: int = 52
    window_seconds: int = 300


class ThrottledError(DataverseError):
    """A 429 with the seconds after which the caller may try again."""

    def __init__(self, code: errors.DataverseCode, retry_after: int, **params: object) -> None:
        super().__init__(code, **params)
        self.retry_after = retry_after


@dataclass
class _Usage:
    buckets: dict[int, list[float]] = field(default_factory=dict)
    """Second → [requests, execution ms]."""
    in_flight: int = 0


class ServiceProtection:
    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = {}

    @contextmanager
    def admit(self, user_key: str) -> Iterator[None]:
        """Count one request for ``user_key``; raise :class:`ThrottledError` when a limit is already exceeded."""
        started = self._clock.now()
        with self._lock:
            usage = self._usage.setdefault(user_key, _Usage())
            self._check(usage, started)
            usage.in_flight += 1
        try:
            yield
        finally:
            finished = self._clock.now()
            with self._lock:
                usage.in_flight -= 1
                bucket = usage.buckets.setdefault(int(started), [0, 0.0])
                bucket[0] += 1
                bucket[1] += max(0.0, finished - started) * 1000

    def _check(self, usage: _Usage, now: float) -> None:
        limits = self.limits
        if usage.in_flight >= limits.concurrent:
            raise ThrottledError(errors.TOO_MANY_CONCURRENT, 1, limit=limits.concurrent)
        oldest = int(now) - limits.window_seconds + 1
        for second in [s for s in usage.buckets if s < oldest]:
            del usage.buckets[second]
        requests = sum(b[0] for b in usage.buckets.values())
        execution = sum(b[1] for b in usage.buckets.values())
        if requests >= limits.requests:
            retry = self._retry_after(usage, now, lambda b: b[0], requests - limits.requests + 1)
            raise ThrottledError(errors.TOO_MANY_REQUESTS, retry, limit=limits.requests, window=limits.window_seconds)
        if execution >= limits.execution_ms:
            retry = self._retry_after(usage, now, lambda b: b[1], execution - limits.execution_ms + 1)
            raise ThrottledError(errors.TOO_MUCH_TIME, retry, limit=limits.execution_ms, window=limits.window_seconds)

    def _retry_after(self, usage: _Usage, now: float, measure: Callable[[list[float]], float], excess: float) -> int:
        """Seconds until enough of the oldest usage has left the window."""
        freed = 0.0
        for second in sorted(usage.buckets):
            freed += measure(usage.buckets[second])
            if freed >= excess:
                return max(1, math.ceil(second + self.limits.window_seconds - now))
        return self.limits.window_seconds
