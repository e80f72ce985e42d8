"""The Postman collection (format v2.1.0) and environment that ``d365local postman`` writes: pure data, no I/O.

It is the seed's Postman recipe done right, for d365local or a real org alike:

- the token request posts a **form** body (``application/x-www-form-urlencoded``) — the blog's
  ``Content-Type: application/json`` makes Entra answer 400 AADSTS900144 'grant_type' — to the v1 endpoint with
  ``resource`` and to the v2 endpoint with ``scope``; its test script keeps ``access_token`` and the instant it
  expires in variables;
- a collection-level pre-request script fetches a new token when there is none or it expires within 5 minutes
  (the client-credentials grant has no refresh token: the app simply asks again);
- WhoAmI and the account create / retrieve / update / delete requests send ``Authorization: Bearer
  {{accessToken}}`` and the OData headers.

Scripts write a variable to the active environment too when it defines one, because Postman resolves
``{{name}}`` from the environment before the collection: otherwise an imported environment's empty
``accessToken`` would hide the fresh one.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from d365local.client.clouds import is_microsoft_authority
from d365local.postman_scripts import CREATE_TEST, PRE_REQUEST, RETRIEVE_TEST, TOKEN_TEST, WHOAMI_TEST, status_test

__all__ = [
    "COLLECTION_SCHEMA",
    "VARIABLE_NAMES",
    "WEB_API_PATH",
    "PostmanValues",
    "build_collection",
    "build_environment",
    "is_microsoft_cloud",
]

COLLECTION_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
WEB_API_PATH = "/api/data/v9.2"
VARIABLE_NAMES = (
    "tenantId",
    "clientId",
    "clientSecret",
    "authority",
    "orgUrl",
    "webApiUrl",
    "accessToken",
    "accessTokenExpiresOn",
    "accountId",
)
_SECRET_VARIABLES = frozenset({"clientSecret", "accessToken"})


# Entra's sign-in hosts in the public and national clouds (the hosts msal knows without instance discovery).
@dataclass(frozen=True)
class PostmanValues:
    """What the variables start with. URLs carry no trailing slash; an empty secret leaves the file shareable."""

    tenant_id: str
    client_id: str
    client_secret: str
    authority: str
    org_url: str

    def variables(self) -> dict[str, str]:
        """Each variable's initial value, in the order Postman shows them."""
        return {
            "tenantId": self.tenant_id,
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "authority": self.authority.rstrip("/"),
            "orgUrl": self.org_url.rstrip("/"),
            "webApiUrl": "{{orgUrl}}" + WEB_API_PATH,
            "accessToken": "",
            "accessTokenExpiresOn": "",
            "accountId": "",
        }


def is_microsoft_cloud(authority: str) -> bool:
    """True for Entra's own sign-in hosts, whose certificates Postman already trusts; False for d365local."""
    return is_microsoft_authority(authority)


def _side(authority: str) -> str:
    return "Dynamics 365" if is_microsoft_cloud(authority) else "d365local"


# --- scripts (JavaScript run by Postman's sandbox) -------------------------------------------------------------


def _event(listen: str, source: str) -> dict[str, Any]:
    return {"listen": listen, "script": {"type": "text/javascript", "exec": source.splitlines()}}


def _url(raw: str) -> dict[str, Any]:
    """A URL the way Postman exports one: raw text plus host, path and query, so every importer reads it alike."""
    address, _, query = raw.partition("?")
    host, *path = address.split("/")
    url: dict[str, Any] = {"raw": raw, "host": [host], "path": path}
    if query:
        url["query"] = [
            {"key": key, "value": value} for key, _, value in (part.partition("=") for part in query.split("&"))
        ]
    return url


_ODATA = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
_BEARER = {"Authorization": "Bearer {{accessToken}}"}


def _web_api_request(
    name: str,
    method: str,
    path: str,
    description: str,
    test: str,
    *,
    body: dict[str, Any] | None = None,
    extra_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    headers = _BEARER | _ODATA | ({"Content-Type": "application/json"} if body is not None else {})
    request: dict[str, Any] = {
        "method": method,
        "header": [{"key": key, "value": value} for key, value in (headers | (extra_headers or {})).items()],
        "url": _url("{{webApiUrl}}/" + path),
        "description": description,
    }
    if body is not None:
        request["body"] = _json_body(body)
    return {"name": name, "event": [_event("test", test)], "request": request, "response": []}


def _json_body(document: dict[str, Any]) -> dict[str, Any]:
    return {"mode": "raw", "raw": json.dumps(document, indent=4), "options": {"raw": {"language": "json"}}}


def _token_request(name: str, version: str, target: tuple[str, str], description: str) -> dict[str, Any]:
    path = "oauth2/v2.0/token" if version == "v2" else "oauth2/token"
    form = [
        ("client_id", "{{clientId}}"),
        ("client_secret", "{{clientSecret}}"),
        target,
        ("grant_type", "client_credentials"),
    ]
    return {
        "name": name,
        "event": [_event("test", TOKEN_TEST)],
        "request": {
            "method": "POST",
            "header": [
                {"key": "Content-Type", "value": "application/x-www-form-urlencoded"},
                {"key": "Accept", "value": "application/json"},
            ],
            "body": {
                "mode": "urlencoded",
                "urlencoded": [{"key": key, "value": value, "type": "text"} for key, value in form],
            },
            "url": _url("{{authority}}/{{tenantId}}/" + path),
            "description": description,
        },
        "response": [],
    }


_GRANT_FOLDER_DESCRIPTION = (
    "The client-credentials grant, as the seed's Postman recipe meant it: POST the app's client id and secret "
    "as a **form** (`application/x-www-form-urlencoded`). The recipe's `Content-Type: application/json` makes "
    "Entra answer 400 AADSTS900144 'grant_type', because the token endpoint reads form bodies only.\n\n"
    "Each request's test script keeps the token in `accessToken` and its expiry in `accessTokenExpiresOn`. You "
    "rarely need to send these by hand: the collection's pre-request script fetches a token (v2 endpoint) "
    "whenever there is none or it expires within 5 minutes."
)


def _items() -> list[dict[str, Any]]:
    token_folder = {
        "name": "1. Get token",
        "description": _GRANT_FOLDER_DESCRIPTION,
        "item": [
            _token_request(
                "Get token (v1 endpoint, resource)",
                "v1",
                ("resource", "{{orgUrl}}"),
                "`POST {{authority}}/{{tenantId}}/oauth2/token` with `resource` = the org URL: the seed's request, "
                "with a form body.",
            ),
            _token_request(
                "Get token (v2 endpoint, scope)",
                "v2",
                ("scope", "{{orgUrl}}/.default"),
                "`POST {{authority}}/{{tenantId}}/oauth2/v2.0/token` with `scope` = `<org URL>/.default` (what msal "
                "and azure-identity send).",
            ),
        ],
    }
    whoami = _web_api_request(
        "2. WhoAmI",
        "GET",
        "WhoAmI",
        "Who the app is in Dynamics 365: its application user's UserId, BusinessUnitId and OrganizationId.",
        WHOAMI_TEST,
    )
    accounts = {
        "name": "3. Accounts (create, retrieve, update, delete)",
        "description": "Create an account, read it, change it and delete it. Create keeps the new row's id in "
        "`accountId`; run the requests in order (or the whole collection in the Collection Runner).",
        "item": [
            _web_api_request(
                "Create account",
                "POST",
                "accounts",
                "`Prefer: return=representation` returns the new row (201); without it Dataverse answers 204 with "
                "the row's URL in `OData-EntityId`. The test script reads the id either way.",
                CREATE_TEST,
                body={"name": "d365local Postman sample", "telephone1": "555-0100"},
                extra_headers={"Prefer": "return=representation"},
            ),
            _web_api_request(
                "Retrieve account",
                "GET",
                "accounts({{accountId}})?$select=name,telephone1",
                "Read the account back, two columns only.",
                RETRIEVE_TEST,
            ),
            _web_api_request(
                "Update account",
                "PATCH",
                "accounts({{accountId}})",
                "`If-Match: *` makes this an update only: without it a PATCH to a missing id would create the row.",
                status_test("the account was updated", 204),
                body={"name": "d365local Postman sample (updated)", "telephone1": "555-0101"},
                extra_headers={"If-Match": "*"},
            ),
            _web_api_request(
                "Delete account",
                "DELETE",
                "accounts({{accountId}})",
                "Delete the account.",
                status_test("the account was deleted", 204),
                extra_headers={"If-Match": "*"},
            ),
            _web_api_request(
                "Retrieve deleted account (404)",
                "GET",
                "accounts({{accountId}})?$select=name",
                "After the delete the row is gone: Dataverse answers 404.",
                status_test("the deleted account is gone", 404),
            ),
        ],
    }
    return [token_folder, whoami, accounts]


def _description(values: PostmanValues) -> str:
    secret_note = (
        "`clientSecret` is empty: paste the secret into its **current value** before sending."
        if not values.client_secret
        else "`clientSecret` holds the secret: do not share this file (`d365local postman --no-secret` leaves it out)."
    )
    return (
        "Dynamics 365 / Dataverse with the OAuth 2.0 client-credentials grant, for d365local or a real org: the "
        "same requests, only the variables differ.\n\n"
        "Variables: `tenantId` (Directory ID), `clientId` (Application ID), `clientSecret`, `authority` "
        "(https://login.microsoftonline.com, or d365local's https://localhost:PORT), `orgUrl` (the org URL, also "
        f"the token's resource), `webApiUrl` (`{{{{orgUrl}}}}{WEB_API_PATH}`), and what the scripts fill in: "
        "`accessToken`, `accessTokenExpiresOn`, `accountId`.\n\n" + secret_note
    )


def build_collection(values: PostmanValues, *, name: str | None = None) -> dict[str, Any]:
    """The collection document (Postman Collection Format v2.1.0) for ``values``.

    Its ``_postman_id`` derives from the org URL and client id, so importing a regenerated file offers to replace
    the earlier import instead of piling up copies.
    """
    variables = values.variables()
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{variables['orgUrl']}#{values.client_id}")),
            "name": name or f"Dynamics 365 client credentials ({variables['orgUrl']})",
            "description": _description(values),
            "schema": COLLECTION_SCHEMA,
        },
        "item": _items(),
        "event": [_event("prerequest", PRE_REQUEST)],
        "variable": [{"key": key, "value": value, "type": "string"} for key, value in variables.items()],
    }


def build_environment(values: PostmanValues, *, name: str | None = None) -> dict[str, Any]:
    """A Postman environment with the same variables; the secret and the token are marked secret (masked)."""
    variables = values.variables()
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{variables['orgUrl']}#{values.client_id}#environment")),
        "name": name or f"{_side(values.authority)} ({variables['orgUrl']})",
        "values": [
            {
                "key": key,
                "value": value,
                "type": "secret" if key in _SECRET_VARIABLES else "default",
                "enabled": True,
            }
            for key, value in variables.items()
        ],
        "_postman_variable_scope": "environment",
    }
