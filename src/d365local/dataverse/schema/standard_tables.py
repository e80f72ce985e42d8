"""The standard tables as Microsoft ships them: 41 tables with every column, choice and relationship.

The data is ``standard_tables.json`` beside this module, generated at development time by
``scripts/generate_standard_tables.py`` from Microsoft's published table/column reference; this module only reads
it (through ``importlib.resources``, so it works from a wheel or a zip) and turns it into frozen definitions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    CascadeConfiguration,
    Catalog,
    EntityDefinition,
    ManyToManyDefinition,
    Option,
    RelationshipDefinition,
)

_PACKAGE = __name__.rpartition(".")[0]
RESOURCE = "standard_tables.json"
FORMAT = 1
_REQUIRED = ("SystemRequired", "ApplicationRequired")


@cache
def standard_catalog() -> Catalog:
    """Every standard table with the 1:N and N:N relationships between them (read once per process)."""
    return parse(resources.files(_PACKAGE).joinpath(RESOURCE).read_text(encoding="utf-8"))


def standard_tables() -> tuple[EntityDefinition, ...]:
    return standard_catalog().entities


def parse(text: str) -> Catalog:
    """A catalog from a document in the shipped format."""
    document = json.loads(text)
    if document.get("format") != FORMAT:
        raise ValueError(f"standard tables: format {document.get('format')!r}, expected {FORMAT}")
    return Catalog(
        (_entity(table) for table in document["tables"]),
        (_relationship(item) for item in document["oneToMany"]),
        (_many_to_many(item) for item in document["manyToMany"]),
    )


def _entity(table: Mapping[str, Any]) -> EntityDefinition:
    primary_id, primary_name = table["primaryIdAttribute"], table["primaryNameAttribute"]
    return EntityDefinition(
        logical_name=table["logicalName"],
        entity_set_name=table["entitySetName"],
        primary_id=primary_id,
        primary_name=primary_name,
        object_type_code=table["objectTypeCode"],
        display_name=table["displayName"],
        display_collection_name=table["displayCollectionName"],
        attributes=tuple(_attribute(column, primary_id, primary_name) for column in table["columns"]),
        ownership=table["ownershipType"],
        is_activity=table["isActivity"],
        privilege_table=table.get("privilegeTable", ""),
        schema_name=table["schemaName"],
    )


def _attribute(column: Mapping[str, Any], primary_id: str, primary_name: str) -> AttributeDefinition:
    name = column["logicalName"]
    level = column.get("requiredLevel", "None")
    create, update = column.get("validForCreate", True), column.get("validForUpdate", True)
    return AttributeDefinition(
        logical_name=name,
        type=AttributeType(column["type"]),
        display_name=column.get("displayName", ""),
        max_length=column.get("maxLength"),
        options=tuple(_option(option) for option in column.get("options", ())),
        targets=tuple(column.get("targets", ())),
        required=level in _REQUIRED,
        is_primary_id=name == primary_id,
        is_primary_name=name == primary_name,
        min_value=column.get("minValue"),
        max_value=column.get("maxValue"),
        precision=column.get("precision"),
        writable=create or update,
        schema_name=column["schemaName"],
        format=column.get("format"),
        date_behavior=column.get("dateTimeBehavior"),
        required_level=level,
        valid_for_create=create,
        valid_for_update=update,
        valid_for_read=column.get("validForRead", True),
        default_value=column.get("defaultValue"),
        attribute_of=column.get("attributeOf"),
        precision_source=column.get("precisionSource"),
    )


def _option(option: Mapping[str, Any]) -> Option:
    return Option(
        option["value"],
        option["label"],
        state=option.get("state"),
        default_status=option.get("defaultStatus"),
        invariant_name=option.get("invariantName"),
    )


def _relationship(item: Mapping[str, Any]) -> RelationshipDefinition:
    cascade = item.get("cascade")
    return RelationshipDefinition(
        schema_name=item["schemaName"],
        referenced_entity=item["referencedEntity"],
        referencing_entity=item["referencingEntity"],
        referencing_attribute=item["referencingAttribute"],
        referenced_navigation=item["referencedNavigation"],
        referencing_navigation_name=item.get("referencingNavigation", ""),
        cascade=CascadeConfiguration(**cascade) if cascade else None,
    )


def _many_to_many(item: Mapping[str, Any]) -> ManyToManyDefinition:
    return ManyToManyDefinition(
        schema_name=item["schemaName"],
        intersect_entity=item["intersectEntityName"],
        entity1=item["entity1LogicalName"],
        entity2=item["entity2LogicalName"],
        entity1_navigation=item["entity1NavigationPropertyName"],
        entity2_navigation=item["entity2NavigationPropertyName"],
    )
