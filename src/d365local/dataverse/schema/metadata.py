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
    MULTISELECTPICKLIST = "MultiSelectPicklist"
    ENTITYNAME = "EntityName"
    VIRTUAL = "Virtual"
    IMAGE = "Image"
    FILE = "File"
    PARTYLIST = "PartyList"
    MANAGEDPROPERTY = "ManagedProperty"

    @property
    def metadata_type(self) -> str:
        """The ``#Microsoft.Dynamics.CRM.<X>AttributeMetadata`` stem of this type (empty for Virtual: the base
        ``AttributeMetadata``)."""
        return _METADATA_TYPES[self]

    @property
    def attribute_type(self) -> str:
        """``AttributeType`` as the metadata Web API reports it: ``Virtual`` for MultiSelectPicklist, Image and File
        columns, whose real kind only ``AttributeTypeName`` tells."""
        return "Virtual" if self in _VIRTUAL_KINDS else self.value

    @property
    def type_name(self) -> str:
        """``AttributeTypeName.Value`` as the metadata Web API reports it (``StringType``, ``ImageType``…)."""
        return _TYPE_NAMES.get(self, f"{self.value}Type")

    @property
    def is_lookup(self) -> bool:
        """A single-valued reference stored in the row (``_x_value``). PartyList is not one: its values are
        ``activityparty`` rows, one per party, and it has no ``_x_value``."""
        return self in (AttributeType.LOOKUP, AttributeType.OWNER, AttributeType.CUSTOMER)

    @property
    def is_choice(self) -> bool:
        """A single choice stored as one integer. MultiSelectPicklist is not one (several values, a string)."""
        return self in (AttributeType.PICKLIST, AttributeType.STATE, AttributeType.STATUS)

    @property
    def has_options(self) -> bool:
        """Whether the column carries an option set (choices, multi-select choices, the two Boolean labels)."""
        return self.is_choice or self in (AttributeType.MULTISELECTPICKLIST, AttributeType.BOOLEAN)


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
    AttributeType.MULTISELECTPICKLIST: "MultiSelectPicklist",
    AttributeType.ENTITYNAME: "EntityName",
    AttributeType.VIRTUAL: "",
    AttributeType.IMAGE: "Image",
    AttributeType.FILE: "File",
    AttributeType.PARTYLIST: "Lookup",
    AttributeType.MANAGEDPROPERTY: "ManagedProperty",
}
_VIRTUAL_KINDS = (AttributeType.MULTISELECTPICKLIST, AttributeType.IMAGE, AttributeType.FILE)
_TYPE_NAMES = {
    AttributeType.UNIQUEIDENTIFIER: "UniqueidentifierType",
    AttributeType.OWNER: "OwnerType",
    AttributeType.CUSTOMER: "CustomerType",
}
_NOT_COLUMNS = (AttributeType.PARTYLIST, AttributeType.MANAGEDPROPERTY, AttributeType.VIRTUAL)
REQUIRED_LEVELS = ("None", "SystemRequired", "ApplicationRequired", "Recommended")
DATE_BEHAVIORS = ("UserLocal", "DateOnly", "TimeZoneIndependent")


@dataclass(frozen=True)
class Option:
    value: int
    label: str
    state: int | None = None
    """For a Status option: the State value it belongs to (statuscode 2 "Inactive" → statecode 1)."""
    default_status: int | None = None
    """For a State option: the Status value a record gets when it enters this state."""
    invariant_name: str | None = None
    """For a State option: its language-independent name (``Active``, ``Inactive``…)."""


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
    schema_name: str = ""
    """Empty: the logical name with its first letter capitalized."""
    format: str | None = None
    """String: Text, Email, Url, Phone, TextArea, PhoneticGuide, TickerSymbol, VersionNumber; Memo: Text, TextArea,
    Email; Integer: None, Duration, TimeZone, Locale; DateTime: DateOnly, DateAndTime."""
    date_behavior: str | None = None
    """DateTime only: UserLocal, DateOnly or TimeZoneIndependent. Empty: DateOnly when ``date_only``, else UserLocal;
    ``date_only`` becomes true when this is DateOnly."""
    required_level: str = ""
    """None, SystemRequired, ApplicationRequired or Recommended. Empty: ApplicationRequired when ``required``."""
    valid_for_create: bool | None = None
    """None: derived from ``writable`` (the primary id is always valid for create); read it as
    ``is_valid_for_create``."""
    valid_for_update: bool | None = None
    """None: derived from ``writable`` (never the primary id); read it as ``is_valid_for_update``."""
    valid_for_read: bool = True
    default_value: bool | int | None = None
    """A Boolean column's default (a bool) or a choice column's default option value."""
    attribute_of: str | None = None
    """The column this one belongs to (``createdbyname`` → ``createdby``, ``owneridtype`` → ``ownerid``)."""
    precision_source: int | None = None
    """Money: where the precision comes from (0 the column's Precision, 1 the organization's pricing decimal
    precision, 2 the record's currency)."""
    option_set_name: str | None = None
    """A choice column that uses a global choice (``GlobalOptionSetDefinitions``): its name; None for a local one."""
    description: str = ""
    is_custom: bool = False
    """Added by a customization (metadata Web API, solution import), not shipped with Dataverse."""
    max_size_kb: int | None = None
    """File and Image columns: the largest file accepted, in KB."""
    auto_number_format: str | None = None
    """String columns numbered by the server (``AutoNumberFormat``, e.g. ``CNR-{SEQNUM:5}``)."""

    def __post_init__(self) -> None:
        if not self.schema_name:
            object.__setattr__(self, "schema_name", self.logical_name[:1].upper() + self.logical_name[1:])
        if not self.required_level:
            object.__setattr__(self, "required_level", "ApplicationRequired" if self.required else "None")
        if self.type is AttributeType.DATETIME:
            if self.date_behavior is None:
                object.__setattr__(self, "date_behavior", "DateOnly" if self.date_only else "UserLocal")
            elif self.date_behavior == "DateOnly":
                object.__setattr__(self, "date_only", True)
        if self.valid_for_create is None:
            object.__setattr__(self, "valid_for_create", self.writable or self.is_primary_id)
        if self.valid_for_update is None:
            object.__setattr__(self, "valid_for_update", self.writable and not self.is_primary_id)

    @property
    def is_valid_for_create(self) -> bool:
        return self.valid_for_create is True

    @property
    def is_valid_for_update(self) -> bool:
        return self.valid_for_update is True

    @property
    def is_column(self) -> bool:
        """Whether records carry this attribute as a Web API property (and storage as a column). Companions of
        another column (``createdbyname``, ``owneridtype``: the Web API gives them as annotations of the lookup),
        party lists (``activityparty`` rows) and managed properties are attributes only, described by the metadata.
        """
        return self.attribute_of is None and self.type not in _NOT_COLUMNS

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
class KeyDefinition:
    """An alternate key: columns whose values identify a record (``accounts(accountnumber='A1')``)."""

    schema_name: str
    attributes: tuple[str, ...]
    display_name: str = ""

    @property
    def logical_name(self) -> str:
        return self.schema_name.lower()

    def metadata_id(self, entity: str) -> uuid.UUID:
        return metadata_id(entity, "keys", self.logical_name)


@dataclass(frozen=True)
class OptionSetDefinition:
    """A global choice (``GlobalOptionSetDefinitions``): options that several columns share by name."""

    name: str
    display_name: str
    options: tuple[Option, ...]
    description: str = ""
    is_custom: bool = True

    @property
    def metadata_id(self) -> uuid.UUID:
        return metadata_id("optionsets", self.name)


@dataclass(frozen=True)
class RelationshipDefinition:
    """A one-to-many relationship: ``referencing`` rows point at a ``referenced`` row through a lookup column."""

    schema_name: str
    referenced_entity: str
    referencing_entity: str
    referencing_attribute: str
    referenced_navigation: str
    """Collection-valued navigation property on the referenced table (e.g. ``contact_customer_accounts``)."""
    referencing_navigation_name: str = ""
    """Single-valued navigation property on the referencing table when Dataverse names it differently from the
    lookup (``parentcustomerid_account``, ``regardingobjectid_account_task``); empty: the lookup's own name."""
    cascade: CascadeConfiguration | None = None
    """What a change to the referenced row does to the referencing rows; None: Dataverse's defaults."""

    @property
    def referencing_navigation(self) -> str:
        """Single-valued navigation property on the referencing table: the lookup's own name unless named."""
        return self.referencing_navigation_name or self.referencing_attribute

    @property
    def key(self) -> tuple[str, str, str]:
        """(referenced table, referencing table, lookup): at most one relationship per lookup target."""
        return (self.referenced_entity, self.referencing_entity, self.referencing_attribute)


@dataclass(frozen=True)
class CascadeConfiguration:
    """A 1:N relationship's cascade behaviours (Cascade, Active, UserOwned, NoCascade, RemoveLink, Restrict)."""

    assign: str = "NoCascade"
    delete: str = "RemoveLink"
    merge: str = "NoCascade"
    reparent: str = "NoCascade"
    share: str = "NoCascade"
    unshare: str = "NoCascade"


@dataclass(frozen=True)
class ManyToManyDefinition:
    """A many-to-many relationship: rows of ``entity1`` and ``entity2`` linked through an intersect table."""

    schema_name: str
    intersect_entity: str
    entity1: str
    entity2: str
    entity1_navigation: str
    """Collection-valued navigation property on ``entity1`` (its rows' related ``entity2`` rows)."""
    entity2_navigation: str
    """Collection-valued navigation property on ``entity2``."""

    def navigation_from(self, entity: str) -> str | None:
        """The navigation property on ``entity``, or None when the relationship does not involve it (for a
        relationship of a table with itself: ``entity1``'s)."""
        if entity == self.entity1:
            return self.entity1_navigation
        return self.entity2_navigation if entity == self.entity2 else None


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
    keys: tuple[KeyDefinition, ...] = ()
    privilege_table: str = ""
    """The table's part of its privilege names when it is not the schema name: ``User`` for ``systemuser``
    (``prvReadUser``), ``BusinessUnit`` for ``businessunit``."""
    schema_name: str = ""
    """Dataverse's SchemaName (``SystemUser``, ``BusinessUnit``); empty: the logical name capitalized."""
    description: str = ""
    is_custom: bool = False
    """Created by a customization (metadata Web API, solution import), not shipped with Dataverse."""
    has_notes: bool = False
    has_activities: bool = False
    _by_name: dict[str, AttributeDefinition] = field(default_factory=dict, init=False, compare=False, repr=False)
    _columns: dict[str, AttributeDefinition] = field(default_factory=dict, init=False, compare=False, repr=False)
    _column_list: tuple[AttributeDefinition, ...] = field(default=(), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.schema_name:
            object.__setattr__(self, "schema_name", self.logical_name[:1].upper() + self.logical_name[1:])
        self._by_name.update({a.logical_name: a for a in self.attributes})
        self._columns.update({a.logical_name: a for a in self.attributes if a.is_column})
        object.__setattr__(self, "_column_list", tuple(self._columns.values()))

    @property
    def collection_schema_name(self) -> str:
        """The schema name's plural as Dataverse spells it: the schema name's casing over the entity set name
        (``Opportunity`` + ``opportunities`` → ``Opportunities``; ``SystemUser`` → ``SystemUsers``)."""
        schema, plural = self.schema_name, self.entity_set_name
        common = 0
        while common < min(len(schema), len(plural)) and schema[common].lower() == plural[common]:
            common += 1
        return schema[:common] + plural[common:]

    @property
    def alternate_keys(self) -> tuple[tuple[str, ...], ...]:
        """Each alternate key's columns."""
        return tuple(key.attributes for key in self.keys)

    @property
    def privilege_stem(self) -> str:
        return self.privilege_table or self.schema_name

    @property
    def metadata_id(self) -> uuid.UUID:
        return metadata_id(self.logical_name)

    def attribute(self, name: str) -> AttributeDefinition | None:
        """Any attribute the metadata describes, companions included."""
        return self._by_name.get(name)

    def column(self, name: str) -> AttributeDefinition | None:
        """An attribute records carry (a Web API property, a storage column): see ``AttributeDefinition.is_column``."""
        return self._columns.get(name)

    @property
    def columns(self) -> tuple[AttributeDefinition, ...]:
        return self._column_list

    @property
    def lookups(self) -> tuple[AttributeDefinition, ...]:
        return tuple(a for a in self._columns.values() if a.type.is_lookup)


class Catalog:
    """All tables of an organization, by logical name and by entity set name, and the relationships between them.

    ``relationships`` are the 1:N relationships given (those whose two tables are in the catalog and whose
    referencing column is a lookup there), then one derived relationship for every other lookup target in the
    catalog, so a given relationship's names win over derived ones.
    """

    def __init__(
        self,
        entities: Iterable[EntityDefinition],
        relationships: Iterable[RelationshipDefinition] = (),
        many_to_many: Iterable[ManyToManyDefinition] = (),
        option_sets: Iterable[OptionSetDefinition] = (),
    ) -> None:
        self.entities = tuple(entities)
        self.option_sets = tuple(option_sets)
        """Global choices (``GlobalOptionSetDefinitions``)."""
        self._by_logical = {e.logical_name: e for e in self.entities}
        self._by_set = {e.entity_set_name: e for e in self.entities}
        given = tuple(r for r in relationships if self._lookup_of(r) is not None)
        covered = {r.key for r in given}
        self.relationships = given + tuple(r for r in self._relationships() if r.key not in covered)
        self.many_to_many_relationships = tuple(r for r in many_to_many if self._has(r.entity1, r.entity2))
        # Looked up on every navigation and $expand: indexed once, not scanned per call.
        self._one_to_many: dict[str, tuple[RelationshipDefinition, ...]] = {}
        self._many_to_one: dict[str, tuple[RelationshipDefinition, ...]] = {}
        for relationship in self.relationships:
            referenced, referencing = relationship.referenced_entity, relationship.referencing_entity
            self._one_to_many[referenced] = (*self._one_to_many.get(referenced, ()), relationship)
            self._many_to_one[referencing] = (*self._many_to_one.get(referencing, ()), relationship)

    def _has(self, *names: str) -> bool:
        return all(name in self._by_logical for name in names)

    def _lookup_of(self, relationship: RelationshipDefinition) -> AttributeDefinition | None:
        referencing = self._by_logical.get(relationship.referencing_entity)
        if referencing is None or not self._has(relationship.referenced_entity):
            return None
        lookup = referencing.attribute(relationship.referencing_attribute)
        return lookup if lookup is not None and lookup.type.is_lookup else None

    def intersect_attributes(self, relationship: ManyToManyDefinition) -> tuple[str, str]:
        """The intersect table's columns naming the two records: the two tables' primary ids (``<id>one`` and
        ``<id>two`` for a relationship of a table with itself)."""
        first, second = self._by_logical[relationship.entity1], self._by_logical[relationship.entity2]
        if first.logical_name == second.logical_name:
            return f"{first.primary_id}one", f"{second.primary_id}two"
        return first.primary_id, second.primary_id

    def many_to_many(self, entity: str) -> tuple[ManyToManyDefinition, ...]:
        """The N:N relationships ``entity`` takes part in."""
        return tuple(r for r in self.many_to_many_relationships if entity in (r.entity1, r.entity2))

    def by_logical_name(self, name: str) -> EntityDefinition | None:
        return self._by_logical.get(name)

    def by_entity_set(self, name: str) -> EntityDefinition | None:
        return self._by_set.get(name)

    def one_to_many(self, referenced: str) -> tuple[RelationshipDefinition, ...]:
        return self._one_to_many.get(referenced, ())

    def many_to_one(self, referencing: str) -> tuple[RelationshipDefinition, ...]:
        return self._many_to_one.get(referencing, ())

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
