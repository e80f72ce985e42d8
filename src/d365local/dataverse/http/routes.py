"""The Web API over HTTP: one catch-all route per organization under ``/api/data/v9.x/``.

Thin: find the org from the URL, read the body (bounded), authenticate and authorize the caller, hand a
:class:`WebRequest` to :class:`WebApi`, render. Failures are :class:`DataverseError` (``{"error":{"code","message"}}``)
or :class:`UnauthenticatedError` (401 with ``WWW-Authenticate``); no input reaches a 500.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from d365local.dataverse import errors
from d365local.dataverse.domain.callers import CallerResolver
from d365local.dataverse.domain.faults import RequestFaults, injected_throttle
from d365local.dataverse.domain.model import Organization
from d365local.dataverse.domain.service_protection import Limits, ServiceProtection, ThrottledError
from d365local.dataverse.domain.storage import SecurityStore
from d365local.dataverse.endpoints.web_request import MAX_BODY_BYTES, WebRequest, WebResponse, error_response
from d365local.dataverse.endpoints.webapi import WebApi
from d365local.dataverse.errors import DataverseError, UnauthenticatedError
from d365local.http_body import BodyTooLargeError, ClientGoneError, read_body

log = logging.getLogger("d365local.dataverse")
API_VERSIONS = ("v9.0", "v9.1", "v9.2")
_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


class WebApiHttp:
    def __init__(
        self,
        store: SecurityStore,
        callers: CallerResolver,
        webapi: WebApi,
        authority: Callable[[], str],
        protection: ServiceProtection | None,
        *,
        token_authority: Callable[[], str] | None = None,
        before_request: Callable[[], object] = lambda: None,
        faults: RequestFaults | None = None,
    ) -> None:
        self._store = store
        self._faults = faults
        self._callers = callers
        self._webapi = webapi
        self._protection = protection
        self._token_authority = token_authority or authority
        """The authority named in ``WWW-Authenticate`` (this server, or ``serve --authority``)."""
        self._authority = authority
        self._before_request = before_request

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/data/{version}/{path:anypath}", self.handle, methods=_METHODS),
            Route("/orgs/{org}/api/data/{version}/{path:anypath}", self.handle, methods=_METHODS),
        ]

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        organization: Organization | None = None
        try:
            self._before_request()
            organization = self._organization(request)
            version = request.path_params["version"]
            if version not in API_VERSIONS:
                raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=version[:50])
            caller = self._callers.resolve(organization, request.headers.get("authorization"))
            if self._faults is not None:
                fault = self._faults.take_webapi_fault(organization.id, caller.permissions.user.application_id)
                if fault is not None:
                    limits = self._protection.limits if self._protection is not None else Limits()
                    raise injected_throttle(fault, limits)
            body = await _read_body(request)
            web_request = WebRequest(
                method=request.method,
                path=request.path_params["path"],
                query=request.url.query,
                headers=_headers(request),
                body=body,
                base_url=f"{organization.url}/api/data/{version}",
            )
            # Record work (a page of 5000, a $batch) can take a while: run it in a worker thread so the event
            # loop keeps serving other requests, token requests included.
            if self._protection is None or not organization.throttling:
                result = await run_in_threadpool(self._webapi.handle, web_request, caller)
            else:
                with self._protection.admit(f"{organization.id}/{caller.user_id}"):
                    result = await run_in_threadpool(self._webapi.handle, web_request, caller)
        except UnauthenticatedError as exc:
            return self._unauthorized(organization, exc, request_id)
        except ThrottledError as exc:
            result = error_response(exc)
            result.headers["Retry-After"] = str(exc.retry_after)
        except DataverseError as exc:
            result = error_response(exc)
        except Exception:  # a bug, not bad input: answer in Dataverse's shape and keep the details in the log
            log.exception("unexpected error in %s %s (request %s)", request.method, request.url.path, request_id)
            result = error_response(DataverseError(errors.UNEXPECTED, request_id=request_id))
        return _response(result, request_id)

    def _organization(self, request: Request) -> Organization:
        name = request.path_params.get("org")
        organizations = self._store.organizations()
        if name is None:
            authority = self._authority().rstrip("/")
            found = next((o for o in organizations if o.url.rstrip("/") == authority), None)
        else:
            found = next((o for o in organizations if o.name == name.lower()), None)
        if found is None:
            raise DataverseError(errors.SEGMENT_NOT_FOUND, segment=(name or "api")[:200])
        return found

    def _unauthorized(self, organization: Organization | None, exc: UnauthenticatedError, request_id: str) -> Response:
        headers = _standard_headers(request_id)
        if organization is not None:
            authority = f"{self._token_authority().rstrip('/')}/{organization.tenant_id}/oauth2/authorize"
            headers["WWW-Authenticate"] = f"Bearer authorization_uri={authority}, resource_id={organization.url}/"
        # Dataverse sends no body; d365local adds the reason in a header so people and `doctor` can see it.
        headers["x-d365local-auth-error"] = exc.reason.encode("ascii", "replace").decode("ascii")[:300]
        return Response(status_code=401, headers=headers)


class _AnyPath(Convertor[str]):
    """Like Starlette's ``path`` but also matching newlines, so every /api/data/ URL reaches the Web API."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anypath", _AnyPath())


def _headers(request: Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


async def _read_body(request: Request) -> bytes:
    try:
        return await read_body(request, MAX_BODY_BYTES)
    except BodyTooLargeError as exc:
        raise DataverseError(errors.REQUEST_TOO_LARGE, limit=MAX_BODY_BYTES) from exc
    except ClientGoneError as exc:
        raise DataverseError(errors.INVALID_ARGUMENT, detail="The client disconnected while sending the body.") from exc


def _standard_headers(request_id: str) -> dict[str, str]:
    return {"OData-Version": "4.0", "x-ms-service-request-id": request_id, "REQ_ID": request_id}


def _response(result: WebResponse, request_id: str) -> Response:
    return Response(result.body, status_code=result.status, headers=_standard_headers(request_id) | result.headers)
