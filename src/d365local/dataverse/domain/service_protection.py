"""Service protection limits per application user (docs/reference/dataverse.md, "Service protection limits").

Over a sliding window (5 minutes): at most ``requests`` requests and ``execution_ms`` of combined execution time;
at any moment at most ``concurrent`` requests in flight. Over a limit the request is refused with 429, the limit's
code and an integer ``Retry-After``. Counts live in one-second buckets, so memory per user is bounded.

On one host the counts live in process memory. With a :class:`SharedUsage` (PostgreSQL, several processes or
hosts) each process adds its buckets to the shared counts in batches — every ``EXCHANGE_INTERVAL`` seconds, never
a database write per request — and checks against everyone's usage plus its own not yet shared.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

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


EXCHANGE_INTERVAL = 2.0

Buckets = dict[int, list[float]]
"""Second → [requests, execution ms]."""


class SharedUsage(Protocol):
    def exchange(self, deltas: Mapping[str, Buckets], users: Collection[str], since: int) -> dict[str, Buckets]:
        """Add this process's new usage; return every process's usage of ``users`` from second ``since`` on."""


@dataclass
class _Usage:
    buckets: Buckets = field(default_factory=dict)
    """This process's usage not yet shared."""
    shared: Buckets = field(default_factory=dict)
    """Everyone's usage as of the last exchange."""
    in_flight: int = 0


class ServiceProtection:
    def __init__(self, limits: Limits, clock: Clock, shared: SharedUsage | None = None) -> None:
        self.limits = limits
        self._clock = clock
        self._shared = shared
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = {}
        self._next_exchange = 0.0

    @contextmanager
    def admit(self, user_key: str) -> Iterator[None]:
        """Count one request for ``user_key``; raise :class:`ThrottledError` when a limit is already exceeded."""
        started = self._clock.now()
        with self._lock:
            usage = self._usage.setdefault(user_key, _Usage())
            if self._shared is not None and started >= self._next_exchange:
                self._exchange(started)
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

    def _exchange(self, now: float) -> None:
        """Share this process's buckets and take everyone's (called under the lock, every few seconds)."""
        assert self._shared is not None
        self._next_exchange = now + EXCHANGE_INTERVAL
        since = int(now) - self.limits.window_seconds + 1
        deltas = {key: usage.buckets for key, usage in self._usage.items() if usage.buckets}
        try:
            totals = self._shared.exchange(deltas, list(self._usage), since)
        except Exception:
            return
        for key, usage in self._usage.items():
            if key in deltas:
                usage.buckets = {}
            usage.shared = totals.get(key, {})

    def _check(self, usage: _Usage, now: float) -> None:
        limits = self.limits
        if usage.in_flight >= limits.concurrent:
            raise ThrottledError(errors.TOO_MANY_CONCURRENT, 1, limit=limits.concurrent)
        oldest = int(now) - limits.window_seconds + 1
        for buckets in (usage.buckets, usage.shared):
            for second in [s for s in buckets if s < oldest]:
                del buckets[second]
        merged: Buckets = {}
        for buckets in (usage.shared, usage.buckets):
            for second, (count, milliseconds) in buckets.items():
                total = merged.setdefault(second, [0, 0.0])
                total[0] += count
                total[1] += milliseconds
        requests = sum(b[0] for b in merged.values())
        execution = sum(b[1] for b in merged.values())
        if requests >= limits.requests:
            retry = self._retry_after(merged, now, lambda b: b[0], requests - limits.requests + 1)
            raise ThrottledError(errors.TOO_MANY_REQUESTS, retry, limit=limits.requests, window=limits.window_seconds)
        if execution >= limits.execution_ms:
            retry = self._retry_after(merged, now, lambda b: b[1], execution - limits.execution_ms + 1)
            raise ThrottledError(errors.TOO_MUCH_TIME, retry, limit=limits.execution_ms, window=limits.window_seconds)

    def _retry_after(self, buckets: Buckets, now: float, measure: Callable[[list[float]], float], excess: float) -> int:
        """Seconds until enough of the oldest usage has left the window."""
        freed = 0.0
        for second in sorted(buckets):
            freed += measure(buckets[second])
            if freed >= excess:
                return max(1, math.ceil(second + self.limits.window_seconds - now))
        return self.limits.window_seconds
