"""``EntityDefinitions`` JSON: tables, columns (with ``@odata.type``), option sets, keys and relationships.

Shapes follow the Web API's metadata entity types (docs: webapi/query-metadata-web-api.md, the EntityMetadata,
AttributeMetadata and derived ``…AttributeMetadata`` EntityType references) and what
``powerplatform-dataverse-client`` reads (docs/reference/dataverse.md, "Metadata"). Pure functions of the
definitions: a column's base document holds the ``AttributeMetadata`` properties every column shares (what
``…/Attributes`` and ``$expand=Attributes`` return); :func:`attribute_document` adds its type's own properties
(what a type-cast segment or a single column returns).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    CascadeConfiguration,
    Catalog,
    EntityDefinition,
    KeyDefinition,
    ManyToManyDefinition,
    Option,
    OptionSetDefinition,
    RelationshipDefinition,
    metadata_id,
)

LANGUAGE = 1033
CRM = "Microsoft.Dynamics.CRM."
REQUIRED_LEVEL_PROPERTY = "canmodifyrequirementlevelsettings"
ONE_TO_MANY_TYPE = f"#{CRM}OneToManyRelationshipMetadata"
MANY_TO_MANY_TYPE = f"#{CRM}ManyToManyRelationshipMetadata"

# The documented supported ranges (MinSupportedValue/MaxSupportedValue of each *AttributeMetadata class), used when a
# column does not give its own.
_RANGES: dict[AttributeType, tuple[float, float]] = {
    AttributeType.INTEGER: (-2147483648, 2147483647),
    AttributeType.BIGINT: (-9223372036854775808, 9223372036854775807),
    AttributeType.DECIMAL: (-100000000000, 100000000000),
    AttributeType.DOUBLE: (-100000000000, 100000000000),
    AttributeType.MONEY: (-922337203685477, 922337203685477),
}
_DEFAULT_PRECISION = 2
_DEFAULT_MAX_SIZE_KB = {AttributeType.IMAGE: 10240, AttributeType.FILE: 32768}
_OPTION_SET_TYPES = {
    AttributeType.PICKLIST: "Picklist",
    AttributeType.MULTISELECTPICKLIST: "Picklist",
    AttributeType.STATE: "State",
    AttributeType.STATUS: "Status",
    AttributeType.BOOLEAN: "Boolean",
}
_NOT_IN_ENTITY_TYPE = (AttributeType.PARTYLIST, AttributeType.VIRTUAL)


def label(text: str, *names: str) -> dict[str, Any]:
    """A ``Label``; an empty text is Dataverse's empty label (no localized labels, no user label)."""
    if not text:
        return {"LocalizedLabels": [], "UserLocalizedLabel": None}
    localized = {
        "Label": text,
        "LanguageCode": LANGUAGE,
        "IsManaged": True,
        "MetadataId": str(metadata_id("label", *names)),
        "HasChanged": None,
    }
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}


def is_entity_type_property(attribute: AttributeDefinition) -> bool:
    """Whether the column is a property of the table's entity type in ``$metadata`` (and of its Web API records).

    Not: companion columns (``createdbyname``, ``owneridtype``: ``AttributeOf`` set), party lists (their values are
    ``activityparty`` rows) and virtual columns.
    """
    return attribute.attribute_of is None and attribute.type not in _NOT_IN_ENTITY_TYPE


def attribute_metadata_id(entity: EntityDefinition, attribute: AttributeDefinition) -> str:
    return str(metadata_id(entity.logical_name, attribute.logical_name))


def odata_type(attribute: AttributeDefinition) -> str:
    """``#Microsoft.Dynamics.CRM.<X>AttributeMetadata``; Virtual columns are the base ``AttributeMetadata``."""
    return f"#{CRM}{attribute.type.metadata_type}AttributeMetadata"


def cast_name(kind: AttributeType) -> str:
    """The type-cast segment name (without namespace) that selects columns of ``kind``."""
    return f"{kind.metadata_type}AttributeMetadata"


# --- tables -------------------------------------------------------------------------------------------------------


def entity_document(entity: EntityDefinition) -> dict[str, Any]:
    image = next((a for a in entity.attributes if a.type is AttributeType.IMAGE), None)
    return {
        "MetadataId": str(entity.metadata_id),
        "LogicalName": entity.logical_name,
        "SchemaName": entity.schema_name,
        "EntitySetName": entity.entity_set_name,
        "LogicalCollectionName": entity.entity_set_name,
        "CollectionSchemaName": entity.collection_schema_name,
        "PrimaryIdAttribute": entity.primary_id,
        "PrimaryNameAttribute": entity.primary_name,
        "PrimaryImageAttribute": image.logical_name if image else None,
        "ObjectTypeCode": entity.object_type_code,
        "OwnershipType": entity.ownership,
        "IsCustomEntity": entity.is_custom,
        "IsManaged": not entity.is_custom,
        "IsPrivate": False,
        "IsActivity": entity.is_activity,
        "IsIntersect": False,
        "HasNotes": entity.has_notes,
        "HasActivities": entity.has_activities,
        "IsOptimisticConcurrencyEnabled": True,
        "IsValidForAdvancedFind": True,
        "TableType": "Standard",
        "DisplayName": label(entity.display_name, entity.logical_name, "display"),
        "DisplayCollectionName": label(entity.display_collection_name, entity.logical_name, "collection"),
        "Description": label(entity.description, entity.logical_name, "description"),
    }


def key_document(entity: EntityDefinition, key: KeyDefinition) -> dict[str, Any]:
    """An ``EntityKeyMetadata``: one alternate key."""
    return {
        "MetadataId": str(key.metadata_id(entity.logical_name)),
        "LogicalName": key.logical_name,
        "SchemaName": key.schema_name,
        "EntityLogicalName": entity.logical_name,
        "KeyAttributes": list(key.attributes),
        "DisplayName": label(key.display_name, entity.logical_name, "keys", key.logical_name),
        "EntityKeyIndexStatus": "Active",
        "IsManaged": not entity.is_custom,
        "AsyncJob": None,
    }


# --- columns ------------------------------------------------------------------------------------------------------


def attribute_base(entity: EntityDefinition, attribute: AttributeDefinition) -> dict[str, Any]:
    """The ``AttributeMetadata`` properties every column has, with the column's ``@odata.type``."""
    kind = attribute.type
    names = (entity.logical_name, attribute.logical_name)
    return {
        "@odata.type": odata_type(attribute),
        "MetadataId": attribute_metadata_id(entity, attribute),
        "LogicalName": attribute.logical_name,
        "SchemaName": attribute.schema_name,
        "EntityLogicalName": entity.logical_name,
        "AttributeType": kind.attribute_type,
        "AttributeTypeName": {"Value": kind.type_name},
        "AttributeOf": attribute.attribute_of,
        "AutoNumberFormat": attribute.auto_number_format,
        "IsPrimaryId": attribute.is_primary_id,
        "IsPrimaryName": attribute.is_primary_name,
        "IsCustomAttribute": attribute.is_custom,
        "IsManaged": not attribute.is_custom,
        "IsValidForCreate": attribute.is_valid_for_create,
        "IsValidForUpdate": attribute.is_valid_for_update,
        "IsValidForRead": attribute.valid_for_read,
        "IsValidODataAttribute": is_entity_type_property(attribute),
        "RequiredLevel": {
            "Value": attribute.required_level,
            "CanBeChanged": attribute.required_level != "SystemRequired",
            "ManagedPropertyLogicalName": REQUIRED_LEVEL_PROPERTY,
        },
        "DisplayName": label(attribute.display_name, *names),
        "Description": label(attribute.description, *names, "description"),
    }


def attribute_document(entity: EntityDefinition, attribute: AttributeDefinition) -> dict[str, Any]:
    """The column's full document: the base properties and those of its own ``…AttributeMetadata`` type."""
    return attribute_base(entity, attribute) | _DERIVED[attribute.type](attribute)


def _string(attribute: AttributeDefinition) -> dict[str, Any]:
    text_format = attribute.format or "Text"
    return {"MaxLength": attribute.max_length, "Format": text_format, "FormatName": {"Value": text_format}}


def _memo(attribute: AttributeDefinition) -> dict[str, Any]:
    text_format = attribute.format or "TextArea"
    return {"MaxLength": attribute.max_length, "Format": text_format, "FormatName": {"Value": text_format}}


def _range(attribute: AttributeDefinition) -> dict[str, Any]:
    low, high = _RANGES[attribute.type]
    minimum = low if attribute.min_value is None else attribute.min_value
    maximum = high if attribute.max_value is None else attribute.max_value
    if attribute.type in (AttributeType.INTEGER, AttributeType.BIGINT):
        return {"MinValue": int(minimum), "MaxValue": int(maximum)}
    return {"MinValue": float(minimum), "MaxValue": float(maximum)}


def _integer(attribute: AttributeDefinition) -> dict[str, Any]:
    return _range(attribute) | {"Format": attribute.format or "None"}


def _precise(attribute: AttributeDefinition) -> dict[str, Any]:
    return _range(attribute) | {"Precision": _DEFAULT_PRECISION if attribute.precision is None else attribute.precision}


def _money(attribute: AttributeDefinition) -> dict[str, Any]:
    return _precise(attribute) | {
        "PrecisionSource": 2 if attribute.precision_source is None else attribute.precision_source,
        "IsBaseCurrency": attribute.logical_name.endswith("_base"),
    }


def _boolean(attribute: AttributeDefinition) -> dict[str, Any]:
    return {"DefaultValue": bool(attribute.default_value)}


def _datetime(attribute: AttributeDefinition) -> dict[str, Any]:
    return {
        "Format": "DateOnly" if attribute.date_only else "DateAndTime",
        "DateTimeBehavior": {"Value": attribute.date_behavior},
    }


def _choice(attribute: AttributeDefinition) -> dict[str, Any]:
    default = attribute.default_value
    return {"DefaultFormValue": default if isinstance(default, int) and not isinstance(default, bool) else None}


def _lookup(attribute: AttributeDefinition) -> dict[str, Any]:
    return {"Targets": list(attribute.targets), "Format": "None"}


def _image(attribute: AttributeDefinition) -> dict[str, Any]:
    return {
        "MaxSizeInKB": attribute.max_size_kb or _DEFAULT_MAX_SIZE_KB[AttributeType.IMAGE],
        "IsPrimaryImage": attribute.logical_name == "entityimage",
        "CanStoreFullImage": True,
        "MaxHeight": 144,
        "MaxWidth": 144,
    }


def _file(attribute: AttributeDefinition) -> dict[str, Any]:
    return {"MaxSizeInKB": attribute.max_size_kb or _DEFAULT_MAX_SIZE_KB[AttributeType.FILE]}


def _managed_property(_attribute: AttributeDefinition) -> dict[str, Any]:
    return {"ValueAttributeTypeCode": "Boolean"}


def _nothing(_attribute: AttributeDefinition) -> dict[str, Any]:
    return {}


_DERIVED: dict[AttributeType, Callable[[AttributeDefinition], dict[str, Any]]] = {
    AttributeType.UNIQUEIDENTIFIER: _nothing,
    AttributeType.STRING: _string,
    AttributeType.MEMO: _memo,
    AttributeType.INTEGER: _integer,
    AttributeType.BIGINT: _range,
    AttributeType.DECIMAL: _precise,
    AttributeType.DOUBLE: _precise,
    AttributeType.MONEY: _money,
    AttributeType.BOOLEAN: _boolean,
    AttributeType.DATETIME: _datetime,
    AttributeType.PICKLIST: _choice,
    AttributeType.STATE: _choice,
    AttributeType.STATUS: _choice,
    AttributeType.MULTISELECTPICKLIST: _choice,
    AttributeType.LOOKUP: _lookup,
    AttributeType.OWNER: _lookup,
    AttributeType.CUSTOMER: _lookup,
    AttributeType.PARTYLIST: _lookup,
    AttributeType.ENTITYNAME: _nothing,
    AttributeType.VIRTUAL: _nothing,
    AttributeType.IMAGE: _image,
    AttributeType.FILE: _file,
    AttributeType.MANAGEDPROPERTY: _managed_property,
}


# --- option sets --------------------------------------------------------------------------------------------------


def has_option_set(kind: AttributeType) -> bool:
    """Whether the type has the ``OptionSet``/``GlobalOptionSet`` navigation properties (EnumAttributeMetadata's
    Picklist, State, Status, MultiSelectPicklist; BooleanAttributeMetadata's ``OptionSet`` only)."""
    return kind in _OPTION_SET_TYPES


def option_set(entity: EntityDefinition, attribute: AttributeDefinition) -> dict[str, Any] | None:
    """The column's ``OptionSet`` (a global choice's when it uses one), or None for a type without one."""
    kind = attribute.type
    if kind not in _OPTION_SET_TYPES:
        return None
    names = (entity.logical_name, attribute.logical_name)
    if attribute.option_set_name is not None:
        identifier, name = metadata_id("optionsets", attribute.option_set_name), attribute.option_set_name
    else:
        identifier, name = metadata_id(*names, "optionset"), f"{entity.logical_name}_{attribute.logical_name}"
    document: dict[str, Any] = {
        "MetadataId": str(identifier),
        "Name": name,
        "IsGlobal": attribute.option_set_name is not None,
        "IsCustomOptionSet": attribute.is_custom,
        "IsManaged": not attribute.is_custom,
        "OptionSetType": _OPTION_SET_TYPES[kind],
        "DisplayName": label(attribute.display_name, *names, "optionset"),
        "Description": label(attribute.description, *names, "optionset", "description"),
    }
    if kind is AttributeType.BOOLEAN:
        true, false = attribute.option(1), attribute.option(0)
        return document | {
            "TrueOption": option_document(true or Option(1, "Yes"), *names),
            "FalseOption": option_document(false or Option(0, "No"), *names),
        }
    return document | {"Options": [option_document(o, *names, kind=kind) for o in attribute.options]}


def global_option_set(entity: EntityDefinition, attribute: AttributeDefinition) -> dict[str, Any] | None:
    """``GlobalOptionSet``: the global choice a choice column uses, None for a local one."""
    if attribute.option_set_name is None or attribute.type is AttributeType.BOOLEAN:
        return None
    return option_set(entity, attribute)


def option_document(option: Option, *names: str, kind: AttributeType | None = None) -> dict[str, Any]:
    """An ``OptionMetadata``; State options are ``StateOptionMetadata`` (DefaultStatus, InvariantName), Status
    options ``StatusOptionMetadata`` (State)."""
    document: dict[str, Any] = {
        "Value": option.value,
        "Label": label(option.label, *names, str(option.value)),
        "Description": label(""),
        "Color": None,
        "IsManaged": True,
        "MetadataId": None,
        "HasChanged": None,
    }
    if kind is AttributeType.STATE:
        state = {"DefaultStatus": option.default_status, "InvariantName": option.invariant_name}
        return {"@odata.type": f"#{CRM}StateOptionMetadata"} | document | state
    if kind is AttributeType.STATUS:
        status = {"State": option.state, "TransitionData": None}
        return {"@odata.type": f"#{CRM}StatusOptionMetadata"} | document | status
    return document


def option_set_definition_document(definition: OptionSetDefinition) -> dict[str, Any]:
    """A ``GlobalOptionSetDefinitions`` item: an ``OptionSetMetadata`` of a global choice."""
    return {
        "@odata.type": f"#{CRM}OptionSetMetadata",
        "MetadataId": str(definition.metadata_id),
        "Name": definition.name,
        "IsGlobal": True,
        "IsCustomOptionSet": definition.is_custom,
        "IsManaged": not definition.is_custom,
        "OptionSetType": "Picklist",
        "DisplayName": label(definition.display_name, "optionsets", definition.name),
        "Description": label(definition.description, "optionsets", definition.name, "description"),
        "Options": [option_document(o, "optionsets", definition.name) for o in definition.options],
    }


# --- relationships ------------------------------------------------------------------------------------------------


def single_navigation(relationship: RelationshipDefinition, catalog: Catalog) -> str:
    """The single-valued navigation property of a 1:N relationship on the referencing table: the name the
    relationship gives, else the lookup's name, suffixed with the target for a lookup of several tables
    (``parentcustomerid_account``)."""
    if relationship.referencing_navigation_name:
        return relationship.referencing_navigation_name
    referencing = catalog.by_logical_name(relationship.referencing_entity)
    lookup = referencing.attribute(relationship.referencing_attribute) if referencing else None
    if lookup is not None and len(lookup.targets) > 1:
        return f"{relationship.referencing_attribute}_{relationship.referenced_entity}"
    return relationship.referencing_attribute


def relationship_document(relationship: RelationshipDefinition, catalog: Catalog) -> dict[str, Any]:
    referenced = catalog.by_logical_name(relationship.referenced_entity)
    return {
        "@odata.type": ONE_TO_MANY_TYPE,
        "MetadataId": str(metadata_id("relationship", relationship.schema_name)),
        "SchemaName": relationship.schema_name,
        "RelationshipType": "OneToManyRelationship",
        "IsCustomRelationship": False,
        "IsManaged": True,
        "IsValidForAdvancedFind": True,
        "SecurityTypes": "None",
        "ReferencedEntity": relationship.referenced_entity,
        "ReferencedAttribute": referenced.primary_id if referenced else "",
        "ReferencingEntity": relationship.referencing_entity,
        "ReferencingAttribute": relationship.referencing_attribute,
        "ReferencedEntityNavigationPropertyName": relationship.referenced_navigation,
        "ReferencingEntityNavigationPropertyName": single_navigation(relationship, catalog),
        "CascadeConfiguration": cascade_document(relationship.cascade or CascadeConfiguration()),
    }


def cascade_document(cascade: CascadeConfiguration) -> dict[str, Any]:
    """A ``CascadeConfiguration``; RollupView, which the definitions do not carry, is NoCascade."""
    return {
        "Assign": cascade.assign, "Delete": cascade.delete, "Merge": cascade.merge, "Reparent": cascade.reparent,
        "Share": cascade.share, "Unshare": cascade.unshare, "RollupView": "NoCascade",
    }  # fmt: skip


def many_to_many_document(relationship: ManyToManyDefinition, catalog: Catalog) -> dict[str, Any]:
    """A ``ManyToManyRelationshipMetadata``. The intersect attributes are the two tables' primary ids."""
    first, second = catalog.by_logical_name(relationship.entity1), catalog.by_logical_name(relationship.entity2)
    return {
        "@odata.type": MANY_TO_MANY_TYPE,
        "MetadataId": str(metadata_id("relationship", relationship.schema_name)),
        "SchemaName": relationship.schema_name,
        "RelationshipType": "ManyToManyRelationship",
        "IsCustomRelationship": False,
        "IsManaged": True,
        "IsValidForAdvancedFind": True,
        "SecurityTypes": "None",
        "IntersectEntityName": relationship.intersect_entity,
        "Entity1LogicalName": relationship.entity1,
        "Entity2LogicalName": relationship.entity2,
        "Entity1IntersectAttribute": first.primary_id if first else "",
        "Entity2IntersectAttribute": second.primary_id if second else "",
        "Entity1NavigationPropertyName": relationship.entity1_navigation,
        "Entity2NavigationPropertyName": relationship.entity2_navigation,
    }
