"""SQL tables for Dataverse records, built from a catalog and brought into the database by DDL.

One table per Dataverse table (``dv_<logical name>``), one typed column per attribute that records carry, and real
indexes (the org and creation time, every lookup, the primary name, each alternate key), so filters, sorts, keys and
paging stay SQL. Every row carries ``orgid``: organizations share the tables.

The record tables are not Alembic's: the catalog decides them (the standard tables shipped in the package, and the
custom tables and columns organizations add), so ``evolve`` compares the database with the catalog and creates what
is missing: tables, columns, indexes. At start-up it runs under the installation-wide start-up lock, and only when
the fingerprint of its inputs differs from the one recorded in ``settings`` (``customizations_sql``): a start-up
with nothing to do reads one row.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.schema import CreateColumn
from sqlalchemy.types import TypeEngine

from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    Catalog,
    EntityDefinition,
    KeyDefinition,
    ManyToManyDefinition,
)
from d365local.store import schema as system
from d365local.store.schema import GUID

RECORD_TABLE_PREFIX = "dv_"
FINGERPRINT_SETTING = "record_tables"
_MAX_IDENTIFIER = 63
"""PostgreSQL's identifier limit; longer index names are shortened with a hash."""
_POLYMORPHIC_TYPE = String(64)


def record_table_name(entity: EntityDefinition) -> str:
    return f"{RECORD_TABLE_PREFIX}{entity.logical_name}"


def sql_type(attribute: AttributeDefinition) -> TypeEngine[Any]:
    """The column type for an attribute. Strings are ``text`` whatever their MaxLength: the length is Dataverse's
    rule, checked on write, and a column's MaxLength can change without rewriting the table."""
    kind = attribute.type
    if kind in (AttributeType.STRING, AttributeType.MEMO, AttributeType.MULTISELECTPICKLIST):
        return Text()
    if kind is AttributeType.ENTITYNAME:
        return _POLYMORPHIC_TYPE
    if kind in (AttributeType.UNIQUEIDENTIFIER, AttributeType.IMAGE, AttributeType.FILE) or kind.is_lookup:
        return GUID
    if kind is AttributeType.INTEGER or kind.is_choice:
        return Integer()
    if kind is AttributeType.BIGINT:
        return BigInteger()
    if kind in (AttributeType.MONEY, AttributeType.DECIMAL):
        return Numeric(precision=23, scale=10, asdecimal=True)
    if kind is AttributeType.DOUBLE:
        return Double()
    if kind is AttributeType.BOOLEAN:
        return Boolean()
    if kind is AttributeType.DATETIME:
        return Date() if attribute.date_only else DateTime()
    raise TypeError(f"no SQL type for {kind}")


def _short(name: str) -> str:
    if len(name) <= _MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: _MAX_IDENTIFIER - 9]}_{digest}"


ScopedKeys = Mapping[str, Sequence[tuple[str, KeyDefinition]]]
"""Alternate keys one organization defined, by table: (organization id, key)."""


def _record_table(metadata: MetaData, entity: EntityDefinition, scoped: Sequence[tuple[str, KeyDefinition]]) -> Table:
    name = record_table_name(entity)
    columns: list[Column[Any]] = [
        Column(entity.primary_id, GUID, nullable=False),
        # The organizations table is Alembic's: referenced by column, across the two MetaData collections.
        Column("orgid", GUID, ForeignKey(system.organizations.c.id, ondelete="CASCADE"), nullable=False),
    ]
    # A record id is unique within its organization only, as each Dataverse org is its own database; the key
    # also gives the default order (and every page's tie-breaker): the primary id within an org.
    indexes: list[Index | PrimaryKeyConstraint] = [PrimaryKeyConstraint("orgid", entity.primary_id)]
    if entity.column("createdon") is not None:
        indexes.append(Index(_short(f"ix_{name}_orgid_createdon"), "orgid", "createdon"))
    for attribute in entity.columns:
        if attribute.is_primary_id:
            continue
        columns.append(Column(attribute.logical_name, sql_type(attribute), nullable=True))
        if attribute.type.is_lookup and len(attribute.targets) > 1:
            columns.append(Column(attribute.type_column, _POLYMORPHIC_TYPE, nullable=True))
        if attribute.type.is_lookup or attribute.type is AttributeType.UNIQUEIDENTIFIER:
            indexes.append(Index(_short(f"ix_{name}_{attribute.logical_name}"), attribute.logical_name))
        if attribute.is_primary_name:
            indexes.append(Index(_short(f"ix_{name}_orgid_{attribute.logical_name}"), "orgid", attribute.logical_name))
    for key in entity.keys:
        key_name = _short(f"uq_{name}_{'_'.join(key.attributes)}")
        indexes.append(Index(key_name, "orgid", *key.attributes, unique=True))
    for org_id, key in scoped:
        # Unique within the one organization that defined the key: a partial index, so other organizations sharing
        # the table are not bound by it. The id is a GUID (checked), so the literal is safe.
        only = text(f"orgid = '{uuid.UUID(org_id)}'")
        key_name = _short(f"uq_{name}_{key.logical_name}_{uuid.UUID(org_id).hex[:8]}")
        indexes.append(Index(key_name, "orgid", *key.attributes, unique=True, sqlite_where=only, postgresql_where=only))
    return Table(name, metadata, *columns, *indexes)


def _intersect_table(metadata: MetaData, catalog: Catalog, relationship: ManyToManyDefinition) -> Table:
    """(orgid, first record, second record): deleting either record removes the link, as in Dataverse."""
    name = f"{RECORD_TABLE_PREFIX}{relationship.intersect_entity}"
    one, two = catalog.intersect_attributes(relationship)
    first = catalog.by_logical_name(relationship.entity1)
    second = catalog.by_logical_name(relationship.entity2)
    assert first is not None
    assert second is not None  # the catalog keeps only relationships between its tables
    return Table(
        name,
        metadata,
        Column("orgid", GUID, primary_key=True),
        Column(one, GUID, primary_key=True),
        Column(two, GUID, primary_key=True),
        ForeignKeyConstraint(
            ["orgid", one],
            [f"{record_table_name(first)}.orgid", f"{record_table_name(first)}.{first.primary_id}"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["orgid", two],
            [f"{record_table_name(second)}.orgid", f"{record_table_name(second)}.{second.primary_id}"],
            ondelete="CASCADE",
        ),
        Index(_short(f"ix_{name}_orgid_{two}"), "orgid", two),
    )


class RecordTables:
    """The SQL tables of a catalog's records, plus the role link tables that reference two of them."""

    def __init__(self, catalog: Catalog, scoped_keys: ScopedKeys | None = None) -> None:
        scoped = scoped_keys or {}
        self.metadata = MetaData(naming_convention=system.metadata.naming_convention)
        self._tables = {
            e.logical_name: _record_table(self.metadata, e, scoped.get(e.logical_name, ())) for e in catalog.entities
        }
        self._intersects = {
            r.intersect_entity: _intersect_table(self.metadata, catalog, r) for r in catalog.many_to_many_relationships
        }
        self.role_privileges = Table(
            "dv_roleprivileges",
            self.metadata,
            Column("orgid", GUID, primary_key=True),
            Column("roleid", GUID, primary_key=True),
            Column("privilege", String(128), primary_key=True),
            Column("depth", Integer, nullable=False),
            ForeignKeyConstraint(["orgid", "roleid"], ["dv_role.orgid", "dv_role.roleid"], ondelete="CASCADE"),
        )
        # Users' roles are the systemuserroles_association relationship's intersect table.
        self.user_roles = self._intersects["systemuserroles"]

    def __getitem__(self, logical_name: str) -> Table:
        return self._tables[logical_name]

    def __contains__(self, logical_name: object) -> bool:
        return logical_name in self._tables

    @property
    def tables(self) -> Mapping[str, Table]:
        return self._tables

    def intersect(self, relationship: ManyToManyDefinition) -> Table:
        """The table linking the records of an N:N relationship."""
        return self._intersects[relationship.intersect_entity]

    def evolve(self, connection: Connection) -> None:
        """Create the tables, columns and indexes the database lacks (in the caller's transaction, which should hold
        the start-up lock or the directory's write lock). Nothing is dropped or narrowed."""
        _Evolution(connection, self.metadata).apply()

    def remove_absent(self, connection: Connection, previous: RecordTables) -> None:
        """Drop what ``previous`` had and these tables do not: a deleted table, column or key takes its data and its
        index with it (as in Dataverse). Only for a schema change, never at start-up: a database must survive being
        opened by an older version."""
        preparer = connection.dialect.identifier_preparer
        for old in previous.metadata.sorted_tables:
            new = self.metadata.tables.get(old.name)
            if new is None:
                old.drop(connection)
                continue
            wanted = {index.name for index in new.indexes}
            for index in old.indexes:
                if index.name not in wanted:
                    index.drop(connection)
            target = preparer.format_table(new)
            for column in old.columns:
                if column.name not in new.columns:
                    connection.exec_driver_sql(f"ALTER TABLE {target} DROP COLUMN {preparer.format_column(column)}")


def stored_fingerprint(connection: Connection) -> str | None:
    """The fingerprint of the schema inputs the record tables were last brought in line with."""
    recorded = system.settings.c
    query = select(recorded.value).where(recorded.name == FINGERPRINT_SETTING)
    return connection.execute(query).scalar_one_or_none()


def store_fingerprint(connection: Connection, fingerprint: str) -> None:
    recorded = system.settings.c
    changed = connection.execute(
        update(system.settings).where(recorded.name == FINGERPRINT_SETTING).values(value=fingerprint)
    )
    if changed.rowcount == 0:
        connection.execute(insert(system.settings).values(name=FINGERPRINT_SETTING, value=fingerprint))


class _Evolution:
    """One comparison of the database with the tables, and the DDL that closes the gap."""

    def __init__(self, connection: Connection, metadata: MetaData) -> None:
        self._connection = connection
        self._metadata = metadata
        self._inspector = inspect(connection)
        self._postgres = connection.dialect.name == "postgresql"

    def apply(self) -> None:
        existing = set(self._inspector.get_table_names())
        missing = [table for table in self._metadata.sorted_tables if table.name not in existing]
        self._metadata.create_all(self._connection, tables=missing)
        for table in self._metadata.sorted_tables:
            if table.name in existing:
                self._evolve(table)

    def _evolve(self, table: Table) -> None:
        present = {column["name"]: column for column in self._inspector.get_columns(table.name)}
        preparer = self._connection.dialect.identifier_preparer
        for column in table.columns:
            if column.name not in present:
                definition = CreateColumn(column).compile(dialect=self._connection.dialect)
                self._connection.exec_driver_sql(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {definition}")
            elif self._postgres and _needs_retype(present[column.name]["type"], column.type):
                # Only PostgreSQL enforces declared types; a varchar(n) of an older version becomes text, etc.
                wanted = column.type.compile(dialect=self._connection.dialect)
                name, target = preparer.format_column(column), preparer.format_table(table)
                self._connection.exec_driver_sql(
                    f"ALTER TABLE {target} ALTER COLUMN {name} TYPE {wanted} USING {name}::{wanted}"
                )
        named = {index["name"] for index in self._inspector.get_indexes(table.name)}
        named |= {constraint["name"] for constraint in self._inspector.get_unique_constraints(table.name)}
        for index in table.indexes:
            if index.name not in named:
                index.create(self._connection)


def _needs_retype(present: TypeEngine[Any], wanted: TypeEngine[Any]) -> bool:
    if isinstance(wanted, Text):
        return not isinstance(present, Text)
    if isinstance(wanted, String) and isinstance(present, String):
        return (present.length or 0) < (wanted.length or 0)
    return present._type_affinity is not wanted._type_affinity


_BUILT: weakref.WeakKeyDictionary[Catalog, RecordTables] = weakref.WeakKeyDictionary()
_BUILT_LOCK = threading.Lock()


def record_tables_for(catalog: Catalog) -> RecordTables:
    """The tables of a catalog, built once per catalog object (building them costs a few hundred milliseconds)."""
    with _BUILT_LOCK:
        tables = _BUILT.get(catalog)
        if tables is None:
            tables = _BUILT[catalog] = RecordTables(catalog)
        return tables


def builtin_record_tables() -> RecordTables:
    """The tables of the built-in catalog."""
    return record_tables_for(builtin_catalog())
