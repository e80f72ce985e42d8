"""The Dataverse side's own tables that Alembic manages: organizations' Dataverse settings, service-protection
usage and organizations' customizations. The record tables (and the role links between two of them) come from the
catalog: ``record_tables``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from d365local.store.schema import GUID, metadata

dataverse_organizations = Table(
    "dv_organizations",
    metadata,
    Column("id", GUID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("business_unit_id", GUID, nullable=False),
    Column("throttling", Boolean, nullable=False),
)
"""The Dataverse side of an organization (the identity side's ``organizations`` row has its URL and tenant)."""

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

customizations = Table(
    "dv_customizations",
    metadata,
    Column("orgid", GUID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("document", Text, nullable=False),
    Column("version", Integer, nullable=False),
)
"""Each organization's custom schema (``dataverse.schema.customizations``) as one JSON document; ``version`` moves
with every change, so servers rebuild their catalog and record tables only when it did."""
