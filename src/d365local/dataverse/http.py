"""The Web API over HTTP: one catch-all route per organization under ``/api/data/v9.x/``.

Thin: find the org from the URL, authenticate and authorize the caller, dispatch on the resource path, render.
Every failure is a :class:`DataverseError` (``{"error":{"code","message"}}``) or an
:class:`UnauthenticatedError` (401 with ``WWW-Authenticate``); no input reaches a 500.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from d365local.dataverse import errors
from d365local.dataverse.callers import AuthorizedCaller, CallerResolver
from d365local.dataverse.errors import DataverseError, UnauthenticatedError
from d365local.dataverse.metadata import Catalog
from d365local.dataverse.model import Organization
from d365local.dataverse.storage import SecurityStore

API_VERSIONS = ("v9.0", "v9.1", "v9.2")
ORG_PATH_PREFIX = "/orgs/"
ODATA_JSON = "application/json; odata.metadata=minimal"


class WebApiHttp:
    def __init__(
        self,
        store: SecurityStore,
        callers: CallerResolver,
        catalog: Catalog,
        authority: Callable[[], str],
        *,
        before_request: Callable[[], object] = lambda: None,
    ) -> None:
        self._store = store
        self._callers = callers
        self._catalog = catalog
        self._authority = authority
        self._before_request = before_request

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
        return [
            Route("/api/data/{version}/{path:path}", self.handle, methods=methods),
            Route("/orgs/{org}/api/data/{version}/{path:path}", self.handle, methods=methods),
        ]

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        organization: Organization | None = None
        try:
            self._before_request()
            organization = self._organization(request)
            version = request.path_params["version"]
            if version not in API_VERSIONS:
                raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=version)
            caller = self._callers.resolve(organization, request.headers.get("authorization"))
            return self._dispatch(request, caller, version, request_id)
        except UnauthenticatedError as exc:
            return self._unauthorized(organization, exc, request_id)
        except DataverseError as exc:
            return error_response(exc, request_id)

    def _organization(self, request: Request) -> Organization:
        name = request.path_params.get("org")
        organizations = self._store.organizations()
        if name is None:
            authority = self._authority().rstrip("/")
            found = next((o for o in organizations if o.url.rstrip("/") == authority), None)
            segment = "api"
        else:
            found = next((o for o in organizations if o.name == name.lower()), None)
            segment = name
        if found is None:
            raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=segment[:200])
        return found

    def _dispatch(self, request: Request, caller: AuthorizedCaller, version: str, request_id: str) -> Response:
        path = request.path_params["path"]
        base = f"{caller.organization.url}/api/data/{version}"
        if path in ("WhoAmI", "WhoAmI()") and request.method == "GET":
            return json_response(
                {
                    "@odata.context": f"{base}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                    "BusinessUnitId": caller.permissions.user.business_unit_id,
                    "UserId": caller.user_id,
                    "OrganizationId": caller.organization.id,
                },
                request_id,
            )
        if path == "" and request.method == "GET":
            return json_response(
                {
                    "@odata.context": f"{base}/$metadata",
                    "value": [
                        {"name": e.entity_set_name, "kind": "EntitySet", "url": e.entity_set_name}
                        for e in self._catalog.entities
                    ],
                },
                request_id,
            )
        segment = path.split("/", 1)[0].split("(", 1)[0]
        raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=segment[:200])

    def _unauthorized(self, organization: Organization | None, exc: UnauthenticatedError, request_id: str) -> Response:
        headers = _headers(request_id)
        if organization is not None:
            authority = f"{self._authority().rstrip('/')}/{organization.tenant_id}/oauth2/authorize"
            headers["WWW-Authenticate"] = f"Bearer authorization_uri={authority}, resource_id={organization.url}/"
        # Dataverse sends no body; d365local adds the reason in a header so people and `doctor` can see it.
        headers["x-d365local-auth-error"] = exc.reason.encode("ascii", "replace").decode("ascii")[:300]
        return Response(status_code=401, headers=headers)


def _headers(request_id: str) -> dict[str, str]:
    return {"OData-Version": "4.0", "x-ms-service-request-id": request_id, "REQ_ID": request_id}


def json_response(document: Any, request_id: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
    return Response(body, status_code=status, media_type=ODATA_JSON, headers=_headers(request_id) | (headers or {}))


def error_response(error: DataverseError, request_id: str) -> Response:
    return json_response(
        {"error": {"code": error.code.code, "message": error.message}}, request_id, status=error.code.status
    )
