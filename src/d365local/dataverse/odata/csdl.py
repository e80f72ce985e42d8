"""The ``$metadata`` document: CSDL (EDMX) describing the tables as OData entity types.

Namespace ``Microsoft.Dynamics.CRM`` (alias ``mscrm``), one EntityType per table based on the abstract
``crmbaseentity``, typed properties, ``_x_value`` lookup properties, single-valued navigation properties (with
referential constraints) for lookups, collection-valued ones for 1:N and N:N relationships, WhoAmI, and the
``System`` entity container — enough for generic OData clients.

Properties are the columns Web API records carry: not companion columns (``createdbyname``), party lists or
virtual columns (:func:`~d365local.dataverse.odata.metadata_documents.is_entity_type_property`). The document is
rendered once per catalog object and kept while that catalog lives.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary
from xml.etree import ElementTree as ET

from d365local.dataverse.odata.metadata_documents import is_entity_type_property, single_navigation
from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    Catalog,
    EntityDefinition,
    ManyToManyDefinition,
)

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
    AttributeType.MULTISELECTPICKLIST: "Edm.String",
    AttributeType.ENTITYNAME: "Edm.String",
    AttributeType.IMAGE: "Edm.Binary",
    AttributeType.FILE: "Edm.Guid",
    AttributeType.MANAGEDPROPERTY: "mscrm.BooleanManagedProperty",
}
_MANAGED_PROPERTY = (
    ("Value", "Edm.Boolean"),
    ("CanBeChanged", "Edm.Boolean"),
    ("ManagedPropertyLogicalName", "Edm.String"),
)
_CACHE: WeakKeyDictionary[Catalog, bytes] = WeakKeyDictionary()


def csdl_document(catalog: Catalog) -> bytes:
    """The ``$metadata`` document of ``catalog``, rendered on the first call for that catalog object."""
    cached = _CACHE.get(catalog)
    if cached is None:
        cached = _CACHE[catalog] = render_csdl(catalog)
    return cached


def render_csdl(catalog: Catalog) -> bytes:
    ET.register_namespace("edmx", _EDMX)
    root = ET.Element(f"{{{_EDMX}}}Edmx", {"Version": "4.0"})
    services = ET.SubElement(root, f"{{{_EDMX}}}DataServices")
    schema = ET.SubElement(services, "Schema", {"Namespace": NAMESPACE, "Alias": "mscrm", "xmlns": _EDM})
    ET.SubElement(schema, "EntityType", {"Name": "crmbaseentity", "Abstract": "true"})
    for entity in catalog.entities:
        _entity_type(schema, entity, catalog)
    managed = ET.SubElement(schema, "ComplexType", {"Name": "BooleanManagedProperty"})
    for name, edm_type in _MANAGED_PROPERTY:
        ET.SubElement(managed, "Property", {"Name": name, "Type": edm_type, "Nullable": "false"})
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
        for name, target in _navigations(entity, catalog):
            ET.SubElement(entity_set, "NavigationPropertyBinding", {"Path": name, "Target": target.entity_set_name})
    ET.SubElement(container, "FunctionImport", {"Name": "WhoAmI", "Function": f"{NAMESPACE}.WhoAmI"})
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>' + body


def _entity_type(schema: ET.Element, entity: EntityDefinition, catalog: Catalog) -> None:
    element = ET.SubElement(schema, "EntityType", {"Name": entity.logical_name, "BaseType": "mscrm.crmbaseentity"})
    key = ET.SubElement(element, "Key")
    ET.SubElement(key, "PropertyRef", {"Name": entity.primary_id})
    for attribute in entity.attributes:
        if not is_entity_type_property(attribute):
            continue
        if attribute.type.is_lookup:
            ET.SubElement(element, "Property", {"Name": attribute.lookup_property, "Type": "Edm.Guid"})
            continue
        properties = {"Name": attribute.logical_name, "Type": _edm_type(attribute)}
        if attribute.type is AttributeType.MANAGEDPROPERTY:
            properties["Nullable"] = "false"
        if attribute.max_length is not None and properties["Type"] == "Edm.String":
            properties["MaxLength"] = str(attribute.max_length)
        ET.SubElement(element, "Property", properties)
    for name, target, lookup in _lookup_navigations(entity, catalog):
        navigation = ET.SubElement(
            element, "NavigationProperty", {"Name": name, "Type": f"mscrm.{target.logical_name}"}
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
    for many in catalog.many_to_many(entity.logical_name):
        for name, other in _sides(entity, many):
            ET.SubElement(element, "NavigationProperty", {"Name": name, "Type": f"Collection(mscrm.{other})"})


def _navigations(entity: EntityDefinition, catalog: Catalog) -> list[tuple[str, EntityDefinition]]:
    """The table's navigation properties with the table each leads to (the entity set's bindings)."""
    found: list[tuple[str, EntityDefinition]] = [(n, t) for n, t, _ in _lookup_navigations(entity, catalog)]
    for relationship in catalog.one_to_many(entity.logical_name):
        target = catalog.by_logical_name(relationship.referencing_entity)
        if target is not None:
            found.append((relationship.referenced_navigation, target))
    for many in catalog.many_to_many(entity.logical_name):
        for name, other_name in _sides(entity, many):
            other = catalog.by_logical_name(other_name)
            if other is not None:
                found.append((name, other))
    return found


def _lookup_navigations(
    entity: EntityDefinition, catalog: Catalog
) -> list[tuple[str, EntityDefinition, AttributeDefinition]]:
    """The single-valued navigation properties of the table's lookups: (name, target table, lookup). A name two
    relationships share (one lookup of several tables, both named after the lookup) becomes ``<lookup>_<table>``
    for the second."""
    found: list[tuple[str, EntityDefinition, AttributeDefinition]] = []
    used: set[str] = set()
    for relationship in catalog.many_to_one(entity.logical_name):
        target = catalog.by_logical_name(relationship.referenced_entity)
        lookup = entity.attribute(relationship.referencing_attribute)
        if target is None or lookup is None:
            continue
        name = single_navigation(relationship, catalog)
        if name in used:
            name = f"{lookup.logical_name}_{target.logical_name}"
        used.add(name)
        found.append((name, target, lookup))
    return found


def _sides(entity: EntityDefinition, many: ManyToManyDefinition) -> list[tuple[str, str]]:
    """The N:N relationship's collection-valued navigation properties on ``entity`` and the table each leads to:
    one, or two for a relationship of a table with itself whose sides are named apart."""
    sides = [(many.entity1_navigation, many.entity2)] if many.entity1 == entity.logical_name else []
    if many.entity2 == entity.logical_name and (many.entity2_navigation, many.entity1) not in sides:
        sides.append((many.entity2_navigation, many.entity1))
    return sides


def _edm_type(attribute: AttributeDefinition) -> str:
    if attribute.type is AttributeType.DATETIME:
        return "Edm.Date" if attribute.date_only else "Edm.DateTimeOffset"
    return _TYPES.get(attribute.type, "Edm.String")
