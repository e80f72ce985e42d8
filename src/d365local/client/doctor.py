"""``doctor``: walk the client-credentials chain step by step and say where it breaks, and why.

Settings → org URL shape → the authority over TLS → the tenant (OpenID discovery) → the token request → the
token's claims → the two clocks → WhoAmI → one read. Each step is a :class:`Check`; the walk stops at the first
failure, whose ``detail`` says what went wrong in plain words and whose ``fix`` names the setup step that repairs it
(see :mod:`d365local.client.diagnosis`). Works against d365local and the real Microsoft cloud alike: only httpx and
PyJWT, with the transport, TLS trust and clock injected so tests need neither a network nor a wall clock.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import jwt

from d365local.client import diagnosis
from d365local.client.credentials import ClientCertificate
from d365local.client.diagnosis import Diagnosis, TokenContext, Transport, WebApiContext
from d365local.client.errors import AuthenticationError
from d365local.client.token_protocol import request_form, token_endpoint

ENTRA_AUTHORITY = "https://login.microsoftonline.com"
WEB_API_PATH = "/api/data/v9.2"
Verify = ssl.SSLContext | str | bool


@dataclass(frozen=True)
class Check:
    """One step of the chain: what was checked, whether it passed, what was seen and (on failure) the fix."""

    step: str
    ok: bool
    detail: str
    fix: str = ""

    @classmethod
    def failed(cls, step: str, found: Diagnosis) -> Check:
        return cls(step, False, found.detail, found.fix)

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class DoctorSettings:
    """What the chain is walked with: the same settings an integration uses."""

    tenant: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    certificate: ClientCertificate | None = field(default=None, repr=False)
    """Instead of the secret: a client assertion signed with this certificate's key."""
    org_url: str = ""
    authority: str = ENTRA_AUTHORITY
    body: Literal["form", "json"] = "form"
    """``json`` sends the token request the way the blog's Postman recipe does, to show why that fails."""
    endpoint: Literal["v1", "v2"] = "v2"
    entity_set: str = "accounts"
    trust: str = ""
    """Where TLS trust comes from, in words (e.g. ``REQUESTS_CA_BUNDLE=/path``); only used in explanations."""


def transport_kind(error: httpx.TransportError) -> Transport:
    """Classify a failure that produced no HTTP answer, from the exception chain and then its text."""
    if isinstance(error, httpx.TimeoutException):
        return Transport.TIMEOUT
    scheme = _scheme_of(error)
    if scheme == "http" and isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
        return Transport.PLAIN_HTTP_TO_TLS  # a TLS server hangs up on a plaintext request without answering
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return Transport.TLS
        if scheme == "https" and isinstance(seen, ssl.SSLError) and _PLAINTEXT_REPLY.search(str(seen)):
            return Transport.TLS_TO_PLAIN_HTTP
        if isinstance(seen, ConnectionRefusedError):
            return Transport.REFUSED
        if isinstance(seen, socket.gaierror):
            return Transport.UNKNOWN_HOST
        seen = seen.__cause__ or seen.__context__
    text = str(error)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return Transport.TLS
    if "refused" in text.lower() or "Errno 111" in text:
        return Transport.REFUSED
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return Transport.UNKNOWN_HOST
    return Transport.OTHER


_PLAINTEXT_REPLY = re.compile(r"WRONG_VERSION_NUMBER|record layer failure|http request|packet length too long", re.I)
"""What OpenSSL says when the other end answers a TLS hello in plain HTTP."""


def _scheme_of(error: httpx.TransportError) -> str:
    try:
        return error.request.url.scheme
    except RuntimeError:  # raised before a request existed
        return ""


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        document = response.json()
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


class Doctor:
    """Walks the chain once per :meth:`checks` / :meth:`run` call."""

    def __init__(
        self,
        settings: DoctorSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        verify: Verify = True,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._verify = verify
        self._clock = clock
        self._timeout = timeout

    def run(self) -> list[Check]:
        """Every check up to and including the first failure."""
        return list(self.checks())

    def checks(self) -> Iterator[Check]:
        """The checks one by one, as they complete (for live output); stops after the first failure."""
        with httpx.Client(transport=self._transport, verify=self._verify, timeout=self._timeout) as http:
            walk = _Walk(self._settings, http, self._clock)
            for step in (
                walk.settings,
                walk.org_url,
                walk.reach_authority,
                walk.find_tenant,
                walk.get_token,
                walk.read_claims,
                walk.compare_clocks,
                walk.who_am_i,
                walk.read,
            ):
                check = step()
                yield check
                if not check.ok:
                    return


class _Walk:
    """One walk's state: each method is a step and may use what earlier steps found."""

    def __init__(self, settings: DoctorSettings, http: httpx.Client, clock: Callable[[], float]) -> None:
        self.s = settings
        self.http = http
        self.now = clock
        self.authority = settings.authority.strip().rstrip("/") or ENTRA_AUTHORITY
        self.org = settings.org_url.strip().rstrip("/")
        self.local = diagnosis.is_local(self.authority)
        self.discovery: httpx.Response | None = None
        self.tenant_id = ""
        self.token_body: dict[str, Any] = {}
        self.claims: dict[str, Any] = {}
        self.sent_at = 0.0

    # -- before any request ----------------------------------------------------------------------------------------
    def settings(self) -> Check:
        wanted = (
            ("--tenant", "AZURE_TENANT_ID", self.s.tenant),
            ("--client-id", "AZURE_CLIENT_ID", self.s.client_id),
            ("--client-secret", "AZURE_CLIENT_SECRET", self.s.client_secret or ("x" if self.s.certificate else "")),
            ("--url", "DATAVERSE_URL", self.s.org_url),
        )
        missing = [(flag, variable) for flag, variable, value in wanted if not value.strip()]
        if missing:
            return Check.failed("settings", diagnosis.missing_settings(missing))
        problem = diagnosis.authority_problem(self.authority)
        if problem is not None:
            return Check.failed("settings", problem)
        if self.s.certificate is not None:
            credential = (
                f"certificate {self.s.certificate.thumbprint} ({'PS256' if self.s.certificate.sha256 else 'RS256'})"
            )
        else:
            credential = f"secret {_secret_hint(self.s.client_secret)}"
        return Check(
            "settings",
            True,
            f"tenant {self.s.tenant}, client id {self.s.client_id}, {credential}, authority {self.authority}",
        )

    def org_url(self) -> Check:
        problem = diagnosis.org_url_problem(self.s.org_url)
        if problem is not None:
            return Check.failed("org URL", problem)
        return Check("org URL", True, f"{self.org} (the resource; the Web API is {self.org}{WEB_API_PATH}/)")

    # -- Entra ID ----------------------------------------------------------------------------------------------------
    def reach_authority(self) -> Check:
        url = f"{self.authority}/{self.s.tenant}/v2.0/.well-known/openid-configuration"
        try:
            self.discovery = self.http.get(url)
        except httpx.TransportError as error:
            return Check.failed("authority", self._unreachable(error, self.authority))
        return Check("authority", True, f"{self.authority} answered over verified TLS")

    def find_tenant(self) -> Check:
        assert self.discovery is not None
        document = _json_object(self.discovery) or {}
        if self.discovery.status_code == 200 and "token_endpoint" in document:
            # The path's first segment, whatever host the document names (it may be another alias of the server).
            self.tenant_id = urlsplit(str(document["token_endpoint"])).path.strip("/").split("/")[0]
            known = f"tenant {self.tenant_id}" + (f" ({self.s.tenant})" if self.s.tenant != self.tenant_id else "")
            return Check("tenant", True, f"{known} exists at {self.authority} (OpenID discovery)")
        failure = AuthenticationError(
            str(document.get("error", "")), str(document.get("error_description", "")), status=0
        )
        if failure.code == 90002:
            return Check.failed(
                "tenant", diagnosis.tenant_not_found(self.s.tenant, self.authority, failure.description)
            )
        return Check(
            "tenant",
            False,
            f"OpenID discovery for {self.s.tenant} answered HTTP {self.discovery.status_code}"
            + (f": {failure.description}" if failure.description else ""),
            "Check the authority (https://login.microsoftonline.com for the public cloud; d365local: "
            "AZURE_AUTHORITY_HOST in credentials.env) and the tenant (Directory ID or verified domain).",
        )

    def get_token(self) -> Check:
        v2 = self.s.endpoint == "v2"
        url = token_endpoint(self.authority, self.s.tenant, v2=v2)
        before = self.now()
        if self.s.certificate is not None:
            fields = self.s.certificate.fields(self.s.client_id, url, before)
        else:
            fields = {"client_secret": self.s.client_secret}
        form = request_form(self.s.client_id, self.org, fields, v2=v2)
        try:
            if self.s.body == "json":
                response = self.http.post(url, content=json.dumps(form), headers={"Content-Type": "application/json"})
            else:
                response = self.http.post(url, data=form, headers={"Accept": "application/json"})
        except httpx.TransportError as error:
            return Check.failed("token", self._unreachable(error, self.authority))
        self.sent_at = (before + self.now()) / 2
        body = _json_object(response)
        if body is None:
            return Check(
                "token", False, f"{url} answered HTTP {response.status_code} without JSON", "Check the authority."
            )
        if response.status_code == 200 and "access_token" in body:
            self.token_body = body
            how = "resource" if not v2 else "scope"
            what = "a certificate assertion" if self.s.certificate is not None else "a client secret"
            return Check(
                "token",
                True,
                f"HTTP 200 from {url} ({how} {form.get('resource') or form.get('scope')}, {what}, form body)",
            )
        failure = AuthenticationError(
            str(body.get("error", "")), str(body.get("error_description", "")), status=response.status_code
        )
        sent = TokenContext(
            self.s.tenant, self.s.client_id, self.s.client_secret, self.org, self.authority, self.s.body == "json"
        )
        return Check.failed("token", diagnosis.token_error(failure.code, failure.description, sent))

    def read_claims(self) -> Check:
        try:
            self.claims = jwt.decode(str(self.token_body["access_token"]), options={"verify_signature": False})
        except jwt.PyJWTError as error:
            return Check(
                "token claims", False, f"the access token is not a JWT: {error}", "Check the authority is Entra ID."
            )
        claims = self.claims
        aud = str(claims.get("aud", ""))
        if aud.rstrip("/").lower() != self.org.lower():
            return Check.failed("token claims", diagnosis.audience_mismatch(aud, self.org))
        expires = datetime.fromtimestamp(float(claims.get("exp", 0)), UTC)
        left = int(float(claims.get("exp", 0)) - self.now()) // 60
        roles = ", ".join(claims.get("roles", [])) or "none (Dataverse authorizes the application user instead)"
        return Check(
            "token claims",
            True,
            f"aud {aud}, appid {claims.get('appid') or claims.get('azp')}, tid {claims.get('tid')}, roles {roles}, "
            f"expires {expires:%Y-%m-%d %H:%M:%S}Z (in {left} min)",
        )

    def compare_clocks(self) -> Check:
        expires_in = self.token_body.get("expires_in")
        if expires_in is None or "exp" not in self.claims:
            return Check("clock", True, "not compared: the token response has no expires_in")
        issuer_now = float(self.claims["exp"]) - float(expires_in)
        skew = issuer_now - self.sent_at
        problem = diagnosis.clock_skew(skew, local=self.local)
        if problem is not None:
            return Check.failed("clock", problem)
        return Check(
            "clock", True, f"this machine and the issuer agree within {max(1, round(abs(skew)))} s (exp − expires_in)"
        )

    # -- Dataverse ---------------------------------------------------------------------------------------------------
    def who_am_i(self) -> Check:
        response = self._web_api("WhoAmI")
        if isinstance(response, Check):
            return response
        if response.status_code == 200:
            body = _json_object(response) or {}
            return Check(
                "WhoAmI",
                True,
                f"UserId {body.get('UserId')}, BusinessUnitId {body.get('BusinessUnitId')}, "
                f"OrganizationId {body.get('OrganizationId')}",
            )
        return self._refused("WhoAmI", response)

    def read(self) -> Check:
        step = f"read {self.s.entity_set}"
        response = self._web_api(f"{self.s.entity_set}?$top=1", step)
        if isinstance(response, Check):
            return response
        if response.status_code == 200:
            rows = (_json_object(response) or {}).get("value", [])
            count = len(rows) if isinstance(rows, list) else 0
            return Check(step, True, f"GET {self.s.entity_set}?$top=1 returned {count} row(s)")
        return self._refused(step, response)

    def _web_api(self, path: str, step: str = "WhoAmI") -> httpx.Response | Check:
        headers = {
            "Authorization": f"Bearer {self.token_body['access_token']}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        }
        try:
            return self.http.get(f"{self.org}{WEB_API_PATH}/{path}", headers=headers)
        except httpx.TransportError as error:
            return Check.failed(step, self._unreachable(error, self.org))

    def _refused(self, step: str, response: httpx.Response) -> Check:
        called = WebApiContext(
            self.org, self.s.client_id, self.authority, str(self.claims.get("tid", "")), self.s.entity_set
        )
        if response.status_code == 401:
            reason = response.headers.get("x-d365local-auth-error", "")
            challenge = response.headers.get("WWW-Authenticate", "")
            return Check.failed(step, diagnosis.unauthorized(reason or challenge, challenge, called))
        error = (_json_object(response) or {}).get("error")
        error = error if isinstance(error, dict) else {}
        message = str(error.get("message") or response.text[:300] or response.reason_phrase)
        return Check.failed(
            step, diagnosis.web_api_error(response.status_code, str(error.get("code", "")), message, called)
        )

    def _unreachable(self, error: httpx.TransportError, url: str) -> Diagnosis:
        return diagnosis.transport_failure(
            transport_kind(error), url, str(error) or type(error).__name__, trust=self.s.trust, local=self.local
        )


def _secret_hint(secret: str) -> str:
    """Like Entra's own hint (its first three characters), and only for a secret long enough to keep it secret."""
    return f"{secret[:3]}… ({len(secret)} characters)" if len(secret) > 8 else f"({len(secret)} characters)"
