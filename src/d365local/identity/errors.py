"""The AADSTS error catalogue: every error the token service can answer, defined once.

Each entry carries the AADSTS number, the OAuth 2 ``error`` value, the HTTP status and Entra's message text
(docs/reference/entra.md, "AADSTS codes d365local answers").
Raising :class:`IdentityError` with an entry and its parameters is the only way the
identity side reports a failure; ``oauth.responses`` renders it in Entra's JSON shape.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AadstsCode:
    """One row of the catalogue."""

    number: int
    error: str
    template: str
    status: int = 400
    hint: str = ""
    """One line naming the setup step that fixes it (shown by the CLI, never sent on the wire)."""

    def message(self, **params: object) -> str:
        return f"AADSTS{self.number}: {self.template.format(**params)}"


def _client(number: int, template: str, hint: str = "") -> AadstsCode:
    # RFC 6749 §5.2: invalid_client answers 401; everything else 400.
    return AadstsCode(number, "invalid_client", template, 401, hint)


_WRONG_TENANT = (
    "This can happen if the application has not been installed by the administrator of the tenant or consented to "
    "by any user in the tenant. You may have sent your authentication request to the wrong tenant."
)
_ASSERTION_DOCS = (
    "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
)

TENANT_NOT_FOUND = AadstsCode(
    90002,
    "invalid_tenant",
    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct "
    "cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for "
    "the tenant.",
    hint="Use the Directory (tenant) ID or a verified domain: `d365local tenant list`.",
)
MALFORMED_TENANT = AadstsCode(
    900023,
    "invalid_request",
    "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain.",
    hint="The tenant is the Directory (tenant) ID GUID or a domain such as contoso.onmicrosoft.com.",
)
COMMON_ENDPOINT = AadstsCode(
    9001023,
    "invalid_request",
    "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or "
    "tenant-specific endpoint.",
    hint="Client credentials need a tenant-specific URL: /<tenant id>/oauth2/token.",
)
APP_NOT_FOUND = AadstsCode(
    700016,
    "unauthorized_client",
    "Application with identifier '{client_id}' was not found in the directory '{tenant_name}'. " + _WRONG_TENANT,
    hint="Check the Application (client) ID and the tenant: `d365local app list --tenant T`.",
)
APP_DISABLED = AadstsCode(
    7000112,
    "unauthorized_client",
    "Application '{app_id}'({app_name}) is disabled.",
    hint="Enable the app: `d365local app enable --tenant T --app ID`.",
)
INVALID_SECRET = _client(
    7000215,
    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the "
    "client secret ID, for a secret added to app '{app_id}'.",
    "Send the secret's Value (shown once by `app secret add`), not its Secret ID; add a new one if it is lost.",
)
SECRET_EXPIRED = _client(
    7000222,
    "The provided client secret keys for app '{app_id}' are expired. Visit the Azure portal to create new keys for "
    "your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: "
    "https://aka.ms/certCreds.",
    "The secret has expired: `d365local app secret add --tenant T --app ID`.",
)
NO_CREDENTIAL = _client(
    7000218,
    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    "Send client_secret (or a certificate's client_assertion) in the form body or an HTTP Basic header.",
)
MISSING_PARAMETER = AadstsCode(
    900144,
    "invalid_request",
    "The request body must contain the following parameter: '{name}'.",
    hint="The token endpoint takes a form body: Content-Type: application/x-www-form-urlencoded, not JSON.",
)
DUPLICATED_PARAMETER = AadstsCode(
    9000411,
    "invalid_request",
    "The request is not properly formatted. The parameter '{name}' is duplicated.",
    hint="Send each parameter once.",
)
INVALID_INPUT = AadstsCode(
    90013,
    "invalid_request",
    "Invalid input received from the user.",
    hint="Send a UTF-8, application/x-www-form-urlencoded body.",
)
REQUEST_TOO_LARGE = AadstsCode(
    90015,
    "invalid_request",
    "Requested query string is too long.",
    status=413,
    hint="Token requests are a few hundred bytes; check what the client is sending.",
)
VALUE_TOO_LONG = AadstsCode(
    90015,
    "invalid_request",
    "Requested query string is too long.",
    hint="A parameter is far longer than any id, secret or URL; check what the client is sending.",
)
POST_ONLY = AadstsCode(
    900561,
    "invalid_request",
    "The endpoint only accepts POST, OPTIONS requests. Received a {method} request.",
    hint="POST the token request as a form body.",
)
UNSUPPORTED_GRANT = AadstsCode(
    70003,
    "unsupported_grant_type",
    "The app requested an unsupported grant type '{grant_type}'.",
    hint="Use grant_type=client_credentials.",
)
SCOPE_MISSING = AadstsCode(
    90014,
    "invalid_request",
    "The required field 'scope' is missing from the credential. Ensure that you have all the necessary parameters "
    "for the login request.",
    hint="The v2 endpoint takes scope=<org URL>/.default (the v1 endpoint takes resource=<org URL>).",
)
ASSERTION_CLAIM_MISSING = AadstsCode(
    90014,
    "invalid_request",
    "The required field '{name}' is missing from the credential. Ensure that you have all the necessary parameters "
    "for the login request.",
    hint="A client assertion needs iss, sub, aud, exp and jti claims.",
)
RESOURCE_ON_V2 = AadstsCode(
    901002,
    "invalid_request",
    "The 'resource' request parameter isn't supported.",
    hint="On /oauth2/v2.0/token send scope=<org URL>/.default instead of resource.",
)
SCOPE_NOT_DEFAULT = AadstsCode(
    1002012,
    "invalid_scope",
    "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with "
    "/.default suffixed to the resource identifier (application ID URI).",
    hint="Use scope=<org URL>/.default.",
)
SCOPE_INVALID = AadstsCode(
    70011,
    "invalid_scope",
    "The provided request must include a 'scope' input parameter. The provided value for the input parameter "
    "'scope' is not valid. The scope {scope} is not valid.",
    hint="Request exactly one resource: scope=<org URL>/.default.",
)
RESOURCE_NOT_FOUND = AadstsCode(
    500011,
    "invalid_resource",
    "The resource principal named {resource} was not found in the tenant named {tenant_name}. This can happen if "
    "the application has not been installed by the administrator of the tenant or consented to by any user in the "
    "tenant. You might have sent your authentication request to the wrong tenant.",
    hint="The resource is the org URL exactly (https, no path): `d365local org list`.",
)
NOT_ASSIGNED = AadstsCode(
    501051,
    "invalid_grant",
    "Application '{app_id}'({app_name}) is not assigned to a role for the application '{resource}'({resource_name}).",
)
ASSERTION_KEY_NOT_FOUND = _client(
    700027,
    "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - "
    "The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph "
    "Explorer or directly use MS Graph to see configured keys for app Id '{app_id}'. Review the documentation at "
    "https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and "
    "https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query "
    "request URL, such as 'https://graph.microsoft.com/beta/applications/{app_id}']. Alternatively, SNI may be "
    "configured on the app. Please ensure that client assertion is being sent with the x5c claim in the JWT header "
    "using MSAL's WithSendX5C() method so that Azure Active Directory can validate the certificate being used.",
    "Upload the certificate: `d365local app cert add --tenant T --app ID --cert FILE`.",
)
ASSERTION_SIGNATURE = _client(
    700027,
    "Client assertion contains an invalid signature. [Reason - Key was found, but use of the key to verify the "
    "signature failed., Thumbprint of key used by client: '{thumbprint}', Found key 'Start={start}, End={end}']",
    "Sign the assertion with the private key of the certificate whose thumbprint is in its header.",
)
ASSERTION_KEY_EXPIRED = _client(
    700027,
    "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by "
    "client: '{thumbprint}', Found key 'Start={start}, End={end}']",
    "The certificate has expired: upload a new one with `d365local app cert add`.",
)
ASSERTION_TIME = _client(
    700024,
    "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry "
    "time of assertion {exp}. " + _ASSERTION_DOCS,
    "Make a fresh assertion (exp a few minutes ahead) and check the machine's clock.",
)
ASSERTION_LIFETIME = _client(
    700024,
    "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry "
    "time of assertion {exp}. The assertion lifetime must not exceed {limit} seconds. " + _ASSERTION_DOCS,
    "Keep the assertion short-lived: exp 5-10 minutes after iat.",
)
ASSERTION_AUDIENCE = _client(
    700023,
    "Client assertion audience claim does not match Realm issuer. " + _ASSERTION_DOCS,
    "The assertion's aud must be the token endpoint URL: <authority>/<tenant>/oauth2/v2.0/token.",
)
ASSERTION_CLIENT_MISMATCH = _client(
    700021,
    "Client assertion application identifier doesn't match 'client_id' parameter. " + _ASSERTION_DOCS,
    "The assertion's iss and sub must be the Application (client) ID.",
)
ASSERTION_SUBJECT_MISMATCH = _client(
    50048,
    "Subject must match the issuer claim in the client assertion.",
    "The assertion's iss and sub must both be the Application (client) ID.",
)
ASSERTION_NO_THUMBPRINT = _client(
    5002723,
    "Invalid JWT token. No certificate SHA-1 thumbprint, certificate SHA-256 thumbprint, nor keyId specified in "
    "token header.",
    "Put the certificate's thumbprint in the assertion header (x5t or x5t#S256).",
)
ASSERTION_MALFORMED = AadstsCode(
    50027,
    "invalid_request",
    "JWT token is invalid or malformed.",
    hint="The client_assertion must be a signed JWT (header.payload.signature).",
)
ASSERTION_ALGORITHM = _client(
    5002738,
    "Invalid JWT token. '{alg}' is not a supported signature algorithm. Supported signing algorithms are: "
    "'RS256,RS384,RS512'",
    "Sign the assertion with RS256 (and x5t) or PS256 (and x5t#S256).",
)
ASSERTION_TYPE = AadstsCode(
    90011,
    "invalid_request",
    "Unexpected client assertion type.",
    hint="client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
)
ASSERTION_REPLAYED = _client(
    7000299,
    "Client assertion was already used: its identifier (jti) '{jti}' has been presented before. Each assertion must "
    "carry a new jti.",
    "The server runs with --reject-assertion-replay: create a new assertion (new jti) for every request.",
)
SERVER_ERROR = AadstsCode(
    90033,
    "temporarily_unavailable",
    "A transient error has occurred. Please try again.",
    status=503,
    hint="This is a d365local bug: the server log has the details.",
)
INVALID_INSTANCE = AadstsCode(
    50049,
    "invalid_instance",
    "Unknown or invalid instance.",
)


class IdentityError(Exception):
    """A token-service failure that is answered in Entra's error shape."""

    def __init__(self, code: AadstsCode, **params: object) -> None:
        self.code = code
        self.params = params
        super().__init__(code.message(**params))

    @property
    def message(self) -> str:
        return str(self)


CATALOGUE: tuple[AadstsCode, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, AadstsCode))
