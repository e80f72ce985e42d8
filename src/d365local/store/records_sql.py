"""Dataverse records on SQL (implements ``dataverse.domain.storage.RecordStore``): one table per Dataverse table.

Filters and sorts, bound to the tables by the Dataverse side, run in the database (``odata_sql``, bound parameters
only); the caller's Read depth becomes a WHERE clause. ``atomic()`` gives change sets and bulk operations one
transaction.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import DataError as DBAPIDataError
from sqlalchemy.exc import IntegrityError, OperationalError

from d365local.dataverse import errors
from d365local.dataverse.domain.model import Depth
from d365local.dataverse.domain.security import Ownership
from d365local.dataverse.domain.storage import RecordQuery, Row
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.schema.metadata import EntityDefinition, ManyToManyDefinition
from d365local.store.odata_sql import FilterContext, compile_filter, compile_order, reach_condition
from d365local.store.record_tables import RecordTables

_SECURITY_TABLES = frozenset({"systemuser", "role", "businessunit", "team"})
"""Tables whose rows the security cache reads: writing them through the Web API is an admin change."""


class SqlRecordStore:
    def __init__(
        self,
        engine: Engine,
        tables: Callable[[], RecordTables],
        bump_generation: Callable[[Connection], None],
    ) -> None:
        """``tables`` gives the current record tables (they change when an organization changes its schema)."""
        self._engine = engine
        self._tables = tables
        self._bump = bump_generation
        self._transaction: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
            "records_tx", default=None
        )

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        if self._transaction.get() is not None:
            yield
            return
        with self._engine.begin() as conn:
            token = self._transaction.set(conn)
            try:
                yield
            finally:
                self._transaction.reset(token)

    @contextlib.contextmanager
    def _connection(self, *, write: bool = False) -> Iterator[Connection]:
        current = self._transaction.get()
        if current is not None:
            yield current
            return
        if write:
            with self._engine.begin() as conn:
                yield conn
        else:
            with self._engine.connect() as conn:
                yield conn

    def _table(self, entity: EntityDefinition) -> Table:
        return self._tables()[entity.logical_name]

    def _intersect(self, relationship: ManyToManyDefinition) -> Table:
        return self._tables().intersect(relationship)

    def insert(self, entity: EntityDefinition, org_id: str, values: Mapping[str, Any]) -> None:
        table = self._table(entity)
        try:
            with self._connection(write=True) as conn, conn.begin_nested():
                conn.execute(insert(table).values(orgid=org_id, **values))
                self._after_write(conn, entity)
        except IntegrityError as exc:
            raise self._duplicate(entity, org_id, values) from exc

    def insert_many(self, entity: EntityDefinition, org_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        table = self._table(entity)
        columns = sorted({name for row in rows for name in row})
        # executemany needs the same keys in every row; a column a row leaves out is simply NULL.
        uniform = [{"orgid": org_id, **{name: row.get(name) for name in columns}} for row in rows]
        try:
            with self._connection(write=True) as conn, conn.begin_nested():
                conn.execute(insert(table), uniform)
                self._after_write(conn, entity)
        except IntegrityError:
            for row in rows:  # find the row that broke it, to name its id or key as a single insert would
                self.insert(entity, org_id, row)
            raise

    def _duplicate(self, entity: EntityDefinition, org_id: str, values: Mapping[str, Any]) -> DataverseError:
        for key in entity.alternate_keys:
            existing = self.fetch_by_key(entity, org_id, {k: values.get(k) for k in key})
            if existing is not None and all(values.get(k) is not None for k in key):
                shown = ",".join(str(values.get(k)) for k in key)
                return DataverseError(errors.DUPLICATE_KEY, values=shown, key=f"{entity.logical_name}_{'_'.join(key)}")
        return DataverseError(errors.DUPLICATE_RECORD)

    def fetch(self, entity: EntityDefinition, org_id: str, record_id: str) -> Row | None:
        table = self._table(entity)
        with self._connection() as conn:
            row = conn.execute(
                select(table).where(table.c[entity.primary_id] == record_id, table.c.orgid == org_id)
            ).first()
        return dict(row._mapping) if row is not None else None

    def fetch_by_key(self, entity: EntityDefinition, org_id: str, key: Mapping[str, Any]) -> Row | None:
        table = self._table(entity)
        conditions = [table.c.orgid == org_id, *(table.c[name] == value for name, value in key.items())]
        with self._connection() as conn:
            row = conn.execute(select(table).where(*conditions).limit(2)).first()
        return dict(row._mapping) if row is not None else None

    def names(self, entity: EntityDefinition, org_id: str, record_ids: Collection[str]) -> dict[str, str]:
        table = self._table(entity)
        key, name = table.c[entity.primary_id], table.c[entity.primary_name]
        with self._connection() as conn:
            rows = conn.execute(select(key, name).where(table.c.orgid == org_id, key.in_(sorted(record_ids)))).all()
        return {str(row[0]).lower(): str(row[1]) for row in rows if row[1] is not None}

    def update(self, entity: EntityDefinition, org_id: str, record_id: str, values: Mapping[str, Any]) -> None:
        table = self._table(entity)
        try:
            with self._connection(write=True) as conn, conn.begin_nested():
                conn.execute(
                    update(table)
                    .where(table.c[entity.primary_id] == record_id, table.c.orgid == org_id)
                    .values(**values)
                )
                self._after_write(conn, entity)
        except IntegrityError as exc:
            raise self._duplicate(entity, org_id, values) from exc

    def delete(self, entity: EntityDefinition, org_id: str, record_id: str) -> bool:
        table = self._table(entity)
        with self._connection(write=True) as conn:
            result = conn.execute(delete(table).where(table.c[entity.primary_id] == record_id, table.c.orgid == org_id))
            self._after_write(conn, entity)
        return result.rowcount > 0

    def _after_write(self, conn: Connection, entity: EntityDefinition) -> None:
        if entity.logical_name in _SECURITY_TABLES:
            self._bump(conn)

    @contextlib.contextmanager
    def _query_errors(self) -> Iterator[None]:
        """Values the database cannot compare or a filter it cannot plan are the caller's error, not a 500."""
        try:
            yield
        except DBAPIDataError as exc:
            raise DataverseError(
                errors.QUERY_INVALID, detail="A value in the query cannot be used with its column."
            ) from exc
        except OperationalError as exc:
            if "too large" not in str(exc) and "too complex" not in str(exc):
                raise
            raise DataverseError(errors.QUERY_INVALID, detail="The $filter expression is too large.") from exc

    def select(self, entity: EntityDefinition, org_id: str, query: RecordQuery) -> list[Row]:
        table = self._table(entity)
        statement = select(table).where(*self._conditions(entity, org_id, query))
        order = [compile_order(item, table) for item in query.orderby]
        # The primary id makes the order total, so pages never overlap or skip rows.
        order.append(table.c[entity.primary_id].asc())
        statement = statement.order_by(*order).offset(query.offset)
        if query.limit is not None:
            statement = statement.limit(query.limit)
        with self._query_errors(), self._connection() as conn:
            return [dict(row._mapping) for row in conn.execute(statement)]

    def count(self, entity: EntityDefinition, org_id: str, query: RecordQuery) -> int:
        table = self._table(entity)
        statement = select(func.count()).select_from(table).where(*self._conditions(entity, org_id, query))
        with self._query_errors(), self._connection() as conn:
            return int(conn.execute(statement).scalar_one())

    def _conditions(self, entity: EntityDefinition, org_id: str, query: RecordQuery) -> list[Any]:
        table = self._table(entity)
        conditions: list[Any] = [table.c.orgid == org_id]
        if query.filter is not None:
            context = FilterContext(
                self._tables().tables,
                org_id,
                query.user_id,
                query.business_unit_id,
                dt.datetime.fromtimestamp(query.now, dt.UTC).replace(tzinfo=None),
            )
            conditions.append(compile_filter(query.filter, entity, context))
        if query.within is not None:
            column, values = query.within
            conditions.append(table.c[column].in_(sorted(values)))
        grant = query.grant
        if grant is not None and grant.depth is not Depth.GLOBAL:
            reach = reach_condition(table, grant, Ownership.of(entity))
            if reach is not None:
                conditions.append(reach)
        return conditions

    def synchronize(self, entity: EntityDefinition, org_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
        table = self._table(entity)
        key = table.c[entity.primary_id]
        wanted = {str(row[entity.primary_id]).lower(): row for row in rows}
        with self._connection(write=True) as conn:
            present = {str(i).lower() for i in conn.execute(select(key).where(table.c.orgid == org_id)).scalars()}
            stale = sorted(present - set(wanted))
            if stale:
                conn.execute(delete(table).where(table.c.orgid == org_id, key.in_(stale)))
            missing = [row for row_id, row in wanted.items() if row_id not in present]
            if missing:
                try:
                    with conn.begin_nested():
                        self.insert_many(entity, org_id, missing)
                except DataverseError:
                    pass  # another process wrote them at the same moment: they are there

    # -- N:N associations ---------------------------------------------------------------------------------------
    def _sides(self, relationship: ManyToManyDefinition) -> tuple[Table, str, str]:
        table = self._intersect(relationship)
        one, two = (column.name for column in table.primary_key.columns if column.name != "orgid")
        return table, one, two

    def link(self, relationship: ManyToManyDefinition, org_id: str, first_id: str, second_id: str) -> None:
        table, one, two = self._sides(relationship)
        try:
            with self._connection(write=True) as conn, conn.begin_nested():
                conn.execute(insert(table).values({"orgid": org_id, one: first_id.lower(), two: second_id.lower()}))
        except IntegrityError as exc:
            raise DataverseError(errors.DUPLICATE_RECORD) from exc

    def unlink(self, relationship: ManyToManyDefinition, org_id: str, first_id: str, second_id: str) -> bool:
        table, one, two = self._sides(relationship)
        condition = (table.c.orgid == org_id, table.c[one] == first_id.lower(), table.c[two] == second_id.lower())
        with self._connection(write=True) as conn:
            return conn.execute(delete(table).where(*condition)).rowcount > 0

    def linked(
        self, relationship: ManyToManyDefinition, org_id: str, from_first: bool, record_ids: Collection[str]
    ) -> dict[str, set[str]]:
        table, one, two = self._sides(relationship)
        near, far = (one, two) if from_first else (two, one)
        wanted = sorted({record_id.lower() for record_id in record_ids})
        query = select(table.c[near], table.c[far]).where(table.c.orgid == org_id, table.c[near].in_(wanted))
        found: dict[str, set[str]] = {}
        with self._connection() as conn:
            for row in conn.execute(query):
                found.setdefault(str(row[0]).lower(), set()).add(str(row[1]).lower())
        return found
