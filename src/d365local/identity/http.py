"""The token service and discovery over HTTP: thin Starlette routes that parse, call a use case and render.

Every failure is an :class:`IdentityError` rendered in Entra's shape by :meth:`IdentityHttp.error_response`;
no route lets bad input reach a 500.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from d365local.clock import Clock
from d365local.http_body import BodyTooLargeError, ClientGoneError, read_body
from d365local.identity import errors
from d365local.identity.directory import DirectoryReader
from d365local.identity.errors import IdentityError
from d365local.identity.model import Tenant
from d365local.identity.oauth import discovery
from d365local.identity.oauth.responses import error_body, no_store_headers, token_body
from d365local.identity.oauth.token_request import Endpoint, parse_token_request
from d365local.identity.signing import KeyRing
from d365local.identity.token_service import ORGANIZATIONS, TokenEndpointContext, TokenService, resolve_tenant
from d365local.urls import canonical_url

log = logging.getLogger("d365local.identity")
MAX_BODY_BYTES = 64 * 1024
"""Token requests are a few hundred bytes (a few KB with an x5c chain); anything far larger is refused with 413."""
_TEMPLATE_TENANTS = frozenset({"common", ORGANIZATIONS, "consumers"})
_DISCOVERY_HEADERS = {"Cache-Control": "max-age=86400, private", "Access-Control-Allow-Origin": "*"}
_TOKEN_PATHS = {Endpoint.V1: "oauth2/token", Endpoint.V2: "oauth2/v2.0/token"}


class _EntraJSONResponse(JSONResponse):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class IdentityHttp:
    """Routes of the Entra-compatible endpoints, bound to the token service and the published keys."""

    def __init__(
        self,
        tokens: TokenService,
        directory: DirectoryReader,
        keys: Callable[[], KeyRing],
        authority: Callable[[], str],
        clock: Clock,
        *,
        before_request: Callable[[], object] = lambda: None,
    ) -> None:
        self._tokens = tokens
        self._directory = directory
        self._keys = keys
        self._authority = authority
        self._clock = clock
        self._before_request = before_request

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/common/discovery/instance", self.instance_discovery, methods=["GET"]),
            Route("/common/discovery/keys", self.jwks_v1, methods=["GET"]),
            Route("/common/discovery/v2.0/keys", self.jwks_v2, methods=["GET"]),
            Route("/{tenant}/discovery/keys", self.jwks_v1, methods=["GET"]),
            Route("/{tenant}/discovery/v2.0/keys", self.jwks_v2, methods=["GET"]),
            Route("/{tenant}/.well-known/openid-configuration", self.openid_v1, methods=["GET"]),
            Route("/{tenant}/v2.0/.well-known/openid-configuration", self.openid_v2, methods=["GET"]),
            Route(
                "/{tenant}/oauth2/token", self.token_v1, methods=["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"]
            ),
            Route(
                "/{tenant}/oauth2/v2.0/token",
                self.token_v2,
                methods=["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"],
            ),
        ]

    # -- token endpoint --------------------------------------------------------------------------------------------
    async def token_v1(self, request: Request) -> Response:
        return await self._token(request, Endpoint.V1)

    async def token_v2(self, request: Request) -> Response:
        return await self._token(request, Endpoint.V2)

    async def _token(self, request: Request, endpoint: Endpoint) -> Response:
        trace_id = str(uuid.uuid4())
        try:
            if request.method == "OPTIONS":
                return Response(status_code=200, headers={"Allow": "POST, OPTIONS", **no_store_headers(trace_id)})
            if request.method != "POST":
                raise IdentityError(errors.POST_ONLY, method=request.method)
            body = await _read_limited(request)
            self._before_request()
            self._tokens.check_tenant(request.path_params["tenant"])
            token_request = parse_token_request(
                endpoint, body, request.headers.get("content-type"), request.headers.get("authorization")
            )
            context = TokenEndpointContext(request.path_params["tenant"], self._assertion_audience_ok)
            issued = self._tokens.issue(context, token_request)
        except IdentityError as error:
            return self.error_response(request, error, trace_id)
        except Exception:  # a bug, not bad input: Entra's shape, details only in the log (never the request body)
            log.exception("unexpected error in %s %s (trace %s)", request.method, request.url.path, trace_id)
            return self.error_response(request, IdentityError(errors.SERVER_ERROR), trace_id)
        headers = no_store_headers(trace_id)
        if request.headers.get("x-client-current-telemetry"):
            headers["x-ms-clitelem"] = "1,0,0,,"
        return _EntraJSONResponse(token_body(endpoint, issued), headers=headers)

    def _assertion_audience_ok(self, tenant: Tenant, audience: str) -> bool:
        """A client assertion's ``aud`` must name this token endpoint: v1 or v2, by GUID or domain, any loopback."""
        wanted = canonical_url(audience)
        authority = self._authority()
        names = [tenant.id, *(d.name for d in tenant.domains)]
        return wanted is not None and any(
            wanted == canonical_url(f"{authority}/{name}/{path}") for name in names for path in _TOKEN_PATHS.values()
        )

    # -- discovery -------------------------------------------------------------------------------------------------
    async def openid_v1(self, request: Request) -> Response:
        return self._discovery(request, discovery.openid_configuration_v1)

    async def openid_v2(self, request: Request) -> Response:
        return self._discovery(request, discovery.openid_configuration_v2)

    def _discovery(self, request: Request, render: Callable[[str, str, str | None], dict[str, Any]]) -> Response:
        trace_id = str(uuid.uuid4())
        segment = request.path_params["tenant"]
        try:
            tenant_id = self._tenant_id_for_discovery(segment)
        except IdentityError as error:
            return self.error_response(request, error, trace_id)
        path_tenant = segment.lower() if tenant_id == discovery.MULTI_TENANT else None
        return _EntraJSONResponse(render(self._authority(), tenant_id, path_tenant), headers=_DISCOVERY_HEADERS)

    def _tenant_id_for_discovery(self, segment: str) -> str:
        if segment.lower() in _TEMPLATE_TENANTS:
            return discovery.MULTI_TENANT
        self._before_request()
        return resolve_tenant(self._directory, segment).id

    async def jwks_v1(self, request: Request) -> Response:
        return self._jwks(request, v2=False)

    async def jwks_v2(self, request: Request) -> Response:
        return self._jwks(request, v2=True)

    def _jwks(self, request: Request, *, v2: bool) -> Response:
        trace_id = str(uuid.uuid4())
        try:
            segment = request.path_params.get("tenant")
            if segment is not None:
                self._tenant_id_for_discovery(segment)
            self._before_request()
            keys = self._keys().public_jwks()
        except IdentityError as error:
            return self.error_response(request, error, trace_id)
        return _EntraJSONResponse(discovery.jwks(keys, v2=v2), headers=_DISCOVERY_HEADERS)

    async def instance_discovery(self, request: Request) -> Response:
        """msal's instance discovery: this server is the only instance it knows."""
        authority = self._authority()
        host = authority.split("://", 1)[-1].split("/", 1)[0]
        tenant = "common"
        endpoint = request.query_params.get("authorization_endpoint", "")
        segments = endpoint.split("://", 1)[-1].split("/")
        if len(segments) > 1 and segments[1]:
            tenant = segments[1]
        return _EntraJSONResponse(discovery.instance_discovery(authority, host, tenant), headers=_DISCOVERY_HEADERS)

    # -- errors ------------------------------------------------------------------------------------------------
    def error_response(self, request: Request, error: IdentityError, trace_id: str) -> Response:
        correlation_id = _correlation_id(request)
        body = error_body(error, trace_id=trace_id, correlation_id=correlation_id, now=self._clock.now())
        return _EntraJSONResponse(body, status_code=error.code.status, headers=no_store_headers(trace_id))


async def _read_limited(request: Request) -> bytes:
    try:
        return await read_body(request, MAX_BODY_BYTES)
    except BodyTooLargeError as exc:
        raise IdentityError(errors.REQUEST_TOO_LARGE) from exc
    except ClientGoneError as exc:
        raise IdentityError(errors.INVALID_INPUT) from exc


def _correlation_id(request: Request) -> str:
    """Entra echoes a GUID ``client-request-id``; otherwise it makes one up."""
    given = request.headers.get("client-request-id", "")
    try:
        return str(uuid.UUID(given))
    except ValueError:
        return str(uuid.uuid4())
