"""Organizations' custom schema on SQL: one JSON document per organization, and the record tables that follow it.

A change runs in the directory's write transaction (it bumps the change counter first, which serializes writers
across processes and hosts and tells every server to look again), applies the DDL the new schema needs (PostgreSQL
and SQLite both run DDL inside the transaction: a failed change leaves neither document nor tables behind), and
stores the document with a new version. Readers cache each organization's catalog and the record tables by those
versions, so a request pays nothing unless the schema really changed.

The record tables are shared by all organizations (rows carry ``orgid``): their columns are the union of every
organization's schema. A column two organizations define with different storage types is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib import resources

from sqlalchemy import Connection, Engine, delete, insert, select, update

from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.schema.customizations import Customizations
from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    Catalog,
    EntityDefinition,
    KeyDefinition,
    ManyToManyDefinition,
)
from d365local.store.directory_sql import SqlDirectory
from d365local.store.generation_cache import GenerationCache
from d365local.store.record_tables import (
    RecordTables,
    record_tables_for,
    sql_type,
    store_fingerprint,
    stored_fingerprint,
)
from d365local.store.records_schema import customizations as documents

Versions = tuple[tuple[str, int], ...]


_SCHEMA_CODE = (
    ("d365local.store", "record_tables.py"),
    ("d365local.dataverse.schema", "builtin_tables.py"),
    ("d365local.dataverse.schema", "standard_tables.py"),
    ("d365local.dataverse.schema", "standard_tables.json"),
    ("d365local.dataverse.schema", "metadata.py"),
    ("d365local.dataverse.schema", "customizations.py"),
)
"""What decides the record tables besides the organizations' documents: their code and the standard catalog."""


def inputs_fingerprint(document_texts: Iterable[str]) -> str:
    """A hash of everything the record tables are built from: equal fingerprints need no DDL (and no catalog: a
    start-up compares this one row instead of building the tables to compare them)."""
    digest = hashlib.sha256()
    for package, name in _SCHEMA_CODE:
        digest.update(resources.files(package).joinpath(name).read_bytes())
    for text in sorted(document_texts):
        digest.update(text.encode())
    return digest.hexdigest()


def _raw_documents(conn: Connection) -> dict[str, tuple[int, str]]:
    rows = conn.execute(select(documents.c.orgid, documents.c.version, documents.c.document)).all()
    return {row.orgid: (row.version, row.document) for row in rows}


def load_documents(conn: Connection) -> dict[str, tuple[int, Customizations]]:
    return {org: (version, Customizations.from_json(text)) for org, (version, text) in _raw_documents(conn).items()}


def installation_tables(
    base: Catalog, schemas: Mapping[str, Customizations], *, last: str | None = None
) -> RecordTables:
    """The record tables every organization's schema needs: each table and column any organization has (merged),
    and each organization's own alternate keys as indexes bound to that organization. ``last`` is merged last, so a
    conflict names what the others have."""
    if all(schema.is_empty for schema in schemas.values()):
        return record_tables_for(base)
    extra: dict[str, dict[str, AttributeDefinition]] = {}
    custom: dict[str, EntityDefinition] = {}
    scoped: dict[str, list[tuple[str, KeyDefinition]]] = {}
    intersects: dict[str, ManyToManyDefinition] = {}
    for org_id in sorted(schemas, key=lambda org: (org == last, org)):
        schema = schemas[org_id]
        for table, columns in schema.columns.items():
            for column in columns:
                _merge_column(extra.setdefault(table, {}), table, column)
        for relationship in schema.many_to_many:
            intersects.setdefault(relationship.intersect_entity, relationship)
        for table, keys in schema.keys.items():
            scoped.setdefault(table, []).extend((org_id, key) for key in keys)
        for entity in schema.tables:
            scoped.setdefault(entity.logical_name, []).extend((org_id, key) for key in entity.keys)
            present = custom.get(entity.logical_name)
            merged = {a.logical_name: a for a in present.attributes} if present is not None else {}
            for column in entity.attributes:
                _merge_column(merged, entity.logical_name, column)
            custom[entity.logical_name] = dataclasses.replace(entity, attributes=tuple(merged.values()), keys=())
    union = Customizations(
        tables=tuple(custom.values()),
        columns={t: tuple(c.values()) for t, c in extra.items()},
        many_to_many=tuple(intersects.values()),
    )
    return RecordTables(union.apply_to(base), scoped)


def ensure_record_tables(conn: Connection, base: Callable[[], Catalog]) -> bool:
    """At start-up (under the start-up lock): the record tables every organization's schema needs; True when the
    database had to change. The built-in catalog is only loaded when the inputs changed."""
    raw = _raw_documents(conn)
    fingerprint = inputs_fingerprint(text for _version, text in raw.values())
    if stored_fingerprint(conn) == fingerprint:
        return False
    schemas = {org: Customizations.from_json(text) for org, (_version, text) in raw.items()}
    installation_tables(base(), schemas).evolve(conn)
    store_fingerprint(conn, fingerprint)
    return True


def _merge_column(columns: dict[str, AttributeDefinition], table: str, column: AttributeDefinition) -> None:
    present = columns.get(column.logical_name)
    if present is None:
        columns[column.logical_name] = column
    elif column.is_column and present.is_column and repr(sql_type(present)) != repr(sql_type(column)):
        raise DataverseError(
            errors.INVALID_ARGUMENT,
            detail=f"The column {table}.{column.logical_name} exists in another organization of this d365local "
            f"installation with another storage type ({present.type.value}); choose another name.",
        )


class SqlCustomizations:
    """Implements ``dataverse.domain.storage.CustomizationStore``, and gives the record store its tables."""

    def __init__(self, directory: SqlDirectory, base: Catalog, cache: GenerationCache | None = None) -> None:
        self._directory = directory
        self._engine: Engine = directory.engine
        self._base = base
        self._cache = cache
        self._lock = threading.Lock()
        self._catalogs: dict[str, tuple[int, Catalog]] = {}
        self._tables: tuple[Versions, RecordTables] | None = None

    # -- reads -------------------------------------------------------------------------------------------------
    def _versions(self) -> Versions:
        def load() -> Versions:
            with self._engine.connect() as conn:
                rows = conn.execute(select(documents.c.orgid, documents.c.version).order_by(documents.c.orgid))
                return tuple((row.orgid, row.version) for row in rows)

        return self._cache.get("dv-customization-versions", load) if self._cache is not None else load()

    def customizations(self, org_id: str) -> Customizations:
        with self._engine.connect() as conn:
            return _document(conn, org_id)[1]

    def catalog(self, org_id: str) -> Catalog:
        """The organization's catalog: the built-in tables with its customizations."""
        version = dict(self._versions()).get(org_id, 0)
        with self._lock:
            cached = self._catalogs.get(org_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        catalog = self._base if version == 0 else self.customizations(org_id).apply_to(self._base)
        with self._lock:
            self._catalogs[org_id] = (version, catalog)
        return catalog

    def tables(self) -> RecordTables:
        """The record tables of every organization's schema, rebuilt only when some organization's schema changed."""
        versions = self._versions()
        current = self._tables
        if current is not None and current[0] == versions:
            return current[1]
        with self._engine.connect() as conn:
            loaded = load_documents(conn)
        tables = installation_tables(self._base, {org: doc for org, (_v, doc) in loaded.items()})
        self._tables = (versions, tables)
        return tables

    # -- writes ------------------------------------------------------------------------------------------------
    def change(self, org_id: str, change: Callable[[Customizations, Catalog], Customizations]) -> Customizations:
        """Apply ``change`` (given the organization's customizations and the built-in catalog they extend)
        atomically: the new document, the DDL it needs, and the change signal, in one transaction. Errors leave
        everything as it was."""
        with self._directory.write() as conn:
            loaded = load_documents(conn)
            version, current = loaded.get(org_id, (0, Customizations()))
            changed = change(current, self._base)
            schemas = {org: doc for org, (_v, doc) in loaded.items()}
            before = installation_tables(self._base, schemas)
            schemas[org_id] = changed
            after = installation_tables(self._base, schemas, last=org_id)
            after.evolve(conn)
            after.remove_absent(conn, before)
            _forget(conn, org_id, current.apply_to(self._base), changed.apply_to(self._base), after)
            text = changed.to_json()
            if org_id not in loaded:
                conn.execute(insert(documents).values(orgid=org_id, document=text, version=1))
            else:
                conn.execute(
                    update(documents).where(documents.c.orgid == org_id).values(document=text, version=version + 1)
                )
            store_fingerprint(conn, inputs_fingerprint(t for _v, t in _raw_documents(conn).values()))
        return changed


def _forget(conn: Connection, org_id: str, before: Catalog, after: Catalog, tables: RecordTables) -> None:
    """What one organization deleted but another still has stays in the shared tables: the organization's own data
    in it goes, as the whole table or column would have gone (a later column of the same name starts empty)."""
    for entity in before.entities:
        if entity.logical_name not in tables:
            continue
        table = tables[entity.logical_name]
        kept = after.by_logical_name(entity.logical_name)
        if kept is None:
            conn.execute(delete(table).where(table.c.orgid == org_id))
            continue
        gone = {
            name
            for attribute in entity.columns
            if kept.column(attribute.logical_name) is None
            for name in (attribute.logical_name, attribute.type_column)
            if name in table.c
        }
        if gone:
            conn.execute(update(table).where(table.c.orgid == org_id).values(dict.fromkeys(gone)))
    remaining = {r.intersect_entity for r in after.many_to_many_relationships}
    for relationship in before.many_to_many_relationships:
        if relationship.intersect_entity not in remaining:
            try:
                link = tables.intersect(relationship)
            except KeyError:
                continue
            conn.execute(delete(link).where(link.c.orgid == org_id))


def _document(conn: Connection, org_id: str) -> tuple[int, Customizations]:
    row = conn.execute(select(documents.c.version, documents.c.document).where(documents.c.orgid == org_id)).first()
    return (0, Customizations()) if row is None else (row.version, Customizations.from_json(row.document))
