"""Table (entity) and column (attribute) definitions: what Dataverse's ``EntityDefinitions`` describe.

Frozen values. Built-in tables live in ``builtin_tables``; storage builds one SQL table per definition, with one
SQL column per attribute, so filters and sorts run in the database. MetadataIds are stable UUIDv5s of the names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

_NAMESPACE = uuid.UUID("6f0d2b52-9d7a-4d8e-9a61-3c65d1a7e0b1")


def metadata_id(*names: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, "/".join(names))


class AttributeType(Enum):
    """``AttributeType`` as EntityDefinitions report it; the value after it is the metadata @odata.type stem."""

    UNIQUEIDENTIFIER = "Uniqueidentifier"
    STRING = "String"
    MEMO = "Memo"
    INTEGER = "Integer"
    BIGINT = "BigInt"
    DECIMAL = "Decimal"
    DOUBLE = "Double"
    MONEY = "Money"
    BOOLEAN = "Boolean"
    DATETIME = "DateTime"
    PICKLIST = "Picklist"
    STATE = "State"
    STATUS = "Status"
    LOOKUP = "Lookup"
    OWNER = "Owner"
    CUSTOMER = "Customer"

    @property
    def metadata_type(self) -> str:
        """The ``#Microsoft.Dynamics.CRM.<X>AttributeMetadata`` stem of this type."""
        return _METADATA_TYPES[self]

    @property
    def is_lookup(self) -> bool:
        return self in (AttributeType.LOOKUP, AttributeType.OWNER, AttributeType.CUSTOMER)

    @property
    def is_choice(self) -> bool:
        return self in (AttributeType.PICKLIST, AttributeType.STATE, AttributeType.STATUS)


_METADATA_TYPES = {
    AttributeType.UNIQUEIDENTIFIER: "UniqueIdentifier",
    AttributeType.STRING: "String",
    AttributeType.MEMO: "Memo",
    AttributeType.INTEGER: "Integer",
    AttributeType.BIGINT: "BigInt",
    AttributeType.DECIMAL: "Decimal",
    AttributeType.DOUBLE: "Double",
    AttributeType.MONEY: "Money",
    AttributeType.BOOLEAN: "Boolean",
    AttributeType.DATETIME: "DateTime",
    AttributeType.PICKLIST: "Picklist",
    AttributeType.STATE: "State",
    AttributeType.STATUS: "Status",
    AttributeType.LOOKUP: "Lookup",
    AttributeType.OWNER: "Lookup",
    AttributeType.CUSTOMER: "Lookup",
}


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class AttributeDefinition:
    """One column of a table."""

    logical_name: str
    type: AttributeType
    display_name: str
    max_length: int | None = None
    """Characters, for String and Memo."""
    options: tuple[Option, ...] = ()
    targets: tuple[str, ...] = ()
    """Tables a lookup may point at (several for Customer and Owner lookups)."""
    required: bool = False
    is_primary_id: bool = False
    is_primary_name: bool = False
    date_only: bool = False
    min_value: float | None = None
    max_value: float | None = None
    precision: int | None = None
    writable: bool = True
    """False for system columns the server maintains (createdon, versionnumber…)."""

    @property
    def schema_name(self) -> str:
        return self.logical_name[:1].upper() + self.logical_name[1:]

    @property
    def type_column(self) -> str:
        """Where a polymorphic lookup (several targets) keeps the target table's logical name."""
        return f"{self.logical_name}_type"

    @property
    def lookup_property(self) -> str:
        """The Web API's read-only ``_<name>_value`` property of a lookup."""
        return f"_{self.logical_name}_value"

    def option(self, value: int) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True)
class RelationshipDefinition:
    """A one-to-many relationship: ``referencing`` rows point at a ``referenced`` row through a lookup column."""

    schema_name: str
    referenced_entity: str
    referencing_entity: str
    referencing_attribute: str
    referenced_navigation: str
    """Collection-valued navigation property on the referenced table (e.g. ``contact_customer_accounts``)."""

    @property
    def referencing_navigation(self) -> str:
        """Single-valued navigation property on the referencing table: the lookup's own name."""
        return self.referencing_attribute


@dataclass(frozen=True)
class EntityDefinition:
    """One table."""

    logical_name: str
    entity_set_name: str
    primary_id: str
    primary_name: str
    object_type_code: int
    display_name: str
    display_collection_name: str
    attributes: tuple[AttributeDefinition, ...]
    ownership: str = "UserOwned"
    is_activity: bool = False
    alternate_keys: tuple[tuple[str, ...], ...] = ()
    privilege_table: str = ""
    """The table's part of its privilege names when it is not the schema name: ``User`` for ``systemuser``
    (``prvReadUser``), ``BusinessUnit`` for ``businessunit``."""
    _by_name: dict[str, AttributeDefinition] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({a.logical_name: a for a in self.attributes})

    @property
    def schema_name(self) -> str:
        return self.logical_name[:1].upper() + self.logical_name[1:]

    @property
    def privilege_stem(self) -> str:
        return self.privilege_table or self.schema_name

    @property
    def metadata_id(self) -> uuid.UUID:
        return metadata_id(self.logical_name)

    def attribute(self, name: str) -> AttributeDefinition | None:
        return self._by_name.get(name)

    @property
    def lookups(self) -> tuple[AttributeDefinition, ...]:
        return tuple(a for a in self.attributes if a.type.is_lookup)


class Catalog:
    """All tables of an organization, by logical name and by entity set name."""

    def __init__(self, entities: Iterable[EntityDefinition]) -> None:
        self.entities = tuple(entities)
        self._by_logical = {e.logical_name: e for e in self.entities}
        self._by_set = {e.entity_set_name: e for e in self.entities}
        self.relationships = tuple(self._relationships())

    def by_logical_name(self, name: str) -> EntityDefinition | None:
        return self._by_logical.get(name)

    def by_entity_set(self, name: str) -> EntityDefinition | None:
        return self._by_set.get(name)

    def one_to_many(self, referenced: str) -> tuple[RelationshipDefinition, ...]:
        return tuple(r for r in self.relationships if r.referenced_entity == referenced)

    def many_to_one(self, referencing: str) -> tuple[RelationshipDefinition, ...]:
        return tuple(r for r in self.relationships if r.referencing_entity == referencing)

    def _relationships(self) -> Iterable[RelationshipDefinition]:
        for entity in self.entities:
            for lookup in entity.lookups:
                for target in lookup.targets:
                    if target in self._by_logical:
                        yield RelationshipDefinition(
                            schema_name=_relationship_name(target, entity.logical_name, lookup.logical_name),
                            referenced_entity=target,
                            referencing_entity=entity.logical_name,
                            referencing_attribute=lookup.logical_name,
                            referenced_navigation=_relationship_name(target, entity.logical_name, lookup.logical_name),
                        )


def _relationship_name(referenced: str, referencing: str, lookup: str) -> str:
    """Dataverse's names for built-in relationships, e.g. ``account_primary_contact``."""
    known = {
        ("contact", "account", "primarycontactid"): "account_primary_contact",
        ("account", "account", "parentaccountid"): "account_parent_account",
        ("account", "contact", "parentcustomerid"): "contact_customer_accounts",
        ("contact", "contact", "parentcustomerid"): "contact_customer_contacts",
        ("account", "lead", "parentaccountid"): "lead_parent_account",
        ("contact", "lead", "parentcontactid"): "lead_parent_contact",
        ("account", "opportunity", "parentaccountid"): "opportunity_parent_account",
        ("contact", "opportunity", "parentcontactid"): "opportunity_parent_contact",
        ("businessunit", "systemuser", "businessunitid"): "business_unit_system_users",
        ("businessunit", "role", "businessunitid"): "business_unit_roles",
        ("businessunit", "team", "businessunitid"): "business_unit_teams",
        ("businessunit", "businessunit", "parentbusinessunitid"): "business_unit_parent_business_unit",
        ("account", "task", "regardingobjectid"): "Account_Tasks",
        ("contact", "task", "regardingobjectid"): "Contact_Tasks",
        ("opportunity", "task", "regardingobjectid"): "Opportunity_Tasks",
        ("lead", "task", "regardingobjectid"): "Lead_Tasks",
    }
    return known.get((referenced, referencing, lookup), f"{referenced}_{referencing}_{lookup}")
