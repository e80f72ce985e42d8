"""The ``$metadata`` document: CSDL (EDMX) describing the tables as OData entity types.

Namespace ``Microsoft.Dynamics.CRM`` (alias ``mscrm``), one EntityType per table based on the abstract
``crmbaseentity``, typed properties, ``_x_value`` lookup properties, navigation properties with referential
constraints, WhoAmI, and the ``System`` entity container — enough for generic OData clients.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from d365local.dataverse.schema.metadata import AttributeDefinition, AttributeType, Catalog, EntityDefinition

NAMESPACE = "Microsoft.Dynamics.CRM"
_EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
_EDM = "http://docs.oasis-open.org/odata/ns/edm"
_TYPES = {
    AttributeType.UNIQUEIDENTIFIER: "Edm.Guid",
    AttributeType.STRING: "Edm.String",
    AttributeType.MEMO: "Edm.String",
    AttributeType.INTEGER: "Edm.Int32",
    AttributeType.BIGINT: "Edm.Int64",
    AttributeType.DECIMAL: "Edm.Decimal",
    AttributeType.MONEY: "Edm.Decimal",
    AttributeType.DOUBLE: "Edm.Double",
    AttributeType.BOOLEAN: "Edm.Boolean",
    AttributeType.PICKLIST: "Edm.Int32",
    AttributeType.STATE: "Edm.Int32",
    AttributeType.STATUS: "Edm.Int32",
}


def csdl_document(catalog: Catalog) -> bytes:
    ET.register_namespace("edmx", _EDMX)
    root = ET.Element(f"{{{_EDMX}}}Edmx", {"Version": "4.0"})
    services = ET.SubElement(root, f"{{{_EDMX}}}DataServices")
    schema = ET.SubElement(services, "Schema", {"Namespace": NAMESPACE, "Alias": "mscrm", "xmlns": _EDM})
    ET.SubElement(schema, "EntityType", {"Name": "crmbaseentity", "Abstract": "true"})
    for entity in catalog.entities:
        _entity_type(schema, entity, catalog)
    whoami = ET.SubElement(schema, "ComplexType", {"Name": "WhoAmIResponse"})
    for name in ("BusinessUnitId", "UserId", "OrganizationId"):
        ET.SubElement(whoami, "Property", {"Name": name, "Type": "Edm.Guid", "Nullable": "false"})
    function = ET.SubElement(schema, "Function", {"Name": "WhoAmI"})
    ET.SubElement(function, "ReturnType", {"Type": "mscrm.WhoAmIResponse", "Nullable": "false"})
    container = ET.SubElement(schema, "EntityContainer", {"Name": "System"})
    for entity in catalog.entities:
        entity_set = ET.SubElement(
            container, "EntitySet", {"Name": entity.entity_set_name, "EntityType": f"{NAMESPACE}.{entity.logical_name}"}
        )
        for lookup in entity.lookups:
            for target_name in lookup.targets:
                target = catalog.by_logical_name(target_name)
                if target is not None:
                    ET.SubElement(
                        entity_set,
                        "NavigationPropertyBinding",
                        {"Path": _navigation_name(lookup, target_name), "Target": target.entity_set_name},
                    )
    ET.SubElement(container, "FunctionImport", {"Name": "WhoAmI", "Function": f"{NAMESPACE}.WhoAmI"})
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>' + body


def _entity_type(schema: ET.Element, entity: EntityDefinition, catalog: Catalog) -> None:
    element = ET.SubElement(schema, "EntityType", {"Name": entity.logical_name, "BaseType": "mscrm.crmbaseentity"})
    key = ET.SubElement(element, "Key")
    ET.SubElement(key, "PropertyRef", {"Name": entity.primary_id})
    for attribute in entity.attributes:
        if attribute.type.is_lookup:
            ET.SubElement(element, "Property", {"Name": attribute.lookup_property, "Type": "Edm.Guid"})
            continue
        properties = {"Name": attribute.logical_name, "Type": _edm_type(attribute)}
        if attribute.max_length is not None:
            properties["MaxLength"] = str(attribute.max_length)
        ET.SubElement(element, "Property", properties)
    for lookup in entity.lookups:
        for target_name in lookup.targets:
            target = catalog.by_logical_name(target_name)
            if target is None:
                continue
            navigation = ET.SubElement(
                element,
                "NavigationProperty",
                {"Name": _navigation_name(lookup, target_name), "Type": f"mscrm.{target_name}"},
            )
            ET.SubElement(
                navigation,
                "ReferentialConstraint",
                {"Property": lookup.lookup_property, "ReferencedProperty": target.primary_id},
            )
    for relationship in catalog.one_to_many(entity.logical_name):
        ET.SubElement(
            element,
            "NavigationProperty",
            {
                "Name": relationship.referenced_navigation,
                "Type": f"Collection(mscrm.{relationship.referencing_entity})",
            },
        )


def _edm_type(attribute: AttributeDefinition) -> str:
    if attribute.type is AttributeType.DATETIME:
        return "Edm.Date" if attribute.date_only else "Edm.DateTimeOffset"
    return _TYPES.get(attribute.type, "Edm.String")


def _navigation_name(lookup: AttributeDefinition, target: str) -> str:
    return lookup.logical_name if len(lookup.targets) == 1 else f"{lookup.logical_name}_{target}"
