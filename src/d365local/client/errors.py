"""Client errors. ``AuthenticationError`` carries Entra's AADSTS code and a one-line hint of the setup step that
fixes it (the hints are the client's own: it works against the real cloud and never imports server code)."""

from __future__ import annotations

import re

_AADSTS = re.compile(r"AADSTS(\d+)")
HINTS: dict[int, str] = {
    90002: "The tenant was not found: use the Directory (tenant) ID or a verified domain, and the right cloud.",
    900023: "The tenant is a GUID or a domain such as contoso.onmicrosoft.com.",
    700016: "The app was not found in that tenant: check the Application (client) ID and the tenant.",
    7000215: "Send the secret's Value (shown once when it was created), not its Secret ID.",
    7000222: "The client secret has expired: create a new one.",
    7000218: "No credential was sent: pass a client secret or a certificate.",
    900144: "The token endpoint takes a form body (application/x-www-form-urlencoded), not JSON.",
    500011: "The resource must be the org URL exactly (https, no path, right region such as crm vs crm4).",
    1002012: "Client credentials need scope=<org URL>/.default.",
    70011: "Request exactly one resource: scope=<org URL>/.default.",
    700027: "The certificate is not registered on the app (or the assertion was signed with another key).",
    700024: "The client assertion expired or is not valid yet: check the machine's clock.",
    7000112: "The app registration is disabled.",
    9001023: "Client credentials need a tenant-specific authority, not /common.",
}


# Dataverse hex codes whose fix is a setup step. Worded for the real cloud and for d365local alike.
DATAVERSE_HINTS: dict[str, str] = {
    "0x80072560": "The app has no application user in this org: Power Platform admin center → Environment → "
    "Settings → Users + permissions → Application users → New app user (d365local: `d365local appuser create`).",
    "0x80040225": "The application user is disabled: enable it in the admin center (d365local: `d365local appuser "
    "enable`).",
    "0x80042f09": "The application user has no security role: assign one, e.g. System Administrator (d365local: "
    "`d365local role assign`).",
    "0x80040220": "A role of the application user lacks the privilege named in the message: add it to a role or "
    "assign a role that has it.",
    "0x80072321": "Service protection limit: wait for Retry-After seconds and send fewer or smaller requests.",
    "0x80072322": "Service protection limit: wait for Retry-After seconds and send fewer or smaller requests.",
    "0x80072326": "Service protection limit: wait for Retry-After seconds and send fewer or smaller requests.",
}


class ClientError(Exception):
    """Root of d365local.client's errors."""


class DataverseApiError(ClientError):
    """The Web API refused the request: HTTP status, Dataverse hex code (``0x80040217``…) and message."""

    def __init__(
        self, status: int, code: str, message: str, *, auth_error: str = "", retry_after: int | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        """On 429/503: the seconds the service asked to wait (``Retry-After``), when it said."""
        self.code = code
        self.message = message
        self.auth_error = auth_error
        """On 401: why the token was refused (d365local's ``x-d365local-auth-error``, else ``WWW-Authenticate``)."""
        self.hint = DATAVERSE_HINTS.get(code.lower(), "")
        super().__init__(f"HTTP {status} {code}: {message}".replace("  ", " ").strip())


class AuthenticationError(ClientError):
    """The token endpoint refused the request."""

    def __init__(self, error: str, description: str, *, status: int, correlation_id: str | None = None) -> None:
        match = _AADSTS.search(description)
        self.error = error
        self.description = description.split("\r\n", 1)[0]
        self.code: int | None = int(match.group(1)) if match else None
        self.status = status
        self.correlation_id = correlation_id
        self.hint = HINTS.get(self.code or 0, "")
        message = f"{error}: {self.description}" + (f"\nhint: {self.hint}" if self.hint else "")
        super().__init__(message)
