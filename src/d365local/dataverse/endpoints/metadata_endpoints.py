"""``EntityDefinitions``, ``RelationshipDefinitions``, ``GlobalOptionSetDefinitions`` and ``RetrieveMetadataChanges``:
the metadata reads clients make before data calls (docs: webapi/query-metadata-web-api.md).

Reads only: creating or changing tables, columns, keys and relationships is later work and answers 501. A column
list (``…/Attributes``, ``$expand=Attributes``) holds the ``AttributeMetadata`` properties every column shares; a
type-cast segment (``…/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata``) or a single column adds its
type's own, and only a cast to a choice type can expand ``OptionSet``/``GlobalOptionSet``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from d365local.dataverse import errors
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.endpoints.api_request import ApiRequest
from d365local.dataverse.endpoints.web_request import WebResponse, json_response
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.document_filter import UnsupportedMetadataFilter, matches
from d365local.dataverse.odata.metadata_documents import (
    MANY_TO_MANY_TYPE,
    ONE_TO_MANY_TYPE,
    attribute_base,
    attribute_document,
    attribute_metadata_id,
    cast_name,
    entity_document,
    global_option_set,
    has_option_set,
    key_document,
    many_to_many_document,
    option_set,
    option_set_definition_document,
    relationship_document,
)
from d365local.dataverse.odata.query_options import Expand, QueryOptions
from d365local.dataverse.odata.resource_path import Segment
from d365local.dataverse.schema.metadata import (
    AttributeDefinition,
    AttributeType,
    Catalog,
    EntityDefinition,
    OptionSetDefinition,
)

CAST_PREFIX = "Microsoft.Dynamics.CRM."
BASE_ATTRIBUTE_TYPE = "AttributeMetadata"
_SEGMENTS = ("EntityDefinitions", "RelationshipDefinitions", "GlobalOptionSetDefinitions", "RetrieveMetadataChanges")
_CASTS: dict[str, tuple[AttributeType, ...]] = {
    name: tuple(k for k in AttributeType if cast_name(k) == name) for name in {cast_name(k) for k in AttributeType}
}
_ENUM_CASTS = {cast_name(k) for k in AttributeType if has_option_set(k) and k is not AttributeType.BOOLEAN}
_BOOLEAN_CAST = cast_name(AttributeType.BOOLEAN)
_RELATIONSHIP_CASTS = {
    ONE_TO_MANY_TYPE.removeprefix(f"#{CAST_PREFIX}"): ONE_TO_MANY_TYPE,
    MANY_TO_MANY_TYPE.removeprefix(f"#{CAST_PREFIX}"): MANY_TO_MANY_TYPE,
}

Documents = list[dict[str, Any]]


class MetadataEndpoints:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def handle(self, request: ApiRequest, _caller: AuthorizedCaller) -> WebResponse:
        if request.method != "GET":
            raise DataverseError(errors.NOT_SUPPORTED, feature="Changing tables, columns, keys and relationships")
        first = request.segments[0]
        match first.name:
            case "RelationshipDefinitions":
                return self._relationships(request)
            case "GlobalOptionSetDefinitions":
                return global_option_set_definitions(request, _catalog_option_sets(self._catalog))
            case "RetrieveMetadataChanges":
                return self._metadata_changes(request)
            case _:
                return self._entities(request)

    # --- EntityDefinitions ------------------------------------------------------------------------------------

    def _entities(self, request: ApiRequest) -> WebResponse:
        segments, options = request.segments, request.options
        first = segments[0]
        if not first.has_key:
            if len(segments) > 1:
                raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=segments[1].name[:200])
            documents = [self._entity(e, options) for e in self._catalog.entities]
            return _collection(request, "EntityDefinitions", documents, options)
        entity = self._find_entity(first)
        base = f"EntityDefinitions({entity.metadata_id})"
        if len(segments) == 1:
            return _single(request, "EntityDefinitions", self._entity(entity, options), options)
        part = segments[1]
        if part.name == "Attributes":
            return self._attributes(request, entity, segments[1:], base)
        navigation = self._navigations(entity).get(part.name)
        if navigation is None or len(segments) > 2 or part.has_key:
            raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=segments[-1].name[:200])
        return _collection(request, f"{base}/{part.name}", navigation(), options)

    def _navigations(self, entity: EntityDefinition) -> dict[str, Callable[[], Documents]]:
        """EntityMetadata's collection-valued navigation properties other than Attributes."""
        catalog, name = self._catalog, entity.logical_name
        return {
            "Keys": lambda: [key_document(entity, k) for k in entity.keys],
            "OneToManyRelationships": lambda: [relationship_document(r, catalog) for r in catalog.one_to_many(name)],
            "ManyToOneRelationships": lambda: [relationship_document(r, catalog) for r in catalog.many_to_one(name)],
            "ManyToManyRelationships": lambda: [many_to_many_document(r, catalog) for r in catalog.many_to_many(name)],
        }

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
        navigations = self._navigations(entity)
        for expand in options.expand:
            if expand.navigation == "Attributes":
                related = [attribute_base(entity, a) for a in entity.attributes]
            elif expand.navigation in navigations:
                related = navigations[expand.navigation]()
            else:
                raise _no_property(expand.navigation, "EntityMetadata")
            document[expand.navigation] = [
                _select(d, expand.options.select) for d in _filtered(related, expand.options)
            ]
        return document

    # --- Attributes -------------------------------------------------------------------------------------------

    def _attributes(
        self, request: ApiRequest, entity: EntityDefinition, segments: tuple[Segment, ...], base: str
    ) -> WebResponse:
        """``Attributes``, ``Attributes(key)``, then an optional type cast, then (single column) ``OptionSet``."""
        attributes_segment, rest = segments[0], segments[1:]
        cast: str | None = None
        if rest and rest[0].name.startswith(CAST_PREFIX) and not rest[0].has_key:
            cast, rest = rest[0].name.removeprefix(CAST_PREFIX), rest[1:]
            if cast != BASE_ATTRIBUTE_TYPE and cast not in _CASTS:
                raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=f"{CAST_PREFIX}{cast}"[:200])
        if rest and not (
            attributes_segment.has_key and len(rest) == 1 and rest[0].name in ("OptionSet", "GlobalOptionSet")
        ):
            raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=rest[-1].name[:200])
        declared = cast or BASE_ATTRIBUTE_TYPE
        path = f"{base}/Attributes" + (f"/{CAST_PREFIX}{cast}" if cast else "")
        options = request.options
        if not attributes_segment.has_key:
            _check_expands(options.expand, declared)
            chosen = [a for a in entity.attributes if cast is None or _is_a(a, cast)]
            render = attribute_base if cast in (None, BASE_ATTRIBUTE_TYPE) else attribute_document
            documents = [_with_option_sets(render(entity, a), entity, a, options.expand) for a in chosen]
            return _collection(request, path, documents, options)
        attribute = self._find_attribute(entity, attributes_segment)
        if cast is not None and not _is_a(attribute, cast):
            raise DataverseError(errors.QUERY_INVALID, detail=f"The attribute is not a {cast}.")
        if rest:
            return self._attribute_option_set(request, entity, attribute, rest[0].name, declared, path)
        _check_expands(options.expand, declared)
        document = _with_option_sets(attribute_document(entity, attribute), entity, attribute, options.expand)
        return _single(request, path, document, options)

    def _attribute_option_set(
        self,
        request: ApiRequest,
        entity: EntityDefinition,
        attribute: AttributeDefinition,
        navigation: str,
        declared: str,
        path: str,
    ) -> WebResponse:
        _check_expands((Expand(navigation, QueryOptions()),), declared)
        found = option_set(entity, attribute) if navigation == "OptionSet" else global_option_set(entity, attribute)
        if found is None:
            raise DataverseError(errors.RECORD_NOT_FOUND, entity="OptionSetMetadata", id=attribute.logical_name)
        return _single(request, f"{path}/{navigation}", found, request.options)

    def _find_attribute(self, entity: EntityDefinition, segment: Segment) -> AttributeDefinition:
        logical = segment.named_value("LogicalName")
        for attribute in entity.attributes:
            if (segment.guid is not None and attribute_metadata_id(entity, attribute) == str(segment.guid)) or (
                isinstance(logical, str) and attribute.logical_name == logical.lower()
            ):
                return attribute
        shown = str(segment.guid) if segment.guid else f"LogicalName='{logical}'"
        raise DataverseError(errors.RECORD_NOT_FOUND, entity="AttributeMetadata", id=shown[:100])

    # --- RelationshipDefinitions ------------------------------------------------------------------------------

    def _relationships(self, request: ApiRequest) -> WebResponse:
        segments, options = request.segments, request.options
        documents = relationship_definitions(self._catalog)
        first, rest = segments[0], segments[1:]
        if first.has_key:
            documents = [_find_relationship(documents, first)]
        cast: str | None = None
        if rest:
            cast = rest[0].name.removeprefix(CAST_PREFIX)
            if (
                len(rest) > 1
                or rest[0].has_key
                or not rest[0].name.startswith(CAST_PREFIX)
                or cast not in _RELATIONSHIP_CASTS
            ):
                raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=rest[-1].name[:200])
            documents = [d for d in documents if d["@odata.type"] == _RELATIONSHIP_CASTS[cast]]
        path = "RelationshipDefinitions" + (f"/{CAST_PREFIX}{cast}" if cast else "")
        if not first.has_key:
            return _collection(request, path, documents, options)
        if not documents:
            raise DataverseError(errors.QUERY_INVALID, detail=f"The relationship is not a {cast}.")
        return _single(request, path, documents[0], options)

    # --- RetrieveMetadataChanges ------------------------------------------------------------------------------

    def _metadata_changes(self, request: ApiRequest) -> WebResponse:
        segment = request.segments[0]
        if len(request.segments) > 1:
            raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=request.segments[1].name[:200])
        raw = segment.named_value("Query")
        if isinstance(raw, str) and raw.startswith("@"):
            raw = request.options.aliases.get(raw)
        try:
            query = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            query = None
        if not isinstance(query, dict):
            raise DataverseError(
                errors.QUERY_INVALID,
                detail="RetrieveMetadataChanges needs a Query parameter: an EntityQueryExpression.",
            )
        body = metadata_changes(self._catalog, query)
        context = f"{request.base_url}/$metadata#Microsoft.Dynamics.CRM.RetrieveMetadataChangesResponse"
        return json_response({"@odata.context": context, **body})


# --- pure pieces ------------------------------------------------------------------------------------------------


def is_metadata_segment(name: str) -> bool:
    return name in _SEGMENTS


def relationship_definitions(catalog: Catalog) -> Documents:
    """``RelationshipDefinitions``: every 1:N relationship, then every N:N one."""
    return [relationship_document(r, catalog) for r in catalog.relationships] + [
        many_to_many_document(r, catalog) for r in catalog.many_to_many_relationships
    ]


def global_option_set_definitions(request: ApiRequest, option_sets: Sequence[OptionSetDefinition] = ()) -> WebResponse:
    """``GlobalOptionSetDefinitions``, ``(Name='x')`` and ``(<MetadataId>)`` over the organization's global choices."""
    first = request.segments[0]
    if len(request.segments) > 1:
        raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=request.segments[1].name[:200])
    documents = [option_set_definition_document(o) for o in option_sets]
    if not first.has_key:
        return _collection(request, "GlobalOptionSetDefinitions", documents, request.options)
    name = first.named_value("Name")
    for definition, document in zip(option_sets, documents, strict=True):
        if definition.metadata_id == first.guid or (isinstance(name, str) and definition.name == name):
            return _single(request, "GlobalOptionSetDefinitions", document, request.options)
    shown = str(first.guid) if first.guid else f"Name='{name}'"
    raise DataverseError(errors.RECORD_NOT_FOUND, entity="OptionSetMetadata", id=shown[:100])


def metadata_changes(catalog: Catalog, query: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``RetrieveMetadataChanges`` for an ``EntityQueryExpression``: the tables its ``Criteria`` match,
    with its ``Properties``; their columns as full typed documents (``AttributeQuery`` criteria and properties).
    Every table is "changed": there is no earlier version stamp to compare with."""
    attribute_query = query.get("AttributeQuery") or {}
    entities = []
    for entity in catalog.entities:
        document = entity_document(entity)
        if not _criteria_match(query.get("Criteria"), document):
            continue
        attributes = [attribute_document(entity, a) for a in entity.attributes]
        document["Attributes"] = [
            _properties(d, attribute_query.get("Properties"))
            for d in attributes
            if _criteria_match(attribute_query.get("Criteria"), d)
        ]
        entities.append(_properties(document, query.get("Properties")))
    return {"EntityMetadata": entities, "ServerVersionStamp": "1!d365local", "DeletedMetadata": None}


def _criteria_match(criteria: Any, document: Mapping[str, Any]) -> bool:
    """A ``MetadataFilterExpression``: Conditions joined by FilterOperator (And/Or), and nested Filters."""
    if not isinstance(criteria, dict):
        return True
    results = [_condition(c, document) for c in criteria.get("Conditions") or ()]
    results += [_criteria_match(f, document) for f in criteria.get("Filters") or ()]
    if not results:
        return True
    return any(results) if criteria.get("FilterOperator") == "Or" else all(results)


def _condition(condition: Any, document: Mapping[str, Any]) -> bool:
    if not isinstance(condition, dict):
        raise DataverseError(errors.QUERY_INVALID, detail="A MetadataConditionExpression must be an object.")
    actual: Any = document.get(str(condition.get("PropertyName")))
    if isinstance(actual, dict) and "Value" in actual:
        actual = actual["Value"]
    value = condition.get("Value")
    expected = value.get("Value") if isinstance(value, dict) else value
    operator = condition.get("ConditionOperator", "Equals")
    match operator:
        case "Equals":
            return _same(actual, expected)
        case "NotEquals":
            return not _same(actual, expected)
        case "In" | "NotIn":
            found = any(_same(actual, e) for e in expected or ())
            return found if operator == "In" else not found
        case "GreaterThan" | "LessThan":
            try:
                return bool(actual > expected) if operator == "GreaterThan" else bool(actual < expected)
            except TypeError:
                return False
        case _:
            raise DataverseError(errors.QUERY_INVALID, detail=f"The condition operator '{operator}' is not valid.")


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return bool(left == right)


def _properties(document: dict[str, Any], properties: Any) -> dict[str, Any]:
    """A ``MetadataPropertiesExpression``: AllProperties, or PropertyNames (MetadataId and @odata.type stay)."""
    if not isinstance(properties, dict) or properties.get("AllProperties"):
        return document
    names = properties.get("PropertyNames")
    return _select(document, tuple(str(n) for n in names)) if isinstance(names, list) else document


def _catalog_option_sets(catalog: Catalog) -> tuple[OptionSetDefinition, ...]:
    """The catalog's global choices, once it carries them (an ``option_sets`` attribute); none before."""
    found = getattr(catalog, "option_sets", ())
    return tuple(o for o in found if isinstance(o, OptionSetDefinition))


def _find_relationship(documents: Documents, segment: Segment) -> dict[str, Any]:
    schema_name = segment.named_value("SchemaName")
    for document in documents:
        if (segment.guid is not None and document["MetadataId"] == str(segment.guid)) or (
            isinstance(schema_name, str) and document["SchemaName"].lower() == schema_name.lower()
        ):
            return document
    shown = str(segment.guid) if segment.guid else f"SchemaName='{schema_name}'"
    raise DataverseError(errors.RECORD_NOT_FOUND, entity="RelationshipMetadataBase", id=shown[:100])


def _is_a(attribute: AttributeDefinition, cast: str) -> bool:
    return cast == BASE_ATTRIBUTE_TYPE or attribute.type in _CASTS.get(cast, ())


def _check_expands(expands: Iterable[Expand], declared: str) -> None:
    """``OptionSet`` exists on the Boolean and Enum types, ``GlobalOptionSet`` on the Enum types only."""
    for expand in expands:
        allowed = {"OptionSet": _ENUM_CASTS | {_BOOLEAN_CAST}, "GlobalOptionSet": _ENUM_CASTS}.get(expand.navigation)
        if allowed is None or declared not in allowed:
            raise _no_property(expand.navigation, declared)


def _with_option_sets(
    document: dict[str, Any], entity: EntityDefinition, attribute: AttributeDefinition, expands: Iterable[Expand]
) -> dict[str, Any]:
    renderers = {"OptionSet": option_set, "GlobalOptionSet": global_option_set}
    for expand in expands:
        found = renderers[expand.navigation](entity, attribute)
        document[expand.navigation] = _select(found, expand.options.select) if found is not None else None
    return document


def _no_property(name: str, type_name: str) -> DataverseError:
    return DataverseError(
        errors.QUERY_INVALID,
        detail=f"Could not find a property named '{name[:100]}' on type '{CAST_PREFIX}{type_name}'.",
    )


def _collection(request: ApiRequest, path: str, documents: Documents, options: QueryOptions) -> WebResponse:
    value = [_select(d, options.select) for d in _filtered(documents, options)]
    return json_response({"@odata.context": f"{request.base_url}/$metadata#{path}", "value": value})


def _single(request: ApiRequest, path: str, document: dict[str, Any], options: QueryOptions) -> WebResponse:
    return json_response(
        {"@odata.context": f"{request.base_url}/$metadata#{path}/$entity", **_select(document, options.select)}
    )


def _filtered(documents: Documents, options: QueryOptions) -> Documents:
    if options.filter is None:
        return documents
    try:
        return [d for d in documents if matches(options.filter, d)]
    except UnsupportedMetadataFilter as exc:
        raise DataverseError(errors.NOT_SUPPORTED_METADATA, detail=str(exc)) from exc


_NAVIGATIONS = (
    "Attributes", "OptionSet", "GlobalOptionSet", "Keys", "OneToManyRelationships", "ManyToOneRelationships",
    "ManyToManyRelationships",
)  # fmt: skip


def _select(document: dict[str, Any], select: tuple[str, ...] | None) -> dict[str, Any]:
    """``$select``: the named properties, plus ``@odata.type``, ``MetadataId`` and expanded navigations."""
    if not select or "*" in select:
        return document
    keep = {"@odata.type", "MetadataId", *select, *_NAVIGATIONS}
    return {k: v for k, v in document.items() if k in keep}
