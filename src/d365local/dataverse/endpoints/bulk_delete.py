"""``BulkDelete``: delete the records a set of QueryExpressions selects, run at once (Dataverse queues a job)."""

from __future__ import annotations

import uuid
from typing import Any

from d365local.dataverse import errors
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.domain.records import Records
from d365local.dataverse.endpoints.api_request import ApiRequest
from d365local.dataverse.endpoints.web_request import WebResponse, json_response
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.resource_path import Segment
from d365local.dataverse.schema.metadata import Catalog


class BulkDelete:
    def __init__(self, records: Records, catalog: Catalog) -> None:
        self._records = records
        self._catalog = catalog

    def handle(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
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
