"""SQL tables for Dataverse records: one table per table definition, one column per attribute, real indexes.

Built from the metadata so the two never disagree; the Alembic migrations snapshot the result (a test proves the
migrations produce exactly these tables). Every row carries ``orgid``: organizations share the tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

from d365local.dataverse.schema.builtin_tables import BUILTIN_CATALOG
from d365local.dataverse.schema.metadata import AttributeDefinition, AttributeType, Catalog, EntityDefinition
from d365local.store.schema import GUID, metadata

RECORD_TABLE_PREFIX = "dv_"
MEMO_AS_TEXT_OVER = 4000


def record_table_name(entity: EntityDefinition) -> str:
    return f"{RECORD_TABLE_PREFIX}{entity.logical_name}"


def _sql_type(attribute: AttributeDefinition) -> TypeEngine[Any]:
    kind = attribute.type
    if kind in (AttributeType.STRING, AttributeType.MEMO):
        length = attribute.max_length or 4000
        return Text() if length > MEMO_AS_TEXT_OVER else String(length)
    if kind is AttributeType.UNIQUEIDENTIFIER or kind.is_lookup:
        return GUID
    if kind in (AttributeType.INTEGER,) or kind.is_choice:
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


def build_record_table(entity: EntityDefinition) -> Table:
    name = record_table_name(entity)
    columns: list[Column[object]] = [
        Column(entity.primary_id, GUID, nullable=False),
        Column("orgid", GUID, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    ]
    indexes: list[Index | UniqueConstraint | PrimaryKeyConstraint] = [
        # A record id is unique within its organization only, as each Dataverse org is its own database; the key
        # also gives the default order (and every page's tie-breaker): the primary id within an org.
        PrimaryKeyConstraint("orgid", entity.primary_id),
        Index(f"ix_{name}_orgid_createdon", "orgid", "createdon"),
    ]
    for attribute in entity.attributes:
        if attribute.is_primary_id:
            continue
        columns.append(Column(attribute.logical_name, _sql_type(attribute), nullable=True))
        if attribute.type.is_lookup:
            if len(attribute.targets) > 1:
                columns.append(Column(attribute.type_column, String(64), nullable=True))
            indexes.append(Index(f"ix_{name}_{attribute.logical_name}", attribute.logical_name))
        if attribute.type is AttributeType.UNIQUEIDENTIFIER:
            indexes.append(Index(f"ix_{name}_{attribute.logical_name}", attribute.logical_name))
        if attribute.is_primary_name:
            indexes.append(Index(f"ix_{name}_orgid_{attribute.logical_name}", "orgid", attribute.logical_name))
    for key in entity.alternate_keys:
        indexes.append(UniqueConstraint("orgid", *key, name=f"uq_{name}_{'_'.join(key)}"))
    return Table(name, metadata, *columns, *indexes)


def build_record_tables(catalog: Catalog) -> dict[str, Table]:
    return {entity.logical_name: build_record_table(entity) for entity in catalog.entities}


RECORD_TABLES = build_record_tables(BUILTIN_CATALOG)

dataverse_organizations = Table(
    "dv_organizations",
    metadata,
    Column("id", GUID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("business_unit_id", GUID, nullable=False),
    Column("throttling", Boolean, nullable=False),
)
"""The Dataverse side of an organization (the identity side's ``organizations`` row has its URL and tenant)."""

role_privileges = Table(
    "dv_roleprivileges",
    metadata,
    Column("orgid", GUID, primary_key=True),
    Column("roleid", GUID, primary_key=True),
    Column("privilege", String(128), primary_key=True),
    Column("depth", Integer, nullable=False),
    ForeignKeyConstraint(["orgid", "roleid"], ["dv_role.orgid", "dv_role.roleid"], ondelete="CASCADE"),
)

user_roles = Table(
    "dv_systemuserroles",
    metadata,
    Column("orgid", GUID, primary_key=True),
    Column("systemuserid", GUID, primary_key=True),
    Column("roleid", GUID, primary_key=True),
    ForeignKeyConstraint(
        ["orgid", "systemuserid"], ["dv_systemuser.orgid", "dv_systemuser.systemuserid"], ondelete="CASCADE"
    ),
    ForeignKeyConstraint(["orgid", "roleid"], ["dv_role.orgid", "dv_role.roleid"], ondelete="CASCADE"),
    Index("ix_dv_systemuserroles_orgid_roleid", "orgid", "roleid"),
)

throttle_usage = Table(
    "dv_throttle_usage",
    metadata,
    Column("user_key", String(80), primary_key=True),
    Column("second", BigInteger, primary_key=True),
    Column("process", String(36), primary_key=True),
    Column("requests", Integer, nullable=False),
    Column("execution_ms", Double, nullable=False),
    Index("ix_dv_throttle_usage_second", "second"),
)
"""Service-protection usage per user and second, flushed in batches by each server process (PostgreSQL only)."""
