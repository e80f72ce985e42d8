"""``EntityDefinitions`` and ``RelationshipDefinitions``: the metadata reads clients make before data calls.

Reads only: creating or changing tables, columns, keys and relationships is later work and answers 501.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from d365local.dataverse import errors
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.endpoints.api_request import ApiRequest
from d365local.dataverse.endpoints.web_request import WebResponse, json_response
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.document_filter import UnsupportedMetadataFilter, matches
from d365local.dataverse.odata.metadata_documents import (
    attribute_document,
    entity_document,
    relationship_document,
)
from d365local.dataverse.odata.query_options import QueryOptions
from d365local.dataverse.odata.resource_path import Segment
from d365local.dataverse.schema.metadata import AttributeDefinition, Catalog, EntityDefinition, metadata_id

CAST_PREFIX = "Microsoft.Dynamics.CRM."


class MetadataEndpoints:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def handle(self, request: ApiRequest, _caller: AuthorizedCaller) -> WebResponse:
        if request.method != "GET":
            raise DataverseError(errors.NOT_SUPPORTED, feature="Changing tables, columns, keys and relationships")
        segments, options = request.segments, request.options
        first = segments[0]
        if first.name == "RelationshipDefinitions":
            documents = [relationship_document(r, self._catalog) for r in self._catalog.relationships]
            return self._collection(request, "RelationshipDefinitions", documents, options)
        if not first.has_key:
            if len(segments) > 1:
                raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=segments[1].name[:200])
            documents = [self._entity(e, options) for e in self._catalog.entities]
            return self._collection(request, "EntityDefinitions", documents, options)
        entity = self._find_entity(first)
        base = f"EntityDefinitions({entity.metadata_id})"
        if len(segments) == 1:
            return self._single(request, "EntityDefinitions", self._entity(entity, options), options)
        part = segments[1]
        if part.name == "Attributes":
            return self._attributes(request, entity, segments[1:], options, base)
        if (
            part.name in ("OneToManyRelationships", "ManyToOneRelationships", "ManyToManyRelationships")
            and len(segments) == 2
        ):
            relationships: Iterable[Any] = ()
            if part.name == "OneToManyRelationships":
                relationships = self._catalog.one_to_many(entity.logical_name)
            elif part.name == "ManyToOneRelationships":
                relationships = self._catalog.many_to_one(entity.logical_name)
            documents = [relationship_document(r, self._catalog) for r in relationships]
            return self._collection(request, f"{base}/{part.name}", documents, options)
        if part.name == "Keys" and len(segments) == 2:
            documents = [
                {
                    "MetadataId": str(metadata_id(entity.logical_name, "key", *key)),
                    "LogicalName": f"{entity.logical_name}_{'_'.join(key)}",
                    "SchemaName": f"{entity.schema_name}_{'_'.join(key)}",
                    "KeyAttributes": list(key),
                    "EntityKeyIndexStatus": "Active",
                    "EntityLogicalName": entity.logical_name,
                }
                for key in entity.alternate_keys
            ]
            return self._collection(request, f"{base}/Keys", documents, options)
        raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=part.name[:200])

    def _find_entity(self, segment: Segment) -> EntityDefinition:
        logical = segment.named_value("LogicalName")
        for entity in self._catalog.entities:
            if entity.metadata_id == segment.guid or (
                isinstance(logical, str) and entity.logical_name == logical.lower()
            ):
                return entity
        shown = str(segment.guid) if segment.guid else f"LogicalName='{logical}'"
        raise DataverseError(errors.RECORD_NOT_FOUND, entity="EntityMetadata", id=shown[:100])

    def _entity(self, entity: EntityDefinition, options: QueryOptions) -> dict[str, Any]:
        document = entity_document(entity)
        for expand in options.expand:
            if expand.navigation != "Attributes":
                raise DataverseError(
                    errors.QUERY_INVALID, detail=f"Could not expand '{expand.navigation}' on EntityMetadata."
                )
            attributes = [attribute_document(entity, a) for a in entity.attributes]
            document["Attributes"] = [_select(d, expand.options.select) for d in _filtered(attributes, expand.options)]
        return document

    def _attributes(
        self,
        request: ApiRequest,
        entity: EntityDefinition,
        segments: tuple[Segment, ...],
        options: QueryOptions,
        base: str,
    ) -> WebResponse:
        attributes_segment = segments[0]
        cast = segments[-1].name.removeprefix(CAST_PREFIX) if len(segments) > 1 else None
        if len(segments) > 2 or (cast is not None and not segments[-1].name.startswith(CAST_PREFIX)):
            raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=segments[-1].name[:200])
        expand_options = any(e.navigation in ("OptionSet", "GlobalOptionSet") for e in options.expand)
        chosen = list(entity.attributes)
        if attributes_segment.has_key:
            chosen = [self._find_attribute(entity, attributes_segment)]
        if cast is not None:
            chosen = [a for a in chosen if f"{a.type.metadata_type}AttributeMetadata" == cast]
            if attributes_segment.has_key and not chosen:
                raise DataverseError(errors.QUERY_INVALID, detail=f"The attribute is not a {cast}.")
        documents = [attribute_document(entity, a, expand_options=expand_options) for a in chosen]
        for document in documents:
            for expand in options.expand:
                if expand.navigation == "OptionSet" and "OptionSet" in document:
                    document["OptionSet"] = _select(document["OptionSet"], expand.options.select)
        if attributes_segment.has_key:
            return self._single(request, f"{base}/Attributes", documents[0], options)
        return self._collection(
            request, f"{base}/Attributes" + (f"/{CAST_PREFIX}{cast}" if cast else ""), documents, options
        )

    def _find_attribute(self, entity: EntityDefinition, segment: Segment) -> AttributeDefinition:
        logical = segment.named_value("LogicalName")
        for attribute in entity.attributes:
            identifier = metadata_id(entity.logical_name, attribute.logical_name)
            if identifier == segment.guid or (isinstance(logical, str) and attribute.logical_name == logical.lower()):
                return attribute
        shown = str(segment.guid) if segment.guid else f"LogicalName='{logical}'"
        raise DataverseError(errors.RECORD_NOT_FOUND, entity="AttributeMetadata", id=shown[:100])

    def _collection(
        self, request: ApiRequest, path: str, documents: list[dict[str, Any]], options: QueryOptions
    ) -> WebResponse:
        value = [_select(d, options.select) for d in _filtered(documents, options)]
        return json_response({"@odata.context": f"{request.base_url}/$metadata#{path}", "value": value})

    def _single(self, request: ApiRequest, path: str, document: dict[str, Any], options: QueryOptions) -> WebResponse:
        return json_response(
            {"@odata.context": f"{request.base_url}/$metadata#{path}/$entity", **_select(document, options.select)}
        )


def _filtered(documents: list[dict[str, Any]], options: QueryOptions) -> list[dict[str, Any]]:
    if options.filter is None:
        return documents
    try:
        return [d for d in documents if matches(options.filter, d)]
    except UnsupportedMetadataFilter as exc:
        raise DataverseError(errors.NOT_SUPPORTED_METADATA, detail=str(exc)) from exc


def _select(document: dict[str, Any], select: tuple[str, ...] | None) -> dict[str, Any]:
    if not select or "*" in select:
        return document
    keep = {"@odata.type", "MetadataId", *select}
    return {k: v for k, v in document.items() if k in keep or (k in ("Attributes", "OptionSet") and k in document)}


def is_metadata_segment(name: str) -> bool:
    return name in ("EntityDefinitions", "RelationshipDefinitions", "GlobalOptionSetDefinitions")
