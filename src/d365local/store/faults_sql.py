"""Injected faults on SQL, and the cached view the servers consult on every token request and Web API call.

The hot path must not pay for a feature tests use now and then: :class:`CachedFaults` keeps which apps have pending
faults until the change counter moves (adding a fault bumps it), so a request of an app without faults costs a
dictionary lookup. Taking a fault is one conditional ``UPDATE``, so concurrent workers consume exactly ``count``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine, delete, insert, select, update

from d365local.dataverse.domain.faults import InjectedFault
from d365local.faults import Fault, Target
from d365local.store import schema as t
from d365local.store.generation_cache import GenerationCache

_f = t.injected_faults


class SqlFaults:
    """Implements ``faults.FaultStore``."""

    def __init__(self, engine: Engine, bump: Callable[[Connection], None]) -> None:
        self._engine = engine
        self._bump = bump

    def add_fault(
        self, target: Target, scope_id: str, app_id: str, code: str, retry_after: int | None, count: int, now: float
    ) -> Fault:
        values = {
            "target": target,
            "scope_id": scope_id.lower(),
            "app_id": app_id.lower(),
            "code": code,
            "retry_after": retry_after,
            "remaining": count,
            "created_at": now,
        }
        with self._engine.begin() as conn:
            self._bump(conn)
            fault_id = conn.execute(insert(_f).values(**values)).inserted_primary_key
        assert fault_id is not None
        return Fault(id=int(fault_id[0]), **values)  # type: ignore[arg-type]

    def faults(self) -> Sequence[Fault]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(_f).where(_f.c.remaining > 0).order_by(_f.c.id)).mappings().all()
        return [Fault(**row) for row in rows]

    def clear_faults(self, app_id: str | None = None) -> int:
        with self._engine.begin() as conn:
            self._bump(conn)
            statement = delete(_f) if app_id is None else delete(_f).where(_f.c.app_id == app_id.lower())
            return conn.execute(statement).rowcount

    def pending(self, target: Target) -> frozenset[tuple[str, str]]:
        """(scope, app) pairs with faults left for ``target``."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_f.c.scope_id, _f.c.app_id).where(_f.c.target == target, _f.c.remaining > 0).distinct()
            ).all()
        return frozenset((row.scope_id, row.app_id) for row in rows)

    def take(self, target: Target, scope_id: str, app_id: str) -> Fault | None:
        """Consume one request's worth of the oldest pending fault, or None when there is none (left)."""
        where = (_f.c.target == target, _f.c.scope_id == scope_id.lower(), _f.c.app_id == app_id.lower())
        oldest = select(_f.c.id).where(*where, _f.c.remaining > 0).order_by(_f.c.id).limit(1).scalar_subquery()
        while True:  # on PostgreSQL a concurrent taker can win the row this one chose: go again while any is left
            with self._engine.begin() as conn:
                # The write comes first so SQLite takes its writer lock up front (a read-then-write transaction
                # cannot upgrade once another writer committed); PostgreSQL rechecks remaining > 0 under the row lock.
                row = (
                    conn.execute(
                        update(_f)
                        .where(_f.c.id == oldest, _f.c.remaining > 0)
                        .values(remaining=_f.c.remaining - 1)
                        .returning(*_f.c)
                    )
                    .mappings()
                    .first()
                )
                if row is not None:
                    if row["remaining"] == 0:
                        # Used up: tell every server's cache, so later requests skip the lookup again.
                        conn.execute(delete(_f).where(_f.c.id == row["id"]))
                        self._bump(conn)
                    return Fault(**{**row, "remaining": row["remaining"] + 1})
                if conn.execute(select(oldest)).scalar() is None:
                    return None


class CachedFaults:
    """Implements ``identity.faults.TokenFaults`` and ``dataverse.domain.faults.RequestFaults``."""

    def __init__(self, store: SqlFaults, cache: GenerationCache) -> None:
        self._store = store
        self._cache = cache

    def take_token_fault(self, tenant_id: str, app_id: str) -> str | None:
        fault = self._take("token", tenant_id, app_id)
        return fault.code if fault is not None else None

    def take_webapi_fault(self, org_id: str, app_id: str) -> InjectedFault | None:
        fault = self._take("webapi", org_id, app_id)
        return InjectedFault(fault.code, fault.retry_after or 0) if fault is not None else None

    def _take(self, target: Target, scope_id: str, app_id: str) -> Fault | None:
        key = (scope_id.lower(), app_id.lower())
        if key not in self._cache.get(("injected-faults", target), lambda: self._store.pending(target)):
            return None
        return self._store.take(target, *key)
