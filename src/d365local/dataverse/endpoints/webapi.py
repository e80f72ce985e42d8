"""Dispatch of one Web API request (from HTTP or from a ``$batch`` part) for an authorized caller."""

from __future__ import annotations

import uuid
from typing import Any

from d365local.clock import Clock
from d365local.dataverse import errors
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.domain.records import Records
from d365local.dataverse.domain.storage import SecurityStore
from d365local.dataverse.endpoints.batch_endpoint import BatchEndpoint
from d365local.dataverse.endpoints.metadata_endpoints import MetadataEndpoints, is_metadata_segment
from d365local.dataverse.endpoints.record_endpoints import RecordEndpoints
from d365local.dataverse.endpoints.role_association import NAVIGATION as ROLE_NAVIGATION
from d365local.dataverse.endpoints.role_association import RoleAssociation
from d365local.dataverse.endpoints.web_request import WebRequest, WebResponse, error_response, json_response
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.csdl import csdl_document
from d365local.dataverse.odata.resource_path import PathSyntaxError, Segment, parse_resource_path
from d365local.dataverse.schema.metadata import Catalog


class WebApi:
    def __init__(self, records: Records, security: SecurityStore, catalog: Catalog, clock: Clock) -> None:
        self._catalog = catalog
        self._clock = clock
        self._records = records
        self._record_endpoints = RecordEndpoints(records, catalog)
        self._metadata = MetadataEndpoints(catalog)
        self._batch = BatchEndpoint(self.handle, records, catalog)
        self._role_association = RoleAssociation(security, catalog)
        self._csdl = csdl_document(catalog)

    def handle(self, request: WebRequest, caller: AuthorizedCaller) -> WebResponse:
        try:
            return self._dispatch(request, caller)
        except DataverseError as exc:
            return error_response(exc)
        except RecursionError:
            return error_response(DataverseError(errors.QUERY_INVALID, detail="The request is nested too deeply."))

    def _dispatch(self, request: WebRequest, caller: AuthorizedCaller) -> WebResponse:
        try:
            segments = parse_resource_path(request.path)
        except PathSyntaxError as exc:
            raise DataverseError(errors.QUERY_INVALID, detail=str(exc)) from exc
        if not segments:
            if request.method != "GET":
                raise DataverseError(errors.METHOD_NOT_ALLOWED, method=request.method, segment="")
            return self._service_document(request)
        first = segments[0].name
        if first == "$batch" and len(segments) == 1 and request.method == "POST":
            return self._batch.handle(request, caller)
        if first == "WhoAmI" and len(segments) == 1 and request.method == "GET":
            return self._who_am_i(request, caller)
        if first == "$metadata" and len(segments) == 1 and request.method == "GET":
            return WebResponse(200, {"Content-Type": "application/xml"}, self._csdl)
        if is_metadata_segment(first):
            return self._metadata.handle(request, segments)
        if first == "systemusers" and len(segments) >= 2 and segments[1].name == ROLE_NAVIGATION:
            return self._role_association.handle(request, caller, segments)
        if first == "BulkDelete" and request.method == "POST":
            return self._bulk_delete(request, caller)
        if first in ("CreateEntities", "RetrieveMetadataChanges"):
            raise DataverseError(errors.NOT_SUPPORTED, feature=f"The {first} message")
        return self._record_endpoints.handle(request, caller, segments)

    def _service_document(self, request: WebRequest) -> WebResponse:
        value = [
            {"name": e.entity_set_name, "kind": "EntitySet", "url": e.entity_set_name} for e in self._catalog.entities
        ]
        return json_response({"@odata.context": f"{request.base_url}/$metadata", "value": value})

    def _who_am_i(self, request: WebRequest, caller: AuthorizedCaller) -> WebResponse:
        return json_response(
            {
                "@odata.context": f"{request.base_url}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": caller.permissions.user.business_unit_id,
                "UserId": caller.user_id,
                "OrganizationId": caller.organization.id,
            }
        )

    def _bulk_delete(self, request: WebRequest, caller: AuthorizedCaller) -> WebResponse:
        """BulkDelete, run synchronously: each QuerySet's conditions select the records to delete."""
        try:
            document = request.json()
        except ValueError as exc:
            raise DataverseError(errors.INVALID_ARGUMENT, detail=str(exc)[:300]) from exc
        query_set = document.get("QuerySet") if isinstance(document, dict) else None
        if not isinstance(query_set, list) or not query_set:
            raise DataverseError(errors.INVALID_ARGUMENT, detail="BulkDelete needs a 'QuerySet' of QueryExpressions.")
        with self._records.atomic():
            for expression in query_set:
                for entity_name, record_id in self._bulk_targets(expression):
                    entity = self._catalog.by_logical_name(entity_name)
                    if entity is None:
                        raise DataverseError(
                            errors.INVALID_ARGUMENT, detail=f"Unknown table '{entity_name}' in BulkDelete."
                        )
                    key = Segment(entity.entity_set_name, guid=uuid.UUID(record_id))
                    if self._records.locate(caller, entity, key) is not None:
                        self._records.delete(caller, entity, key)
        return json_response({"JobId": str(uuid.uuid4())})

    def _bulk_targets(self, expression: Any) -> list[tuple[str, str]]:
        """(table, id) pairs of a QueryExpression whose criteria select records by primary id (``In`` / ``Equal``)."""
        if not isinstance(expression, dict) or not isinstance(expression.get("EntityName"), str):
            raise DataverseError(errors.INVALID_ARGUMENT, detail="Each BulkDelete query needs an 'EntityName'.")
        entity = self._catalog.by_logical_name(expression["EntityName"])
        criteria = expression.get("Criteria") or {}
        conditions = criteria.get("Conditions") or [] if isinstance(criteria, dict) else None
        if not isinstance(conditions, list):
            raise DataverseError(
                errors.INVALID_ARGUMENT, detail="'Criteria' must be an object with a 'Conditions' list."
            )
        targets: list[tuple[str, str]] = []
        for condition in conditions:
            if (
                entity is None
                or not isinstance(condition, dict)
                or condition.get("AttributeName") != entity.primary_id
                or condition.get("Operator") not in ("In", "Equal")
            ):
                raise DataverseError(
                    errors.NOT_SUPPORTED, feature="BulkDelete criteria other than '<primary id> In/Equal [ids]'"
                )
            values = condition.get("Values") or []
            if not isinstance(values, list):
                raise DataverseError(errors.INVALID_ARGUMENT, detail="A condition's 'Values' must be a list.")
            for value in values:
                raw = value.get("Value") if isinstance(value, dict) else value
                try:
                    targets.append((entity.logical_name, str(uuid.UUID(str(raw)))))
                except ValueError:
                    raise DataverseError(errors.INVALID_ARGUMENT, detail=f"'{str(raw)[:60]}' is not a GUID.") from None
        return targets
