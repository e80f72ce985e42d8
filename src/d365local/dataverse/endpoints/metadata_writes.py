"""Schema changes through the metadata Web API: tables (``EntityDefinitions``, ``CreateEntities``), columns
(``…/Attributes``), alternate keys (``…/Keys``), relationships (``RelationshipDefinitions``) and global choices
(``GlobalOptionSetDefinitions``).

Bodies are parsed by ``odata.metadata_bodies``, checked by Dataverse's rules (``domain.customization``) and stored
with the DDL they need by the customization store, in one transaction; the next request (in any process) sees the
new schema. Creates answer 204 with ``OData-EntityId`` naming the new definition in the addressing the client used
(docs/reference/metadata-writes.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from d365local.dataverse import errors
from d365local.dataverse.domain import customization
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.domain.storage import CustomizationStore
from d365local.dataverse.endpoints.api_request import ApiRequest
from d365local.dataverse.endpoints.web_request import WebResponse
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.metadata_bodies import (
    OneToManyRequest,
    TableRequest,
    parse_attribute,
    parse_create_entities,
    parse_key,
    parse_option_set,
    parse_relationship,
    parse_table,
)
from d365local.dataverse.odata.metadata_documents import attribute_metadata_id
from d365local.dataverse.odata.resource_path import Segment
from d365local.dataverse.schema.customizations import Customizations
from d365local.dataverse.schema.metadata import Catalog, EntityDefinition, ManyToManyDefinition, metadata_id

Change = Callable[[Customizations, Catalog], Customizations]
"""A schema change: (the org's customizations, its catalog) → its new customizations."""


class MetadataWrites:
    def __init__(self, store: CustomizationStore) -> None:
        self._store = store

    def handle(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        segments = request.segments
        first = segments[0]
        match (first.name, request.method, len(segments)):
            case ("CreateEntities", "POST", 1):
                return self._create_entities(request, caller)
            case ("EntityDefinitions", "POST", 1) if not first.has_key:
                table = parse_table(_body(request), option_sets=caller.catalog.option_sets)
                return self._create_table(request, caller, table)
            case ("EntityDefinitions", "DELETE", 1) if first.has_key:
                return self._delete_table(request, caller, _entity(caller.catalog, first))
            case ("EntityDefinitions", _, 2 | 3) if first.has_key:
                return self._table_part(request, caller, _entity(caller.catalog, first))
            case ("RelationshipDefinitions", "POST", 1) if not first.has_key:
                return self._create_relationship(request, caller)
            case ("RelationshipDefinitions", "DELETE", 1) if first.has_key:
                return self._delete_relationship(request, caller, first)
            case ("GlobalOptionSetDefinitions", "POST", 1) if not first.has_key:
                return self._create_option_set(request, caller)
            case ("GlobalOptionSetDefinitions", "DELETE", 1) if first.has_key:
                return self._delete_option_set(request, caller, first)
        raise DataverseError(errors.METHOD_NOT_ALLOWED, method=request.method, segment=request.path[:200])

    # -- tables -------------------------------------------------------------------------------------------------
    def _create_entities(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        tables = parse_create_entities(_body(request), option_sets=caller.catalog.option_sets)
        _require(caller, "prvCreateEntity")

        def change(custom: Customizations, base: Catalog) -> Customizations:
            for table in tables:
                custom, _created_entity = customization.create_table(custom, custom.apply_to(base), _new_table(table))
            return custom

        self._store.change(caller.organization.id, change)
        return WebResponse(204, {}, b"")

    def _create_table(self, request: ApiRequest, caller: AuthorizedCaller, table: TableRequest) -> WebResponse:
        _require(caller, "prvCreateEntity")
        created: list[EntityDefinition] = []

        def change(custom: Customizations, catalog: Catalog) -> Customizations:
            custom, entity = customization.create_table(custom, catalog, _new_table(table))
            created.append(entity)
            return custom

        self._change(caller, change)
        return _created(f"{request.base_url}/EntityDefinitions({created[0].metadata_id})")

    def _delete_table(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        _require(caller, "prvDeleteEntity")
        self._change(caller, lambda custom, catalog: customization.delete_table(custom, catalog, entity.logical_name))
        return WebResponse(204, {}, b"")

    def _table_part(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        part = request.segments[1]
        parent = _parent_url(request)
        table = entity.logical_name
        match (part.name, request.method, part.has_key):
            case ("Attributes", "POST", False):
                _require(caller, "prvCreateAttribute")
                attribute = parse_attribute(_body(request), table=table, option_sets=caller.catalog.option_sets)
                if attribute.type.is_lookup:
                    raise DataverseError(
                        errors.INVALID_ARGUMENT,
                        detail="A lookup column is created with its relationship: POST RelationshipDefinitions.",
                    )
                self._change(caller, lambda c, cat: customization.add_column(c, cat, table, attribute))
                return _created(f"{parent}/Attributes({attribute_metadata_id(entity, attribute)})")
            case ("Attributes", "PUT", True):
                _require(caller, "prvWriteAttribute")
                present = _attribute_name(entity, part)
                sent = parse_attribute(_body(request), table=table, option_sets=caller.catalog.option_sets)
                attribute = dataclasses.replace(sent, logical_name=present)
                self._change(caller, lambda c, cat: customization.update_column(c, cat, table, attribute))
                return WebResponse(204, {"OData-EntityId": f"{request.base_url}/{request.path}"}, b"")
            case ("Attributes", "DELETE", True):
                _require(caller, "prvDeleteAttribute")
                column = _attribute_name(entity, part)
                self._change(caller, lambda c, cat: customization.delete_column(c, cat, table, column))
                return WebResponse(204, {}, b"")
            case ("Keys", "POST", False):
                _require(caller, "prvCreateEntityKey")
                key = parse_key(_body(request))
                self._change(caller, lambda c, cat: customization.add_key(c, cat, table, key))
                return _created(f"{parent}/Keys({key.metadata_id(table)})")
            case ("Keys", "DELETE", True):
                _require(caller, "prvDeleteEntityKey")
                key_name = _key_name(entity, part)
                self._change(caller, lambda c, cat: customization.delete_key(c, cat, table, key_name))
                return WebResponse(204, {}, b"")
        raise DataverseError(errors.METHOD_NOT_ALLOWED, method=request.method, segment=request.path[:200])

    # -- relationships and choices ------------------------------------------------------------------------------
    def _create_relationship(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        _require(caller, "prvCreateRelationship")
        parsed = parse_relationship(_body(request))
        if isinstance(parsed, OneToManyRequest):
            schema_name = parsed.relationship.schema_name
            self._change(
                caller, lambda c, cat: customization.add_one_to_many(c, cat, parsed.relationship, parsed.lookup)
            )
        else:
            many: ManyToManyDefinition = parsed
            schema_name = many.schema_name
            self._change(caller, lambda c, cat: customization.add_many_to_many(c, cat, many))
        identifier = metadata_id("relationship", schema_name)
        return _created(f"{request.base_url}/RelationshipDefinitions({identifier})")

    def _delete_relationship(self, request: ApiRequest, caller: AuthorizedCaller, segment: Segment) -> WebResponse:
        _require(caller, "prvDeleteRelationship")
        schema_name = _relationship_name(caller.catalog, segment)
        self._change(caller, lambda c, cat: customization.delete_relationship(c, cat, schema_name))
        return WebResponse(204, {}, b"")

    def _create_option_set(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        _require(caller, "prvCreateOptionSet")
        option_set = parse_option_set(_body(request))
        self._change(caller, lambda c, cat: customization.add_option_set(c, cat, option_set))
        return _created(f"{request.base_url}/GlobalOptionSetDefinitions({option_set.metadata_id})")

    def _delete_option_set(self, request: ApiRequest, caller: AuthorizedCaller, segment: Segment) -> WebResponse:
        _require(caller, "prvDeleteOptionSet")
        name = _option_set_name(caller.catalog, segment)
        self._change(caller, lambda c, cat: customization.delete_option_set(c, cat, name))
        return WebResponse(204, {}, b"")

    def _change(self, caller: AuthorizedCaller, change: Change) -> None:
        self._store.change(caller.organization.id, lambda custom, base: change(custom, custom.apply_to(base)))


def _body(request: ApiRequest) -> object:
    """The JSON body, or Dataverse's error for one that is not JSON (the parsers check its shape)."""
    try:
        return request.json()
    except ValueError as exc:
        raise DataverseError(
            errors.INVALID_ARGUMENT, detail=f"The request body is not valid JSON: {exc}"[:300]
        ) from exc


def _require(caller: AuthorizedCaller, privilege: str) -> None:
    organization = caller.catalog.by_logical_name("organization")
    assert organization is not None  # a built-in table: names the privilege's table in the error
    caller.permissions.require(privilege, organization)


def _new_table(table: TableRequest) -> customization.NewTable:
    primary = [a for a in table.attributes if a.is_primary_name]
    if not primary:
        raise DataverseError(
            errors.INVALID_ARGUMENT,
            detail=f"The entity {table.schema_name} needs a primary name attribute (a String with IsPrimaryName true).",
        )
    return customization.NewTable(
        schema_name=table.schema_name,
        display_name=table.display_name,
        display_collection_name=table.display_collection_name,
        description=table.description,
        ownership=table.ownership,
        primary_name=primary[0],
        attributes=tuple(a for a in table.attributes if a is not primary[0]),
        is_activity=table.is_activity,
        has_notes=table.has_notes,
        has_activities=table.has_activities,
    )


def _created(location: str) -> WebResponse:
    return WebResponse(204, {"OData-EntityId": location}, b"")


def _parent_url(request: ApiRequest) -> str:
    """The table's URL as the client addressed it (``EntityDefinitions(LogicalName='x')`` or by MetadataId)."""
    path = request.path
    table_part = path[: path.index(")") + 1] if ")" in path else path
    return f"{request.base_url}/{table_part}"


def _entity(catalog: Catalog, segment: Segment) -> EntityDefinition:
    logical = segment.named_value("LogicalName")
    for entity in catalog.entities:
        if entity.metadata_id == segment.guid or (isinstance(logical, str) and entity.logical_name == logical.lower()):
            return entity
    shown = str(segment.guid) if segment.guid else f"LogicalName='{logical}'"
    raise DataverseError(errors.RECORD_NOT_FOUND, entity="EntityMetadata", id=shown[:100])


def _attribute_name(entity: EntityDefinition, segment: Segment) -> str:
    logical = segment.named_value("LogicalName")
    for attribute in entity.attributes:
        if (isinstance(logical, str) and attribute.logical_name == logical.lower()) or (
            segment.guid is not None and attribute_metadata_id(entity, attribute) == str(segment.guid)
        ):
            return attribute.logical_name
    raise DataverseError(errors.RECORD_NOT_FOUND, entity="AttributeMetadata", id=str(segment.guid or logical)[:100])


def _key_name(entity: EntityDefinition, segment: Segment) -> str:
    logical = segment.named_value("LogicalName")
    for key in entity.keys:
        if (isinstance(logical, str) and key.logical_name == logical.lower()) or key.metadata_id(
            entity.logical_name
        ) == segment.guid:
            return key.logical_name
    raise DataverseError(errors.RECORD_NOT_FOUND, entity="EntityKeyMetadata", id=str(segment.guid or logical)[:100])


def _relationship_name(catalog: Catalog, segment: Segment) -> str:
    wanted = segment.named_value("SchemaName")
    names = [r.schema_name for r in catalog.relationships] + [r.schema_name for r in catalog.many_to_many_relationships]
    for name in names:
        if (isinstance(wanted, str) and name.lower() == wanted.lower()) or metadata_id(
            "relationship", name
        ) == segment.guid:
            return name
    raise DataverseError(errors.RECORD_NOT_FOUND, entity="RelationshipMetadata", id=str(segment.guid or wanted)[:100])


def _option_set_name(catalog: Catalog, segment: Segment) -> str:
    wanted = segment.named_value("Name")
    for option_set in catalog.option_sets:
        if (isinstance(wanted, str) and option_set.name.lower() == wanted.lower()) or (
            option_set.metadata_id == segment.guid
        ):
            return option_set.name
    raise DataverseError(errors.RECORD_NOT_FOUND, entity="OptionSetMetadata", id=str(segment.guid or wanted)[:100])
