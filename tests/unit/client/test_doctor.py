"""``doctor``'s rules and step runner against a mock Entra ID + Dataverse (recorded-shaped bodies, injected clock)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs

import httpx
import jwt
import pytest

from d365local.client import diagnosis
from d365local.client.diagnosis import Transport
from d365local.client.doctor import Check, Doctor, DoctorSettings, transport_kind

NOW = 1_800_000_000.0
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "5bef00f5-0b5f-4a4b-b1a5-c0ffee000001"
SECRET = "lku8Q~XDu.FEtHHiC~FFLWL5z1XrZuqXVJSKNNZP"
ORG = "https://contoso.crm4.dynamics.com"
ENTRA = "https://login.microsoftonline.com"
LOCAL = "https://localhost:5443"
SETTINGS = DoctorSettings(tenant=TENANT, client_id=APP, client_secret=SECRET, org_url=ORG, authority=ENTRA)
STEPS = ["settings", "org URL", "authority", "tenant", "token", "token claims", "clock", "WhoAmI", "read accounts"]


def entra_error(error: str, code: int, text: str, status: int = 400) -> httpx.Response:
    """Entra's error body as recorded (docs/reference/entra.md, "Error responses"), Trace ID suffix included."""
    trace = "0f7bd2d4-6a0e-4c19-a9b0-4b8b5f0c1a00"
    return httpx.Response(
        status,
        json={
            "error": error,
            "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {trace}\r\n"
            "Timestamp: 2027-01-15 08:00:00Z",
            "error_codes": [code],
            "timestamp": "2027-01-15 08:00:00Z",
            "trace_id": trace,
            "correlation_id": trace,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )


def dataverse_error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}}, headers={"OData-Version": "4.0"})


def access_token(*, aud: str = ORG, issued: float = NOW) -> str:
    claims = {
        "aud": aud,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": int(issued) - 300,
        "nbf": int(issued) - 300,
        "exp": int(issued) + 3600,
        "appid": APP,
        "appidacr": "1",
        "tid": TENANT,
        "ver": "1.0",
        "idtyp": "app",
    }
    return jwt.encode(claims, "not-verified-by-doctor-at-all-32b", algorithm="HS256")


@dataclass
class Cloud:
    """A mock Entra ID + Dataverse: each endpoint's answer can be replaced; every request is recorded."""

    authority: str = ENTRA
    org: str = ORG
    discovery: httpx.Response | None = None
    token: Callable[[httpx.Request], httpx.Response] | None = None
    who_am_i: httpx.Response | None = None
    read: httpx.Response | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url)
        if url == f"{self.authority}/{TENANT}/v2.0/.well-known/openid-configuration":
            return self.discovery or httpx.Response(
                200,
                json={
                    "token_endpoint": f"{self.authority}/{TENANT}/oauth2/v2.0/token",
                    "issuer": f"{self.authority}/{TENANT}/v2.0",
                },
            )
        if url.startswith(f"{self.authority}/{TENANT}/oauth2/"):
            if self.token is not None:
                return self.token(request)
            return httpx.Response(
                200,
                json={
                    "token_type": "Bearer",
                    "expires_in": 3599,
                    "ext_expires_in": 3599,
                    "access_token": access_token(aud=self.org),
                },
            )
        if url == f"{self.org}/api/data/v9.2/WhoAmI":
            return self.who_am_i or httpx.Response(
                200, json={"BusinessUnitId": "b", "UserId": "u", "OrganizationId": "o"}
            )
        if url.startswith(f"{self.org}/api/data/v9.2/"):
            return self.read or httpx.Response(200, json={"value": [{"accountid": "a"}]})
        return httpx.Response(404)


def walk(cloud: Cloud, settings: DoctorSettings = SETTINGS, clock: Callable[[], float] = lambda: NOW) -> list[Check]:
    return Doctor(settings, transport=httpx.MockTransport(cloud), clock=clock).run()


def failure(checks: list[Check], step: str) -> Check:
    """The walk stopped at ``step``, which failed; every earlier step passed."""
    assert [c.step for c in checks][-1] == step, checks
    assert all(c.ok for c in checks[:-1])
    assert not checks[-1].ok
    assert checks[-1].fix
    return checks[-1]


# -- the runner -------------------------------------------------------------------------------------------------------
def test_all_good_is_every_step_passed() -> None:
    checks = walk(Cloud())
    assert [c.step for c in checks] == STEPS
    assert all(c.ok for c in checks)
    assert "aud https://contoso.crm4.dynamics.com" in checks[5].detail
    assert f"appid {APP}" in checks[5].detail
    assert "in 60 min" in checks[5].detail
    assert checks[-1].detail == "GET accounts?$top=1 returned 1 row(s)"
    assert checks[0].to_json() == {"step": "settings", "ok": True, "detail": checks[0].detail, "fix": ""}


def test_the_secret_never_appears_in_a_check() -> None:
    assert not any(SECRET in c.detail or SECRET in c.fix for c in walk(Cloud()))


def test_missing_settings_name_flag_and_variable_and_send_nothing() -> None:
    cloud = Cloud()
    found = failure(walk(cloud, replace(SETTINGS, client_secret="", org_url="")), "settings")
    assert found.detail == "missing --client-secret / AZURE_CLIENT_SECRET, --url / DATAVERSE_URL"
    assert cloud.requests == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://contoso.crm4.dynamics.com", "uses http://"),
        ("https://contoso.crm4.dynamics.com/api/data/v9.2", "has a path (/api/data/v9.2)"),
        ("https://contoso.crm4.dynamics.com/main.aspx?appid=1", "has a path (/main.aspx)"),
        ("https://contoso.crm4.dynamics.com/orgs/sales", "has a path (/orgs/sales)"),
        ("contoso.crm4.dynamics.com", "is not a URL"),
    ],
)
def test_org_url_shape_is_checked_before_any_request(url: str, expected: str) -> None:
    cloud = Cloud()
    found = failure(walk(cloud, replace(SETTINGS, org_url=url)), "org URL")
    assert expected in found.detail
    assert cloud.requests == []
    if url.startswith("http"):
        assert "org URL" in found.fix
        assert " to https://contoso.crm4.dynamics.com " in found.fix


def test_a_trailing_slash_is_fine_and_dropped_from_the_resource() -> None:
    cloud = Cloud()
    assert all(c.ok for c in walk(cloud, replace(SETTINGS, org_url=ORG + "/")))
    assert parse_qs(cloud.requests[1].content.decode())["scope"] == [f"{ORG}/.default"]


def test_a_d365local_org_path_is_an_org_url() -> None:
    org = f"{LOCAL}/orgs/sales"
    assert diagnosis.org_url_problem(org) is None
    assert diagnosis.org_url_problem(org + "/api/data/v9.2") is not None
    assert diagnosis.bare_org_url(org + "/api/data/v9.2/") == org
    assert diagnosis.bare_org_url("http://localhost:5443/main.aspx") == LOCAL


@pytest.mark.parametrize(
    ("authority", "expected"), [("http://localhost:5443", "not an https:// URL"), (f"{ENTRA}/{TENANT}", "has a path")]
)
def test_authority_shape(authority: str, expected: str) -> None:
    found = failure(walk(Cloud(), replace(SETTINGS, authority=authority)), "settings")
    assert expected in found.detail


def tls_failure(request: httpx.Request) -> httpx.Response:
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", request=request) from cause


def test_tls_failure_against_d365local_explains_the_ca_bundle() -> None:
    settings = replace(SETTINGS, authority=LOCAL, org_url=LOCAL, trust="REQUESTS_CA_BUNDLE=/etc/ssl/cacert.pem")
    checks = Doctor(settings, transport=httpx.MockTransport(tls_failure), clock=lambda: NOW).run()
    found = failure(checks, "authority")
    assert found.detail.startswith(f"TLS: the certificate of {LOCAL} is not trusted")
    assert "REQUESTS_CA_BUNDLE=/etc/ssl/cacert.pem" in found.fix
    assert "SSL_CERT_FILE" in found.fix
    assert "`d365local ca`" in found.fix
    assert "set -a; . .d365local/credentials.env" in found.fix


def test_tls_failure_against_the_cloud_does_not_talk_about_d365local() -> None:
    found = failure(Doctor(SETTINGS, transport=httpx.MockTransport(tls_failure)).run(), "authority")
    assert "REQUESTS_CA_BUNDLE" in found.fix
    assert "d365local" not in found.fix


def test_connection_refused_means_no_server() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    settings = replace(SETTINGS, authority=LOCAL, org_url=LOCAL)
    found = failure(Doctor(settings, transport=httpx.MockTransport(refused)).run(), "authority")
    assert "refused" in found.detail
    assert "`d365local serve`" in found.fix


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate", Transport.TLS),
        ("[Errno 111] Connection refused", Transport.REFUSED),
        ("[Errno -2] Name or service not known", Transport.UNKNOWN_HOST),
        ("something else", Transport.OTHER),
    ],
)
def test_transport_failures_are_classified_from_their_text(text: str, kind: Transport) -> None:
    assert transport_kind(httpx.ConnectError(text)) is kind
    assert transport_kind(httpx.ReadTimeout("slow")) is Transport.TIMEOUT


def test_http_to_a_tls_port_and_https_to_a_plain_port_are_told_apart() -> None:
    plain = httpx.Request("GET", "http://localhost:5443/common/discovery/instance")
    hung_up = httpx.RemoteProtocolError("Server disconnected without sending a response.", request=plain)
    assert transport_kind(hung_up) is Transport.PLAIN_HTTP_TO_TLS
    secure = httpx.Request("GET", "https://localhost:5443/x")
    wrong = httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", request=secure)
    wrong.__cause__ = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    assert transport_kind(wrong) is Transport.TLS_TO_PLAIN_HTTP
    https = diagnosis.transport_failure(
        Transport.PLAIN_HTTP_TO_TLS, "http://localhost:5443", "disconnected", trust="", local=True
    )
    assert "Use https://localhost:5443" in https.fix
    http = diagnosis.transport_failure(
        Transport.TLS_TO_PLAIN_HTTP, "https://localhost:5443", "wrong version", trust="", local=True
    )
    assert "Use http://localhost:5443" in http.fix


@pytest.mark.parametrize(
    ("authority", "tenant_in_it"),
    [
        ("https://localhost:5443/72f988bf-86f1-41af-91ab-2d7cd011db47", True),
        ("https://login.microsoftonline.com/contoso.onmicrosoft.com/", True),
        ("https://login.microsoftonline.com/common", True),
        ("https://proxy.example/identity", False),
    ],
)
def test_an_authority_with_a_path(authority: str, tenant_in_it: bool) -> None:
    found = diagnosis.authority_path_problem(authority)
    assert found is not None
    assert ("already contains the tenant" in found.detail) is tenant_in_it
    assert "is the host only" in found.fix
    assert diagnosis.authority_path_problem("https://localhost:5443") is None


def test_unknown_tenant_from_discovery() -> None:
    cloud = Cloud(
        discovery=entra_error(
            "invalid_tenant",
            90002,
            f"Tenant '{TENANT}' not found. Check to make sure you have the correct tenant ID and are signing into the "
            "correct cloud.",
        )
    )
    found = failure(walk(cloud), "tenant")
    assert "AADSTS90002" in found.detail
    assert "Trace ID" not in found.detail
    assert "Tenant ID" in found.fix
    assert "d365local" not in found.fix
    assert len(cloud.requests) == 1


def token_answer(response: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: response


SECRET_WRONG = "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{APP}'."
CASES = [
    (
        entra_error(
            "unauthorized_client",
            700016,
            f"Application with identifier '{APP}' was not found in the directory 'Contoso'.",
        ),
        "no app with client id",
        "Application (client) ID",
    ),
    (
        entra_error("invalid_client", 7000215, SECRET_WRONG, 401),
        "the client secret is wrong: AADSTS7000215",
        "shown only once",
    ),
    (
        entra_error("invalid_client", 7000222, f"The provided client secret keys for app '{APP}' are expired.", 401),
        "has expired",
        "New client secret",
    ),
    (
        entra_error("unauthorized_client", 7000112, f"Application '{APP}'(demo) is disabled."),
        "disabled",
        "Enabled for users to sign in",
    ),
    (
        entra_error(
            "invalid_resource", 500011, f"The resource principal named {ORG} was not found in the tenant named Contoso."
        ),
        f"no resource {ORG}",
        "'crm4' the region (Europe, Middle East and Africa)",
    ),
    (
        entra_error("invalid_scope", 1002012, "The provided value for scope x is not valid."),
        "token request failed",
        "/.default",
    ),
]


@pytest.mark.parametrize(("response", "detail", "fix"), CASES)
def test_token_errors_are_explained(response: httpx.Response, detail: str, fix: str) -> None:
    found = failure(walk(Cloud(token=token_answer(response))), "token")
    assert detail in found.detail
    assert fix in found.fix
    assert "d365local" not in found.fix


def test_the_secret_id_instead_of_its_value() -> None:
    cloud = Cloud(token=token_answer(entra_error("invalid_client", 7000215, SECRET_WRONG, 401)))
    found = failure(walk(cloud, replace(SETTINGS, client_secret="a85fb1f2-3ad5-4274-9f73-0e779da874da")), "token")
    assert "it is a GUID: that is the secret's ID, not its value" in found.detail
    assert "Secret ID" in found.fix


def test_json_body_like_the_blog_gets_900144_explained() -> None:
    seen: list[httpx.Request] = []

    def token(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return entra_error(
            "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."
        )

    found = failure(walk(Cloud(token=token), replace(SETTINGS, body="json", endpoint="v1")), "token")
    assert seen[0].headers["Content-Type"] == "application/json"
    assert seen[0].url.path == f"/{TENANT}/oauth2/token"
    assert json.loads(seen[0].content)["resource"] == ORG
    assert "sent as JSON" in found.detail
    assert "application/x-www-form-urlencoded" in found.fix


def test_d365local_fixes_add_the_command() -> None:
    cloud = Cloud(
        authority=LOCAL, org=LOCAL, token=token_answer(entra_error("unauthorized_client", 7000112, "disabled"))
    )
    found = failure(walk(cloud, replace(SETTINGS, authority=LOCAL, org_url=LOCAL)), "token")
    assert f"d365local: `d365local app enable --tenant {TENANT} --app {APP}`" in found.fix


def test_a_token_for_another_audience() -> None:
    def token(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"expires_in": 3599, "access_token": access_token(aud="https://other.crm.dynamics.com")}
        )

    found = failure(walk(Cloud(token=token)), "token claims")
    assert "not the org URL" in found.detail


def issued_by_clock(offset: float) -> Callable[[httpx.Request], httpx.Response]:
    """A token endpoint whose clock is ``offset`` seconds off this machine's (v1: numbers as strings)."""

    def token(request: httpx.Request) -> httpx.Response:
        bearer = access_token(issued=NOW + offset)
        return httpx.Response(
            200, json={"expires_in": "3599", "expires_on": str(int(NOW + offset) + 3600), "access_token": bearer}
        )

    return token


@pytest.mark.parametrize(("offset", "words"), [(900, "901 s ahead of"), (-3600, "3599 s behind")])
def test_clock_skew_beyond_five_minutes(offset: float, words: str) -> None:
    found = failure(walk(Cloud(token=issued_by_clock(offset)), replace(SETTINGS, endpoint="v1")), "clock")
    assert words in found.detail
    assert "NTP" in found.fix
    assert "5 minutes" in found.fix


def test_clock_skew_within_five_minutes_passes() -> None:
    checks = walk(Cloud(token=issued_by_clock(240)))
    assert all(c.ok for c in checks)
    assert "within 241 s" in checks[6].detail


def test_the_local_clock_is_read_around_the_request() -> None:
    times = iter([NOW - 1000, NOW - 1000, NOW - 1000, NOW - 1000])
    found = failure(walk(Cloud(), clock=lambda: next(times)), "clock")
    assert "1001 s ahead of" in found.detail


def test_401_names_the_tenant_the_org_expects() -> None:
    other = "0b9b35a9-4fcc-4c3f-abbb-ba1093c02ef6"
    challenge = f"Bearer authorization_uri={ENTRA}/{other}/oauth2/authorize, resource_id={ORG}/"
    cloud = Cloud(who_am_i=httpx.Response(401, headers={"WWW-Authenticate": challenge}))
    found = failure(walk(cloud), "WhoAmI")
    assert found.detail.startswith("HTTP 401: the Web API refused the token")
    assert f"the org belongs to tenant {other}, the token comes from tenant {TENANT}" in found.detail
    assert f"expects tokens from {ENTRA}/{other}" in found.fix


def test_401_from_d365local_quotes_its_reason() -> None:
    reason = "the token was signed by a key the authority does not publish (unknown kid)"
    cloud = Cloud(authority=LOCAL, org=LOCAL, who_am_i=httpx.Response(401, headers={"x-d365local-auth-error": reason}))
    found = failure(walk(cloud, replace(SETTINGS, authority=LOCAL, org_url=LOCAL)), "WhoAmI")
    assert reason in found.detail
    assert "serve --authority URL" in found.fix


WHOAMI = [
    (
        dataverse_error(403, "0x80072560", "The user is not a member of the organization."),
        "no application user",
        "New app user",
    ),
    (
        dataverse_error(403, "0x80040225", "The user with SystemUserId=u in OrganizationContext=o is disabled."),
        "disabled",
        "Activate",
    ),
    (
        dataverse_error(
            403,
            "0x80042f09",
            "SecLib::RetrievePrivilegeForUser failed - no roles are assigned to user. Returned hr = -2147209463, User: u",
        ),
        "no security role",
        "Edit security roles",
    ),
    (
        dataverse_error(
            429, "0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
        ),
        "HTTP 429 0x80072322",
        "Retry-After",
    ),
]


@pytest.mark.parametrize(("response", "detail", "fix"), WHOAMI)
def test_who_am_i_refusals(response: httpx.Response, detail: str, fix: str) -> None:
    cloud = Cloud(who_am_i=response)
    found = failure(walk(cloud), "WhoAmI")
    assert detail in found.detail
    assert fix in found.fix
    assert not any("accounts" in str(r.url) for r in cloud.requests)


def test_no_application_user_on_d365local_gives_the_command() -> None:
    cloud = Cloud(authority=LOCAL, org=LOCAL, who_am_i=WHOAMI[0][0])
    found = failure(walk(cloud, replace(SETTINGS, authority=LOCAL, org_url=LOCAL)), "WhoAmI")
    assert f"`d365local appuser create --org {LOCAL} --app {APP} --role 'System Administrator'`" in found.fix


def test_missing_privilege_on_the_read_quotes_it() -> None:
    message = (
        "Principal user (Id=u, type=8, roleCount=1, privilegeCount=3, accessMode=4), is missing prvReadAccount "
        "privilege (Id=p) on OTC=1 for entity 'account'. context.Caller=u"
    )
    cloud = Cloud(read=dataverse_error(403, "0x80040220", message))
    found = failure(walk(cloud), "read accounts")
    assert "lack prvReadAccount" in found.detail
    assert "add prvReadAccount" in found.fix
    assert str(cloud.requests[-1].url) == f"{ORG}/api/data/v9.2/accounts?$top=1"


def test_the_read_uses_the_configured_entity_set() -> None:
    cloud = Cloud()
    checks = walk(cloud, replace(SETTINGS, entity_set="contacts"))
    assert checks[-1] == Check("read contacts", True, "GET contacts?$top=1 returned 1 row(s)")
    assert str(cloud.requests[-1].url) == f"{ORG}/api/data/v9.2/contacts?$top=1"


# -- pure rules -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "guid"),
    [("a85fb1f2-3ad5-4274-9f73-0e779da874da", True), ("{A85FB1F2-3AD5-4274-9F73-0E779DA874DA}", True), (SECRET, False)],
)
def test_guid_shaped_secrets(value: str, guid: bool) -> None:
    assert diagnosis.looks_like_guid(value) is guid


def test_region_note_names_the_region_part() -> None:
    assert "'crm11' the region (United Kingdom)" in diagnosis.region_note("https://fabrikam.crm11.dynamics.com")
    assert "'crm' the region (North America)" in diagnosis.region_note("https://contoso.api.crm.dynamics.com/")
    assert diagnosis.region_note(LOCAL) == ""


def test_local_means_not_a_microsoft_authority() -> None:
    assert not diagnosis.is_local(ENTRA)
    assert not diagnosis.is_local("https://login.microsoftonline.us")
    assert diagnosis.is_local(LOCAL)


def test_clock_rule_boundary() -> None:
    assert diagnosis.clock_skew(300, local=False) is None
    assert diagnosis.clock_skew(-300, local=False) is None
    found = diagnosis.clock_skew(301, local=True)
    assert found is not None
    assert "serve --clock-skew" in found.fix


def test_unknown_codes_fall_back_to_the_client_hints() -> None:
    sent = diagnosis.TokenContext(TENANT, APP, SECRET, ORG, ENTRA)
    found = diagnosis.token_error(9001023, "AADSTS9001023: The grant type is not supported over /common.", sent)
    assert "tenant-specific authority" in found.fix
    assert found.fix.endswith("https://login.microsoftonline.com/error?code=9001023")
    assert diagnosis.web_api_error(400, "0x80040203", "bad", diagnosis.WebApiContext(ORG, APP, ENTRA)).detail == (
        "HTTP 400 0x80040203: bad"
    )
