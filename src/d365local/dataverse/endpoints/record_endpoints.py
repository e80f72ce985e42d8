"""Entity-set requests: query, retrieve, create, update/upsert, delete, single columns, bulk messages.

Status codes and headers as the Web API answers
(docs/reference/dataverse.md, "Records"): POST → 204 + ``OData-EntityId``
(201 with the record under ``Prefer: return=representation``); PATCH → 204 (200/201 with representation);
DELETE → 204; collections page with ``Prefer: odata.maxpagesize`` and an absolute ``@odata.nextLink``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from enum import Enum
from typing import Any
from urllib.parse import quote, unquote

from d365local.dataverse import errors
from d365local.dataverse.domain.binding.projection import Cardinality, Navigation, bind_navigation, check_projection
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.domain.model import Access
from d365local.dataverse.domain.records import Records
from d365local.dataverse.domain.storage import Row
from d365local.dataverse.endpoints.api_request import ApiRequest
from d365local.dataverse.endpoints.web_request import WebResponse, json_response
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.payloads import (
    FORMATTED,
    RecordBody,
    parse_body,
    render_record,
    to_column_value,
)
from d365local.dataverse.odata.query_options import MAX_PAGE_SIZE, Expand, Preferences, QueryOptions
from d365local.dataverse.odata.resource_path import PathSyntaxError, Segment, parse_resource_path
from d365local.dataverse.schema.metadata import AttributeType, Catalog, EntityDefinition

BULK_LIMIT = 1000
_METHODS = frozenset({"GET", "POST", "PATCH", "DELETE", "PUT"})
_SKIPTOKEN_OFFSET = re.compile(r'offset="(\d+)"')
_SKIPTOKEN_PARAMETER = re.compile(r"(^|&)(\$|%24)skiptoken=[^&]*", re.IGNORECASE)


class _Shape(Enum):
    """What an entity-set path addresses."""

    COLLECTION = "ES"
    RECORD = "ES(key)"
    COLLECTION_MEMBER = "ES/name"
    """``$count`` or a bound action (CreateMultiple…)."""
    RECORD_MEMBER = "ES(key)/name"
    """A column or a navigation property of one record."""


def _shape(segments: tuple[Segment, ...]) -> _Shape | None:
    first = segments[0]
    if len(segments) == 1:
        return _Shape.RECORD if first.has_key else _Shape.COLLECTION
    if len(segments) == 2 and not segments[1].has_key:
        return _Shape.RECORD_MEMBER if first.has_key else _Shape.COLLECTION_MEMBER
    return None


_Handler = Callable[[ApiRequest, AuthorizedCaller, EntityDefinition], WebResponse]
_BULK_MESSAGES = ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")


class RecordEndpoints:
    def __init__(self, records: Records, catalog: Catalog) -> None:
        self._records = records
        self._catalog = catalog
        self._routes: dict[tuple[_Shape, str], _Handler] = {
            (_Shape.COLLECTION, "GET"): self.query,
            (_Shape.COLLECTION, "POST"): self.create,
            (_Shape.RECORD, "GET"): self.retrieve,
            (_Shape.RECORD, "PATCH"): self.update,
            (_Shape.RECORD, "DELETE"): self.delete,
            (_Shape.COLLECTION_MEMBER, "GET"): self.count,
            (_Shape.COLLECTION_MEMBER, "POST"): self.bulk,
            (_Shape.RECORD_MEMBER, "GET"): self.read_property,
            (_Shape.RECORD_MEMBER, "PUT"): self.write_property,
            (_Shape.RECORD_MEMBER, "DELETE"): self.write_property,
        }

    def handle(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        """An entity-set request, by the shape of its path and its method."""
        segments = request.segments
        entity = self._catalog.by_entity_set(segments[0].name)
        if entity is None:
            raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=segments[0].name[:200])
        shape = _shape(segments)
        handler = self._routes.get((shape, request.method)) if shape is not None else None
        if handler is not None:
            return handler(request, caller, entity)
        if shape is not None and request.method in _METHODS:
            raise DataverseError(errors.METHOD_NOT_ALLOWED, method=request.method, segment=request.path[:200])
        raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=segments[-1].name[:200])

    # -- collections ----------------------------------------------------------------------------------------------
    def query(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        options, prefs = request.options, request.preferences
        check_projection(entity, options, self._catalog)
        page_size = prefs.max_page_size or MAX_PAGE_SIZE
        offset = _offset(options.skiptoken)
        if options.top is not None and prefs.max_page_size is not None:
            options = replace(options, top=None)  # Dataverse ignores $top when a page size is asked for
        page = self._records.query(caller, entity, options, page_size=page_size, offset=offset)
        value = self._render_all(caller, entity, page.rows, options, prefs)
        document: dict[str, Any] = {"@odata.context": _context(request, entity, options.select)}
        if page.count is not None:
            document["@odata.count"] = page.count
        document["value"] = value
        if page.more:
            document["@odata.nextLink"] = _next_link(request, entity, offset + len(page.rows), offset // page_size + 2)
        headers = {"Preference-Applied": prefs.applied()} if prefs.applied() else {}
        return json_response(document, headers=headers)

    def create(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        check_projection(entity, request.options, self._catalog)  # a bad $select fails before anything is written
        body = parse_body(entity, self._catalog, _json(request, entity), creating=True)
        row = self._records.create(caller, entity, body)
        return self._written(request, caller, entity, row, status_with_body=201)

    def count(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        if request.segments[1].name != "$count":
            raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=request.segments[1].name[:200])
        counted = replace(request.options, count=True)
        count = self._records.query(caller, entity, counted, page_size=1, offset=0).count
        return WebResponse(200, {"Content-Type": "text/plain"}, str(count or 0).encode())

    def bulk(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        """CreateMultiple, UpdateMultiple, UpsertMultiple: every target in one transaction."""
        action = request.segments[1].name
        message = action.removeprefix("Microsoft.Dynamics.CRM.")
        if message not in _BULK_MESSAGES:
            raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=action[:200])
        document = _json(request, entity)
        targets = document.get("Targets") if isinstance(document, dict) else None
        if not isinstance(targets, list) or not targets:
            raise DataverseError(errors.INVALID_ARGUMENT, detail=f"{message} needs a non-empty 'Targets' array.")
        if len(targets) > BULK_LIMIT:
            raise DataverseError(errors.INVALID_ARGUMENT, detail=f"{message} takes at most {BULK_LIMIT} records.")
        ids: list[str] = []
        with self._records.atomic():
            for target in targets:
                if not isinstance(target, dict):
                    raise DataverseError(errors.INVALID_ARGUMENT, detail="Each target must be a JSON object.")
            if message == "CreateMultiple":
                bodies = [parse_body(entity, self._catalog, target, creating=True) for target in targets]
                ids = self._records.create_many(caller, entity, bodies)
            for target in targets if message != "CreateMultiple" else ():
                key = _bulk_key(entity, target)
                fields = {k: v for k, v in target.items() if k not in (entity.primary_id, "@odata.id")}
                body = parse_body(entity, self._catalog, fields, creating=False)
                if message == "UpdateMultiple":
                    if key.guid is None:
                        raise DataverseError(
                            errors.INVALID_ARGUMENT,
                            detail=f"UpdateMultiple needs '{entity.primary_id}' on every target.",
                        )
                    saved = self._records.update(caller, entity, key, body, if_match="*")
                else:
                    saved = self._records.update(caller, entity, key, body)
                ids.append(str(saved.row[entity.primary_id]))
        if message == "CreateMultiple":
            context = f"{request.base_url}/$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
            return json_response({"@odata.context": context, "Ids": ids})
        return WebResponse(204)

    # -- single records -------------------------------------------------------------------------------------------
    def retrieve(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        options, prefs = request.options, request.preferences
        row = self._records.retrieve(caller, entity, request.segments[0])
        document = {"@odata.context": _context(request, entity, options.select, single=True)}
        document |= self._render_all(caller, entity, [row], options, prefs)[0]
        etag = document.get("@odata.etag")
        if request.if_none_match == etag and not options.expand and not prefs.annotations:
            return WebResponse(304)
        return json_response(document, headers={"ETag": str(etag)})

    def update(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        """PATCH: update, or create when the record is missing (upsert) unless a condition forbids it."""
        check_projection(entity, request.options, self._catalog)  # a bad $select fails before anything is written
        body = parse_body(entity, self._catalog, _json(request, entity), creating=False)
        saved = self._records.update(
            caller,
            entity,
            request.segments[0],
            body,
            if_match=request.if_match,
            if_none_match=request.if_none_match,
        )
        return self._written(request, caller, entity, saved.row, status_with_body=201 if saved.created else 200)

    def delete(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        self._records.delete(caller, entity, request.segments[0], if_match=request.if_match)
        return WebResponse(204)

    def _written(
        self,
        request: ApiRequest,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        row: Row,
        *,
        status_with_body: int,
    ) -> WebResponse:
        options, prefs = request.options, request.preferences
        location = f"{request.base_url}/{entity.entity_set_name}({row[entity.primary_id]})"
        if prefs.return_representation:
            document = {"@odata.context": _context(request, entity, options.select, single=True)}
            document |= self._render_all(caller, entity, [row], options, prefs)[0]
            return json_response(
                document, status=status_with_body, headers={"Preference-Applied": "return=representation"}
            )
        return WebResponse(204, {"OData-EntityId": location, "Location": location})

    # -- single columns and navigation properties -------------------------------------------------------------------
    def read_property(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        """``ES(key)/column`` → ``{"value": …}``; ``ES(key)/navigation`` → the related record(s)."""
        key, name = request.segments[0], request.segments[1].name
        attribute = entity.column(name)
        if attribute is None or attribute.type.is_lookup:
            navigation = bind_navigation(entity, name, self._catalog)
            row = self._records.retrieve(caller, entity, key)
            return self._navigate(request, caller, entity, row, navigation)
        row = self._records.retrieve(caller, entity, key)
        document = render_record(entity, row, select=[name], preferences=Preferences())
        context = f"{request.base_url}/$metadata#{entity.entity_set_name}({row[entity.primary_id]})/{name}"
        return json_response({"@odata.context": context, "value": document.get(name)})

    def write_property(self, request: ApiRequest, caller: AuthorizedCaller, entity: EntityDefinition) -> WebResponse:
        """``PUT ES(key)/column {"value": …}`` sets one column; ``DELETE ES(key)/column`` clears it."""
        key, name = request.segments[0], request.segments[1].name
        attribute = entity.column(name)
        if attribute is None or attribute.type.is_lookup:
            raise DataverseError(errors.PROPERTY_NOT_FOUND, name=name[:100], entity=entity.logical_name)
        if (
            not attribute.writable
            or attribute.is_primary_id
            or (attribute.type in (AttributeType.STATE, AttributeType.STATUS) and request.method == "DELETE")
        ):
            raise DataverseError(
                errors.INVALID_ARGUMENT, detail=f"The column '{name}' cannot be set or cleared this way."
            )
        value = None
        if request.method == "PUT":
            document = _json(request, entity)
            if not isinstance(document, dict) or "value" not in document:
                raise DataverseError(errors.INVALID_ARGUMENT, detail='Send the new value as {"value": …}.')
            value = to_column_value(entity, attribute, document["value"])
        self._records.update(caller, entity, key, RecordBody({name: value}), if_match="*")
        return WebResponse(204)

    def _navigate(
        self,
        request: ApiRequest,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        row: Row,
        navigation: Navigation,
    ) -> WebResponse:
        target, column = navigation.target, navigation.column
        options, prefs = request.options, request.preferences
        if navigation.cardinality is Cardinality.SINGLE:
            target_id = row.get(column)
            if target_id is None:
                return WebResponse(204)
            related = self._records.retrieve(
                caller, target, Segment(target.entity_set_name, guid=uuid.UUID(str(target_id)))
            )
            document = {"@odata.context": _context(request, target, options.select, single=True)}
            return json_response(document | self._render_all(caller, target, [related], options, prefs)[0])
        parent = str(row[entity.primary_id])
        if navigation.cardinality is Cardinality.ASSOCIATED:
            rows = self._records.associated_many(caller, navigation, [parent], options).get(parent.lower(), [])
        else:
            rows = self._records.related(caller, target, column, parent, options)
        value = self._render_all(caller, target, rows, options, prefs)
        return json_response({"@odata.context": _context(request, target, options.select), "value": value})

    def _render_all(
        self,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        rows: Sequence[Row],
        options: QueryOptions,
        prefs: Preferences,
    ) -> list[dict[str, Any]]:
        """Rows as the Web API shows them. Whatever they need from elsewhere is read for all of them at once: the
        lookups' names in one query per target table, each ``$expand`` in one query per level (not per row)."""
        names = self._records.lookup_names(caller, entity, rows, options.select) if prefs.wants(FORMATTED) else {}
        expansions = {
            expand.navigation: self._expand_all(caller, entity, rows, expand, prefs) for expand in options.expand
        }
        documents = []
        for row in rows:
            document = render_record(entity, row, select=options.select, preferences=prefs, lookup_names=names)
            row_id = str(row[entity.primary_id]).lower()
            for navigation, (values, empty) in expansions.items():
                document[navigation] = values.get(row_id, empty)
            documents.append(document)
        return documents

    def _expand_all(
        self,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        rows: Sequence[Row],
        expand: Expand,
        prefs: Preferences,
    ) -> tuple[dict[str, Any], Any]:
        """(row id → what ``expand`` shows for that row, what it shows for a row with nothing related)."""
        navigation = bind_navigation(entity, expand.navigation, self._catalog)
        target, column = navigation.target, navigation.column
        if navigation.cardinality is Cardinality.SINGLE:
            grant = caller.permissions.grant(Access.READ, target)
            lookup = entity.column(column)
            wanted: dict[str, str] = {}
            for row in rows:
                target_id = row.get(column)
                if target_id is None or (
                    lookup is not None
                    and len(lookup.targets) > 1
                    and row.get(lookup.type_column) != target.logical_name
                ):
                    continue
                wanted[str(row[entity.primary_id]).lower()] = str(target_id).lower()
            found = self._records.fetch_many(caller, target, set(wanted.values()))
            # a related record beyond the caller's Read depth is not shown
            visible = [r for r in found if grant.allows_row(target, r)]
            documents = self._render_all(caller, target, visible, expand.options, prefs)
            by_id = {str(r[target.primary_id]).lower(): d for r, d in zip(visible, documents, strict=True)}
            return {row_id: by_id.get(target_id) for row_id, target_id in wanted.items()}, None
        parents = [str(row[entity.primary_id]) for row in rows]
        if navigation.cardinality is Cardinality.ASSOCIATED:
            groups = self._records.associated_many(caller, navigation, parents, expand.options)
        else:
            groups = self._records.related_many(caller, target, column, parents, expand.options)
        children = [child for group in groups.values() for child in group]
        rendered = iter(self._render_all(caller, target, children, expand.options, prefs))
        return {parent: [next(rendered) for _ in group] for parent, group in groups.items()}, []


def _json(request: ApiRequest, entity: EntityDefinition) -> Any:
    try:
        return request.json()
    except ValueError as exc:
        raise DataverseError(errors.PAYLOAD_INVALID, entity_set=entity.entity_set_name, detail=str(exc)[:300]) from exc


def _bulk_key(entity: EntityDefinition, target: dict[str, Any]) -> Segment:
    record_id = target.get(entity.primary_id)
    if record_id is not None:
        try:
            return Segment(entity.entity_set_name, guid=uuid.UUID(str(record_id)))
        except ValueError:
            raise DataverseError(errors.INVALID_ARGUMENT, detail=f"'{entity.primary_id}' must be a GUID.") from None
    reference = target.get("@odata.id")
    if isinstance(reference, str) and "(" in reference:
        try:
            (segment,) = parse_resource_path(reference.rsplit("/", 1)[-1])
        except (PathSyntaxError, ValueError):
            raise DataverseError(
                errors.INVALID_ARGUMENT, detail=f"'@odata.id' is not a record reference: {reference[:200]}"
            ) from None
        return segment
    raise DataverseError(errors.INVALID_ARGUMENT, detail=f"Each target needs '{entity.primary_id}' or '@odata.id'.")


def _context(
    request: ApiRequest, entity: EntityDefinition, select: tuple[str, ...] | None, *, single: bool = False
) -> str:
    columns = f"({','.join(select)})" if select else ""
    return f"{request.base_url}/$metadata#{entity.entity_set_name}{columns}{'/$entity' if single else ''}"


def _offset(skiptoken: str | None) -> int:
    if skiptoken is None:
        return 0
    match = _SKIPTOKEN_OFFSET.search(unquote(unquote(skiptoken)))
    if match is None or len(match.group(1)) > 9:
        raise DataverseError(errors.QUERY_INVALID, detail="The $skiptoken is not one this server issued.")
    return int(match.group(1))


def _next_link(request: ApiRequest, entity: EntityDefinition, offset: int, page: int) -> str:
    """An absolute nextLink with a ``$skiptoken`` shaped like Dataverse's paging cookie (the SDK reads it)."""
    inner = quote(quote(f'<cookie page="{page - 1}" offset="{offset}" />', safe=""), safe="")
    cookie = f'<cookie pagenumber="{page}" pagingcookie="{inner}" istracking="False" />'
    kept = _SKIPTOKEN_PARAMETER.sub("", request.raw.query).lstrip("&")
    separator = "&" if kept else ""
    return f"{request.base_url}/{entity.entity_set_name}?{kept}{separator}$skiptoken={quote(cookie, safe='')}"
