"""Single-use client assertions (``serve --reject-assertion-replay``), shared by every worker through the database."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from d365local.clock import Clock
from d365local.store import schema as t

PURGE_INTERVAL_SECONDS = 60.0


class SqlReplayGuard:
    """Implements ``identity.client_auth.ReplayGuard``: a jti is accepted once, then refused until it expires."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def first_use(self, client_id: str, jti: str, expires_at: float) -> bool:
        self._purge_expired()
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(t.used_assertions).values(client_id=client_id, jti=jti, expires_at=expires_at))
        except IntegrityError:
            return False
        return True

    def _purge_expired(self) -> None:
        now = self._clock.now()
        with self._lock:
            if now < self._next_purge:
                return
            self._next_purge = now + PURGE_INTERVAL_SECONDS
        # Kept past expiry by the clock-skew allowance, during which an expired assertion could still be accepted.
        with self._engine.begin() as conn:
            conn.execute(delete(t.used_assertions).where(t.used_assertions.c.expires_at < now - 600))
