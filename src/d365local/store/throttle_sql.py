"""Service-protection usage shared through PostgreSQL (implements ``dataverse.domain.service_protection.SharedUsage``).

Each process adds its per-second counts in one statement per exchange (every few seconds) and reads back the
window's totals of the users it serves; rows older than twice the window are pruned on the way.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects.postgresql import insert

from d365local.dataverse.domain.service_protection import Buckets
from d365local.store.records_schema import throttle_usage as usage


class PostgresSharedUsage:
    def __init__(self, engine: Engine, window_seconds: int) -> None:
        self._engine = engine
        self._window = window_seconds
        self._process = str(uuid.uuid4())

    def exchange(self, deltas: Mapping[str, Buckets], users: Collection[str], since: int) -> dict[str, Buckets]:
        rows = [
            {"user_key": key, "second": second, "process": self._process, "requests": int(b[0]), "execution_ms": b[1]}
            for key, buckets in deltas.items()
            for second, b in buckets.items()
        ]
        totals: dict[str, Buckets] = {}
        with self._engine.begin() as conn:
            if rows:
                statement = insert(usage).values(rows)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[usage.c.user_key, usage.c.second, usage.c.process],
                        set_={
                            "requests": usage.c.requests + statement.excluded.requests,
                            "execution_ms": usage.c.execution_ms + statement.excluded.execution_ms,
                        },
                    )
                )
            conn.execute(delete(usage).where(usage.c.second < since - self._window))
            if users:
                query = (
                    select(usage.c.user_key, usage.c.second, func.sum(usage.c.requests), func.sum(usage.c.execution_ms))
                    .where(usage.c.user_key.in_(list(users)), usage.c.second >= since)
                    .group_by(usage.c.user_key, usage.c.second)
                )
                for key, second, requests, milliseconds in conn.execute(query):
                    totals.setdefault(key, {})[int(second)] = [int(requests), float(milliseconds)]
        return totals
