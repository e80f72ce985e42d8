"""``$select`` and ``$expand`` bound to a table: which columns a reply shows and which navigation properties it
follows — the names resolved here, with Dataverse's error for an unknown one, before anything runs or is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.payloads import resolve_name
from d365local.dataverse.odata.query_options import QueryOptions
from d365local.dataverse.schema.metadata import Catalog, EntityDefinition, ManyToManyDefinition


class Cardinality(Enum):
    SINGLE = "single"
    """A lookup of this table: at most one related record."""
    COLLECTION = "collection"
    """Rows of another table whose lookup points at this record."""
    ASSOCIATED = "associated"
    """Rows of another table associated with this record through an N:N relationship."""


@dataclass(frozen=True)
class Navigation:
    """A navigation property, resolved."""

    cardinality: Cardinality
    target: EntityDefinition
    column: str
    """The lookup column: on this table (single-valued) or on the target (collection-valued); empty for N:N."""
    relationship: ManyToManyDefinition | None = None
    """The N:N relationship of an ``ASSOCIATED`` navigation."""
    from_first: bool = True
    """Whether this table is the relationship's ``entity1`` side (for a table related with itself: which
    navigation property)."""


def navigation(entity: EntityDefinition, name: str, catalog: Catalog) -> Navigation | None:
    """The navigation property ``name`` of ``entity``: a lookup (``primarycontactid``), a relationship's name for it
    (``new_DeptId``, ``regardingobjectid_account_task``), a lookup with its target (``parentcustomerid_account``),
    or a one-to-many relationship (``contact_customer_accounts``)."""
    lookup = entity.column(name)
    if lookup is not None and lookup.type.is_lookup and lookup.targets:
        target = catalog.by_logical_name(lookup.targets[0])
        return Navigation(Cardinality.SINGLE, target, lookup.logical_name) if target else None
    for relationship in catalog.many_to_one(entity.logical_name):
        if relationship.referencing_navigation == name:
            parent = catalog.by_logical_name(relationship.referenced_entity)
            return Navigation(Cardinality.SINGLE, parent, relationship.referencing_attribute) if parent else None
    if "_" in name:
        base, _, target_name = name.rpartition("_")
        lookup = entity.column(base)
        target = catalog.by_logical_name(target_name)
        if lookup is not None and lookup.type.is_lookup and target is not None and target_name in lookup.targets:
            return Navigation(Cardinality.SINGLE, target, lookup.logical_name)
    for relationship in catalog.one_to_many(entity.logical_name):
        if relationship.referenced_navigation == name:
            child = catalog.by_logical_name(relationship.referencing_entity)
            return Navigation(Cardinality.COLLECTION, child, relationship.referencing_attribute) if child else None
    for many in catalog.many_to_many(entity.logical_name):
        for from_first, own, other, property_name in (
            (True, many.entity1, many.entity2, many.entity1_navigation),
            (False, many.entity2, many.entity1, many.entity2_navigation),
        ):
            target = catalog.by_logical_name(other)
            if own == entity.logical_name and property_name == name and target is not None:
                return Navigation(Cardinality.ASSOCIATED, target, "", many, from_first)
    return None


def bind_navigation(entity: EntityDefinition, name: str, catalog: Catalog) -> Navigation:
    """:func:`navigation`, or PropertyNotFound for a name that is none."""
    found = navigation(entity, name, catalog)
    if found is None:
        raise DataverseError(errors.PROPERTY_NOT_FOUND, name=name[:100], entity=entity.logical_name)
    return found


def check_projection(entity: EntityDefinition, options: QueryOptions, catalog: Catalog) -> None:
    """Unknown ``$select`` columns and ``$expand`` navigations (at every level) are errors even when no row would
    come back."""
    for name in options.select or ():
        if name != "*" and resolve_name(entity, name) is None:
            raise DataverseError(errors.PROPERTY_NOT_FOUND, name=name[:100], entity=entity.logical_name)
    for expand in options.expand:
        check_projection(bind_navigation(entity, expand.navigation, catalog).target, expand.options, catalog)
