"""Associating records through navigation properties (``$ref``), as the Web API documents it:

- N:N: ``POST ES(id)/nav/$ref {"@odata.id": "<record URL>"}`` associates, ``DELETE ES(id)/nav(<other id>)/$ref``
  or ``DELETE ES(id)/nav/$ref?$id=<record URL>`` disassociates (either side's navigation property works);
- 1:N from the parent: the same requests set or clear the child's lookup;
- a lookup: ``PUT ES(id)/lookup/$ref {"@odata.id": …}`` sets it, ``DELETE ES(id)/lookup/$ref`` clears it.

All answer 204. (Users' security roles have their own rules: ``role_association``.)
"""

from __future__ import annotations

from typing import Any

from d365local.dataverse import errors
from d365local.dataverse.domain.binding.projection import Cardinality, Navigation, bind_navigation
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.domain.records import Records
from d365local.dataverse.endpoints.api_request import ApiRequest
from d365local.dataverse.endpoints.web_request import WebResponse
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.payloads import Binding, RecordBody, record_reference
from d365local.dataverse.odata.resource_path import Segment
from d365local.dataverse.schema.metadata import Catalog, EntityDefinition


def is_reference_path(segments: tuple[Segment, ...]) -> bool:
    """``ES(key)/navigation[(key)]/$ref``."""
    return len(segments) == 3 and segments[0].has_key and segments[2].name == "$ref" and not segments[2].has_key


class Associations:
    def __init__(self, records: Records, catalog: Catalog) -> None:
        self._records = records
        self._catalog = catalog

    def handle(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        key, member = request.segments[0], request.segments[1]
        entity = self._catalog.by_entity_set(key.name)
        if entity is None:
            raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=key.name[:200])
        navigation = bind_navigation(entity, member.name, self._catalog)
        match (navigation.cardinality, request.method, member.has_key):
            case (Cardinality.ASSOCIATED, "POST", False):
                other = self._target(navigation, self._posted(request))
                self._records.associate(caller, entity, key, navigation, other)
            case (Cardinality.ASSOCIATED, "DELETE", _):
                other = self._target(navigation, self._removed(request, navigation, member))
                self._records.associate(caller, entity, key, navigation, other, remove=True)
            case (Cardinality.COLLECTION, "POST", False):
                child = self._target(navigation, self._posted(request))
                self._set_lookup(caller, navigation.target, child, navigation.column, entity, key)
            case (Cardinality.COLLECTION, "DELETE", _):
                child = self._target(navigation, self._removed(request, navigation, member))
                self._set_lookup(caller, navigation.target, child, navigation.column, entity, None)
            case (Cardinality.SINGLE, "PUT", False):
                parent = self._target(navigation, self._posted(request))
                self._set_lookup(caller, entity, key, navigation.column, navigation.target, parent)
            case (Cardinality.SINGLE, "DELETE", False):
                self._set_lookup(caller, entity, key, navigation.column, navigation.target, None)
            case _:
                raise DataverseError(errors.METHOD_NOT_ALLOWED, method=request.method, segment=request.path[:200])
        return WebResponse(204)

    def _set_lookup(
        self,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        key: Segment,
        lookup: str,
        target: EntityDefinition,
        target_key: Segment | None,
    ) -> None:
        binding = (
            Binding(lookup, target.logical_name)
            if target_key is None
            else Binding(
                lookup,
                target.logical_name,
                record_id=str(target_key.guid) if target_key.guid else None,
                key=target_key.named,
            )
        )
        self._records.update(caller, entity, key, RecordBody(bindings=(binding,)), if_match="*")

    def _posted(self, request: ApiRequest) -> str:
        document: Any
        try:
            document = request.json()
        except ValueError:
            document = None
        reference = document.get("@odata.id") if isinstance(document, dict) else None
        if not isinstance(reference, str):
            raise DataverseError(
                errors.INVALID_ARGUMENT, detail='Send the record to associate as {"@odata.id": "<record URL>"}.'
            )
        return reference

    def _removed(self, request: ApiRequest, navigation: Navigation, member: Segment) -> str | Segment:
        if member.has_key:
            return Segment(navigation.target.entity_set_name, guid=member.guid, named=member.named)
        if request.options.id is None:
            raise DataverseError(
                errors.INVALID_ARGUMENT,
                detail="Name the record to disassociate: …/<navigation>(<id>)/$ref or …/$ref?$id=<record URL>.",
            )
        return request.options.id

    def _target(self, navigation: Navigation, reference: str | Segment) -> Segment:
        if isinstance(reference, Segment):
            return reference
        found = record_reference(self._catalog, reference)
        if isinstance(found, str) or found[0].logical_name != navigation.target.logical_name:
            raise DataverseError(
                errors.INVALID_ARGUMENT,
                detail=f"The @odata.id must name a {navigation.target.logical_name} record, like "
                f'"{navigation.target.entity_set_name}(<id>)".',
            )
        return found[1]
