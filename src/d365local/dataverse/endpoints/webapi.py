"""Dispatch of one Web API request (from HTTP or from a ``$batch`` part) for an authorized caller.

The request is parsed once (:func:`parse_request`), then routed by its path and method through one table: the
service's own resources first, then entity sets (``RecordEndpoints`` routes those by the shape of the path).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from d365local.clock import Clock
from d365local.dataverse import errors
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.domain.records import Records
from d365local.dataverse.domain.storage import CustomizationStore, SecurityStore
from d365local.dataverse.endpoints.api_request import ApiRequest, parse_request
from d365local.dataverse.endpoints.associations import Associations, is_reference_path
from d365local.dataverse.endpoints.batch_endpoint import BatchEndpoint
from d365local.dataverse.endpoints.bulk_delete import BulkDelete
from d365local.dataverse.endpoints.metadata_endpoints import MetadataEndpoints, is_metadata_segment
from d365local.dataverse.endpoints.metadata_writes import MetadataWrites
from d365local.dataverse.endpoints.record_endpoints import RecordEndpoints
from d365local.dataverse.endpoints.role_association import NAVIGATION as ROLE_NAVIGATION
from d365local.dataverse.endpoints.role_association import RoleAssociation
from d365local.dataverse.endpoints.web_request import WebRequest, WebResponse, error_response, json_response
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.csdl import csdl_document
from d365local.dataverse.odata.resource_path import Segment
from d365local.dataverse.schema.metadata import Catalog

Handler = Callable[[ApiRequest, AuthorizedCaller], WebResponse]
ANY_METHOD = "*"
_WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    """Requests whose path ``matches``, handled by method (:data:`ANY_METHOD`: the handler checks the method)."""

    name: str
    matches: Callable[[tuple[Segment, ...]], bool]
    methods: Mapping[str, Handler]


def _only(name: str) -> Callable[[tuple[Segment, ...]], bool]:
    """A path that is exactly one keyless segment ``name``."""
    return lambda segments: len(segments) == 1 and segments[0].name == name and not segments[0].has_key


def _starts_with(*names: str) -> Callable[[tuple[Segment, ...]], bool]:
    return lambda segments: bool(segments) and segments[0].name in names


class WebApi:
    """The Web API of every organization. Each organization has its own catalog (its custom tables); the endpoints
    are bound to one catalog and built once per catalog object, which stays the same until that schema changes."""

    def __init__(
        self, records: Records, security: SecurityStore, customizations: CustomizationStore, clock: Clock
    ) -> None:
        self._records_domain = records
        self._security = security
        self._writes = MetadataWrites(customizations)
        self._clock = clock
        self._lock = threading.Lock()
        self._bound: weakref.WeakKeyDictionary[Catalog, _BoundApi] = weakref.WeakKeyDictionary()

    def _bound_to(self, catalog: Catalog) -> _BoundApi:
        with self._lock:
            bound = self._bound.get(catalog)
            if bound is None:
                bound = self._bound[catalog] = _BoundApi(
                    self.handle, self._records_domain, self._security, self._writes, catalog
                )
            return bound

    def handle(self, raw: WebRequest, caller: AuthorizedCaller) -> WebResponse:
        try:
            return self._dispatch(parse_request(raw), caller)
        except DataverseError as exc:
            return error_response(exc)
        except RecursionError:
            return error_response(DataverseError(errors.QUERY_INVALID, detail="The request is nested too deeply."))

    def _dispatch(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        return self._bound_to(caller.catalog).dispatch(request, caller)


class _BoundApi:
    """The routes of one catalog: the service's own resources first, then entity sets."""

    def __init__(
        self,
        handle: Callable[[WebRequest, AuthorizedCaller], WebResponse],
        records: Records,
        security: SecurityStore,
        writes: MetadataWrites,
        catalog: Catalog,
    ) -> None:
        self._catalog = catalog
        self._records = RecordEndpoints(records, catalog)
        metadata = MetadataEndpoints(catalog)
        batch = BatchEndpoint(handle, records, catalog)
        roles = RoleAssociation(security, catalog)
        self._csdl = csdl_document(catalog)
        self._routes = (
            Route("service document", lambda segments: not segments, {"GET": self._service_document}),
            Route("$batch", _only("$batch"), {"POST": batch.handle}),
            Route("WhoAmI", _only("WhoAmI"), {"GET": self._who_am_i}),
            Route("$metadata", _only("$metadata"), {"GET": self._metadata_document}),
            Route(
                "table definitions",
                lambda s: bool(s) and is_metadata_segment(s[0].name),
                {"GET": metadata.handle, **dict.fromkeys(_WRITES, writes.handle)},
            ),
            Route("CreateEntities", _only("CreateEntities"), {"POST": writes.handle}),
            Route(
                "role association",
                lambda s: len(s) >= 2 and s[0].name == "systemusers" and s[1].name == ROLE_NAVIGATION,
                {ANY_METHOD: roles.handle},
            ),
            Route("BulkDelete", _only("BulkDelete"), {"POST": BulkDelete(records, catalog).handle}),
            Route("association", is_reference_path, {ANY_METHOD: Associations(records, catalog).handle}),
        )

    def dispatch(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        for route in self._routes:
            if route.matches(request.segments):
                handler = route.methods.get(request.method) or route.methods.get(ANY_METHOD)
                if handler is None:
                    raise DataverseError(errors.METHOD_NOT_ALLOWED, method=request.method, segment=request.path[:200])
                return handler(request, caller)
        return self._records.handle(request, caller)

    def _service_document(self, request: ApiRequest, _caller: AuthorizedCaller) -> WebResponse:
        value = [
            {"name": e.entity_set_name, "kind": "EntitySet", "url": e.entity_set_name} for e in self._catalog.entities
        ]
        return json_response({"@odata.context": f"{request.base_url}/$metadata", "value": value})

    def _metadata_document(self, _request: ApiRequest, _caller: AuthorizedCaller) -> WebResponse:
        return WebResponse(200, {"Content-Type": "application/xml"}, self._csdl)

    def _who_am_i(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        return json_response(
            {
                "@odata.context": f"{request.base_url}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": caller.permissions.user.business_unit_id,
                "UserId": caller.user_id,
                "OrganizationId": caller.organization.id,
            }
        )
