"""``EntityDefinitions`` JSON: tables, columns (with ``@odata.type``), option sets and relationships.

Shapes follow the Web API's metadata entities (docs: webapi/query-metadata-web-api.md) and what
``powerplatform-dataverse-client`` reads (docs/reference/dataverse.md, "Metadata").
"""

from __future__ import annotations

from typing import Any

from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    Catalog,
    EntityDefinition,
    RelationshipDefinition,
    metadata_id,
)

LANGUAGE = 1033


def label(text: str, *names: str) -> dict[str, Any]:
    localized = {
        "Label": text,
        "LanguageCode": LANGUAGE,
        "IsManaged": True,
        "MetadataId": str(metadata_id("label", *names)),
        "HasChanged": None,
    }
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}


def entity_document(entity: EntityDefinition) -> dict[str, Any]:
    return {
        "MetadataId": str(entity.metadata_id),
        "LogicalName": entity.logical_name,
        "SchemaName": entity.schema_name,
        "EntitySetName": entity.entity_set_name,
        "LogicalCollectionName": entity.entity_set_name,
        "CollectionSchemaName": entity.collection_schema_name,
        "PrimaryIdAttribute": entity.primary_id,
        "PrimaryNameAttribute": entity.primary_name,
        "PrimaryImageAttribute": None,
        "ObjectTypeCode": entity.object_type_code,
        "OwnershipType": entity.ownership,
        "IsCustomEntity": False,
        "IsPrivate": False,
        "IsActivity": entity.is_activity,
        "IsIntersect": False,
        "IsOptimisticConcurrencyEnabled": True,
        "IsValidForAdvancedFind": True,
        "TableType": "Standard",
        "DisplayName": label(entity.display_name, entity.logical_name, "display"),
        "DisplayCollectionName": label(entity.display_collection_name, entity.logical_name, "collection"),
        "Description": label("", entity.logical_name, "description"),
    }


def attribute_document(
    entity: EntityDefinition, attribute: AttributeDefinition, *, expand_options: bool = False
) -> dict[str, Any]:
    kind = attribute.type
    document: dict[str, Any] = {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{kind.metadata_type}AttributeMetadata",
        "MetadataId": str(metadata_id(entity.logical_name, attribute.logical_name)),
        "LogicalName": attribute.logical_name,
        "SchemaName": attribute.schema_name,
        "EntityLogicalName": entity.logical_name,
        "AttributeType": kind.value,
        "AttributeTypeName": {"Value": _type_name(kind)},
        "IsPrimaryId": attribute.is_primary_id,
        "IsPrimaryName": attribute.is_primary_name,
        "IsCustomAttribute": False,
        "IsValidForCreate": attribute.writable or attribute.is_primary_id,
        "IsValidForUpdate": attribute.writable and not attribute.is_primary_id,
        "IsValidForRead": True,
        "AttributeOf": None,
        "RequiredLevel": {
            "Value": "ApplicationRequired" if attribute.required or attribute.is_primary_name else "None"
        },
        "DisplayName": label(attribute.display_name, entity.logical_name, attribute.logical_name),
        "Description": label("", entity.logical_name, attribute.logical_name, "description"),
    }
    if kind in (AttributeType.STRING, AttributeType.MEMO):
        document |= {
            "MaxLength": attribute.max_length,
            "Format": "Text" if kind is AttributeType.STRING else "TextArea",
        }
        document["FormatName"] = {"Value": document["Format"]}
    if attribute.min_value is not None:
        document |= {"MinValue": attribute.min_value, "MaxValue": attribute.max_value}
    if attribute.precision is not None:
        document["Precision"] = attribute.precision
    if kind is AttributeType.DATETIME:
        document |= {"Format": "DateOnly" if attribute.date_only else "DateAndTime"}
        document["DateTimeBehavior"] = {"Value": "DateOnly" if attribute.date_only else "UserLocal"}
    if kind.is_lookup:
        document["Targets"] = list(attribute.targets)
    if expand_options and (kind.is_choice or kind is AttributeType.BOOLEAN):
        document["OptionSet"] = option_set(entity, attribute)
    return document


def option_set(entity: EntityDefinition, attribute: AttributeDefinition) -> dict[str, Any]:
    return {
        "MetadataId": str(metadata_id(entity.logical_name, attribute.logical_name, "optionset")),
        "Name": f"{entity.logical_name}_{attribute.logical_name}",
        "IsGlobal": False,
        "OptionSetType": "Boolean" if attribute.type is AttributeType.BOOLEAN else attribute.type.value,
        "Options": [
            {"Value": o.value, "Label": label(o.label, entity.logical_name, attribute.logical_name, str(o.value))}
            for o in attribute.options
        ],
    }


def relationship_document(relationship: RelationshipDefinition, catalog: Catalog) -> dict[str, Any]:
    referenced = catalog.by_logical_name(relationship.referenced_entity)
    return {
        "@odata.type": "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "MetadataId": str(metadata_id("relationship", relationship.schema_name)),
        "SchemaName": relationship.schema_name,
        "RelationshipType": "OneToManyRelationship",
        "IsCustomRelationship": False,
        "ReferencedEntity": relationship.referenced_entity,
        "ReferencedAttribute": referenced.primary_id if referenced else "",
        "ReferencingEntity": relationship.referencing_entity,
        "ReferencingAttribute": relationship.referencing_attribute,
        "ReferencedEntityNavigationPropertyName": relationship.referenced_navigation,
        "ReferencingEntityNavigationPropertyName": relationship.referencing_navigation,
        "CascadeConfiguration": {
            "Assign": "NoCascade", "Delete": "RemoveLink", "Merge": "NoCascade", "Reparent": "NoCascade",
            "Share": "NoCascade", "Unshare": "NoCascade", "RollupView": "NoCascade",
        },
    }  # fmt: skip


def _type_name(kind: AttributeType) -> str:
    return {
        AttributeType.UNIQUEIDENTIFIER: "UniqueidentifierType",
        AttributeType.OWNER: "OwnerType",
        AttributeType.CUSTOMER: "CustomerType",
    }.get(kind, f"{kind.value}Type")
