"""What a failed step of the client-credentials chain means, in plain words, and the setup step that fixes it.

Pure rules (no I/O): they map what ``doctor`` saw — a missing setting, a URL's shape, an AADSTS code, a Dataverse
hex code, a transport failure, two clocks — to a :class:`Diagnosis`. Fixes name the Microsoft Entra / Power
Platform admin center step; when the target is d365local they add the ``d365local …`` command that does the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from d365local.client.clouds import is_microsoft_authority
from d365local.client.errors import DATAVERSE_HINTS, HINTS

MAX_CLOCK_SKEW = 300
"""Entra and Dataverse allow five minutes between clocks when they check assertions and token lifetimes."""

REGIONS = {
    "crm": "North America", "crm2": "South America", "crm3": "Canada", "crm4": "Europe, Middle East and Africa",
    "crm5": "Asia Pacific", "crm6": "Oceania", "crm7": "Japan", "crm8": "India", "crm9": "North America 2 / GCC",
    "crm11": "United Kingdom", "crm12": "France",
}  # fmt: skip
"""The region part of ``<org>.crmN.dynamics.com``
(docs/reference/dataverse.md, "Organization URLs in the real cloud")."""
DATAVERSE_DOMAINS = (".dynamics.com", ".microsoftdynamics.us", ".appsplatform.us", ".dynamics.cn")
"""Host suffixes of Microsoft's Dataverse clouds: there, an org URL never has a path."""
_DYNAMICS_HOST = re.compile(r"^(?P<org>[a-z0-9-]+)\.(?:api\.)?(?P<region>crm\d*)\.dynamics\.com$")
_GUID = re.compile(r"^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$", re.IGNORECASE)
_LOCAL_ORG_PATH = re.compile(r"^/orgs/[a-z0-9-]+$")
_PRIVILEGE = re.compile(r"missing (prv\w+) privilege", re.IGNORECASE)
_ORG_ADMIN = "Power Platform admin center → Environments → your environment → Settings → Users + permissions"


@dataclass(frozen=True)
class Diagnosis:
    """Why a step failed (``detail``) and what to do about it (``fix``)."""

    detail: str
    fix: str


class Transport(Enum):
    """How a request failed before any HTTP answer came back."""

    TLS = "tls"
    REFUSED = "refused"
    UNKNOWN_HOST = "unknown host"
    TIMEOUT = "timeout"
    PLAIN_HTTP_TO_TLS = "http:// to a port that speaks TLS"
    TLS_TO_PLAIN_HTTP = "https:// to a port that speaks plain HTTP"
    OTHER = "other"


def is_local(authority: str) -> bool:
    """Whether the authority is d365local (anything that is not one of Microsoft's authority hosts)."""
    return not is_microsoft_authority(authority)


def looks_like_guid(value: str) -> bool:
    return bool(_GUID.match(value.strip()))


def with_local(fix: str, command: str, *, local: bool) -> str:
    """The admin-center step, plus the ``d365local`` command when the target is d365local."""
    return f"{fix} d365local: {command}" if local else fix


# -- before any request -------------------------------------------------------------------------------------------
def missing_settings(missing: Sequence[tuple[str, str]]) -> Diagnosis:
    """``missing``: (flag, environment variable) pairs that have no value."""
    names = ", ".join(f"{flag} / {variable}" for flag, variable in missing)
    return Diagnosis(
        f"missing {names}",
        "Pass the flags, or set the variables (AZURE_TENANT_ID = Entra admin center → Overview → Tenant ID; "
        "AZURE_CLIENT_ID = App registrations → your app → Application (client) ID; AZURE_CLIENT_SECRET = the "
        "secret's Value; DATAVERSE_URL = Power Platform admin center → Environments → Environment URL). "
        "d365local: `d365local serve` writes them all to .d365local/credentials.env, which `d365local doctor` reads "
        "from its --data-dir (or `set -a; . .d365local/credentials.env`).",
    )


def authority_problem(authority: str) -> Diagnosis | None:
    """An authority host that no client library accepts, or one that carries the tenant."""
    parts = urlsplit(authority)
    if parts.scheme != "https" or not parts.hostname:
        return Diagnosis(
            f"the authority {authority!r} is not an https:// URL",
            "msal and azure-identity refuse anything but https. Use https://login.microsoftonline.com (public "
            "cloud) or your d365local server's URL (AZURE_AUTHORITY_HOST in credentials.env).",
        )
    return authority_path_problem(authority)


def authority_path_problem(authority: str) -> Diagnosis | None:
    """An authority that carries a path — usually the tenant, as in msal's ``authority=https://host/<tenant>``:
    the tools put the tenant after it themselves, so it would be there twice."""
    parts = urlsplit(authority)
    path = parts.path.strip("/")
    if not path and not parts.query:
        return None
    first = path.split("/")[0]
    tenant = looks_like_guid(first) or "." in first or first in ("common", "organizations", "consumers")
    return Diagnosis(
        f"the authority {authority!r} has a path (/{path})" + (": it already contains the tenant" if tenant else ""),
        f"AZURE_AUTHORITY_HOST / --authority is the host only ({parts.scheme}://{parts.netloc}); the tenant "
        "goes in AZURE_TENANT_ID / --tenant.",
    )


def bare_org_url(url: str) -> str:
    """The org URL without a Web API path, page or trailing slash (a d365local ``/orgs/NAME`` prefix stays)."""
    parts = urlsplit(url.strip())
    segments = [s for s in parts.path.split("/") if s]
    local_org = len(segments) >= 2 and segments[0] == "orgs" and segments[1] != "api"
    keep = f"/orgs/{segments[1]}" if local_org and not (parts.hostname or "").endswith(DATAVERSE_DOMAINS) else ""
    return f"https://{parts.netloc}{keep}"


def org_url_problem(url: str) -> Diagnosis | None:
    """http:// or a path after the host: the org URL *is* the resource, so it must be exact."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return Diagnosis(
            f"{url!r} is not a URL",
            "The org URL looks like https://contoso.crm.dynamics.com: Power Platform admin center → "
            "Environments → your environment → Environment URL. d365local: DATAVERSE_URL in credentials.env "
            "or `d365local org list`.",
        )
    bare = bare_org_url(url)
    if parts.scheme != "https":
        return Diagnosis(
            f"{url} uses {parts.scheme}://: Dataverse and d365local serve the Web API over https only",
            f"Set the org URL to {bare} (msal, azure-identity and the Dataverse SDK refuse http, and Entra knows "
            "the resource only by its https URL: an http:// resource gets AADSTS500011).",
        )
    path = parts.path.rstrip("/")
    host = (parts.hostname or "").lower()
    local_org = bool(_LOCAL_ORG_PATH.match(path)) and not host.endswith(DATAVERSE_DOMAINS)
    if parts.query or parts.fragment or (path and not local_org):
        return Diagnosis(
            f"{url} has a path ({path or '?' + parts.query}): the resource is the bare org URL",
            f"Set the org URL (the resource) to {bare} — the Web API path (/api/data/v9.2/…) is added per request; a "
            "URL copied from the browser (/main.aspx…) or the Developer resources page carries a path Entra does "
            "not know (AADSTS500011).",
        )
    return None


def region_note(resource: str) -> str:
    """For ``*.crmN.dynamics.com``: which part of the host is the org name and which the region."""
    match = _DYNAMICS_HOST.match((urlsplit(resource).hostname or "").lower())
    if not match:
        return ""
    region = match["region"]
    where = REGIONS.get(region, "another region")
    return (
        f" In {match.string}, '{match['org']}' is the environment name and '{region}' the region ({where}); "
        "an environment in another region has another number (crm = North America, crm4 = EMEA, crm11 = UK …), "
        "and the same name with the wrong region is a different, unknown resource."
    )


# -- the token request -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenContext:
    """What was sent, so a failure can be explained against it."""

    tenant: str
    client_id: str
    client_secret: str
    resource: str
    authority: str
    json_body: bool = False

    @property
    def local(self) -> bool:
        return is_local(self.authority)


def tenant_not_found(tenant: str, authority: str, description: str) -> Diagnosis:
    return Diagnosis(
        f"tenant '{tenant}' not found at {authority}: {description}",
        with_local(
            "Use the Directory (tenant) ID from Microsoft Entra admin center → Overview (Tenant ID), or a verified "
            "domain such as contoso.onmicrosoft.com, and the authority of the cloud the tenant lives in.",
            "`d365local tenant list` shows the tenants; AZURE_TENANT_ID in credentials.env is the starter tenant.",
            local=is_local(authority),
        ),
    )


_TOKEN_RULES: dict[int, tuple[str, str, str]] = {
    700016: (
        "no app with client id {app} in tenant {tenant}",
        "Copy the Application (client) ID from Microsoft Entra admin center → App registrations → your app → "
        "Overview, and check the app is registered in this tenant (not in another directory).",
        "`d365local app list --tenant {tenant}`.",
    ),
    7000222: (
        "the client secret has expired",
        "Microsoft Entra admin center → App registrations → your app → Certificates & secrets → New client "
        "secret; put its Value in your configuration and delete the expired one.",
        "`d365local app secret add --tenant {tenant} --app {app}`.",
    ),
    700027: (
        "the certificate is not registered on app {app} (or the assertion was signed with another key)",
        "Microsoft Entra admin center → App registrations → your app → Certificates & secrets → Certificates → "
        "Upload certificate: the public part (.cer/.pem) of the key pair the client signs with.",
        "`d365local app cert add --tenant {tenant} --app {app} --cert FILE` (the certificate, PEM or DER).",
    ),
    700024: (
        "the client assertion is outside its valid time range",
        "The assertion's nbf/exp come from this machine's clock: synchronise it (NTP); Entra allows 5 minutes "
        "of skew. An assertion is valid for minutes only: build a new one for every token request.",
        "`d365local serve --clock-skew` reproduces this on purpose; restart without it.",
    ),
    7000112: (
        "the app is disabled in this tenant",
        "Microsoft Entra admin center → Enterprise applications → your app → Properties → Enabled for users to "
        "sign in? → Yes.",
        "`d365local app enable --tenant {tenant} --app {app}`.",
    ),
}
"""AADSTS code → (detail, admin-center fix, d365local command), with ``{app}`` and ``{tenant}`` filled in."""


def token_error(code: int | None, description: str, sent: TokenContext) -> Diagnosis:
    """The token endpoint said no: explain the AADSTS code against what was sent."""
    local, tenant, app = sent.local, sent.tenant, sent.client_id
    if code == 90002:
        return tenant_not_found(tenant, sent.authority, description)
    if code == 7000215:
        new = f"`d365local app secret add --tenant {tenant} --app {app}` (the value is printed once)."
        if looks_like_guid(sent.client_secret):
            fix = (
                "App registrations → your app → Certificates & secrets lists each secret's Secret ID (a GUID) and "
                "its Value; only the Value, shown once right after creation, authenticates. If it was not "
                "copied, add a new client secret and copy its Value."
            )
            return Diagnosis(
                "the client secret is wrong, and it is a GUID: that is the secret's ID, not its value "
                f"(AADSTS7000215): {description}",
                with_local(fix, new, local=local),
            )
        fix = (
            "Copy the secret's Value again (no quotes or spaces) — it is shown only once, right after "
            "creation; if it is lost, Certificates & secrets → New client secret."
        )
        return Diagnosis(f"the client secret is wrong: {description}", with_local(fix, new, local=local))
    if code in _TOKEN_RULES:
        detail, fix, command = _TOKEN_RULES[code]
        return Diagnosis(
            f"{detail.format(app=app, tenant=tenant)}: {description}",
            with_local(fix, command.format(app=app, tenant=tenant), local=local),
        )
    if code == 500011:
        fix = (
            f"The resource must be the environment's URL exactly, and {sent.resource} is not one in this tenant: a "
            "typo in the environment name, the wrong region part, http:// or a path all cause this."
            + region_note(sent.resource)
            + " Copy the Environment URL from Power Platform admin center → Environments → your environment."
        )
        return Diagnosis(
            f"Entra knows no resource {sent.resource} in this tenant: {description}",
            with_local(fix, f"`d365local org list` shows the org URLs of tenant {tenant}.", local=local),
        )
    if code == 900144 and sent.json_body:
        return Diagnosis(
            f"the token request was sent as JSON, so Entra read no parameters at all: {description}",
            "Entra reads only application/x-www-form-urlencoded bodies. Send a form: Postman → Body → "
            "x-www-form-urlencoded (and drop the Content-Type: application/json header); requests: data=…, "
            "not json=…; httpx: data=…. (The blog's Postman recipe sends JSON: that is why it fails.)",
        )
    hint = HINTS.get(code or 0, "")
    link = f" https://login.microsoftonline.com/error?code={code}" if code else ""
    return Diagnosis(f"the token request failed: {description}", (hint or "See the AADSTS code's page:") + link)


# -- the token itself --------------------------------------------------------------------------------------------
def audience_mismatch(aud: str, org_url: str) -> Diagnosis:
    return Diagnosis(
        f"the token's aud is {aud!r}, not the org URL {org_url}",
        "Dataverse accepts only tokens whose aud is its own URL: request the token with resource=<org URL> "
        "(v1) or scope=<org URL>/.default (v2), for the same org URL you call.",
    )


def clock_skew(skew: float, *, local: bool) -> Diagnosis | None:
    """``skew``: the issuer's clock minus this machine's, in seconds; ``None`` when within five minutes."""
    if abs(skew) <= MAX_CLOCK_SKEW:
        return None
    ahead = "ahead of" if skew > 0 else "behind"
    fix = (
        "Synchronise this machine's clock with NTP (Linux: `timedatectl set-ntp true`; Windows: `w32tm /resync`; "
        "macOS: `sntp -sS time.apple.com`). Entra and Dataverse allow 5 minutes of skew when they check client "
        "assertions (AADSTS700024) and token lifetimes; beyond that, certificate logins fail and tokens look "
        "expired or not yet valid to whoever checks them."
    )
    command = (
        "a server started with `serve --clock-skew N` runs its clock N seconds off on purpose: restart it without."
    )
    return Diagnosis(
        f"the issuer's clock is {abs(round(skew))} s {ahead} this machine's (more than {MAX_CLOCK_SKEW} s)",
        with_local(fix, command, local=local),
    )


# -- the Web API ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebApiContext:
    """Who called which org, so a Web API refusal can be explained against it."""

    org_url: str
    client_id: str
    authority: str
    token_tenant: str = ""
    entity_set: str = "accounts"

    @property
    def local(self) -> bool:
        return is_local(self.authority)


def unauthorized(reason: str, www_authenticate: str, called: WebApiContext) -> Diagnosis:
    """401: the token was issued but the Web API does not accept it."""
    detail = "HTTP 401: the Web API refused the token" + (f": {reason}" if reason else "")
    expected = re.search(r"authorization_uri=(\S+?)/oauth2/authorize", www_authenticate)
    fix = (
        "Dataverse accepts tokens only from the tenant that owns the environment, for its URL exactly (aud), "
        "unexpired and signed by that authority's keys."
    )
    if expected:
        fix += f" This org expects tokens from {expected[1]} (WWW-Authenticate)."
        owner = expected[1].rstrip("/").rsplit("/", 1)[-1]
        if called.token_tenant and owner.lower() != called.token_tenant.lower():
            detail += f"; the org belongs to tenant {owner}, the token comes from tenant {called.token_tenant}"
    command = (
        "a server started with `serve --authority URL` trusts only that authority's signing keys: get the token "
        "there (AZURE_AUTHORITY_HOST), or restart `serve` without --authority."
    )
    return Diagnosis(detail, with_local(fix, command, local=called.local))


_APP_USER_RULES: dict[str, tuple[str, str, str]] = {
    "0x80072560": (
        "the app has no application user in this org",
        f"Create the application user: {_ORG_ADMIN} → Application users → New app user → the app, the business "
        "unit, and a security role.",
        "`d365local appuser create --org {org} --app {app} --role 'System Administrator'`.",
    ),
    "0x80040225": (
        "the application user is disabled",
        f"{_ORG_ADMIN} → Application users → the app → Activate.",
        "`d365local appuser enable --org {org} --app {app}`.",
    ),
    "0x80042f09": (
        "the application user has no security role",
        f"{_ORG_ADMIN} → Application users → the app → Edit security roles → e.g. System Administrator, or a "
        "custom role with just the privileges the integration needs.",
        "`d365local role assign --org {org} --app {app} --role 'System Administrator'`.",
    ),
}
"""Dataverse code → (what is wrong, admin-center fix, d365local command), with ``{org}`` and ``{app}`` filled in."""


def web_api_error(status: int, code: str, message: str, called: WebApiContext) -> Diagnosis:
    """A Dataverse error body ``{"error": {"code", "message"}}`` on WhoAmI or the read."""
    code = code.lower()
    org, app, local = called.org_url, called.client_id, called.local
    detail = f"HTTP {status} {code}: {message}".replace("  ", " ")
    if code in _APP_USER_RULES:
        what, fix, command = _APP_USER_RULES[code]
        return Diagnosis(f"{what} ({detail})", with_local(fix, command.format(org=org, app=app), local=local))
    if code == "0x80040220":
        found = _PRIVILEGE.search(message)
        privilege = found[1] if found else "the privilege named in the message"
        return Diagnosis(
            f"the application user's roles lack {privilege} ({detail})",
            with_local(
                f"{_ORG_ADMIN} → Security roles → a role of the app user → add {privilege} (e.g. Organization "
                "depth), or assign a role that has it.",
                f"`d365local role create --org {org} --name N --privilege {privilege}:Global` then "
                f"`d365local role assign --org {org} --app {app} --role N`.",
                local=local,
            ),
        )
    if code == "0x8006088a" and status == 404:
        return Diagnosis(
            f"no such resource at {org} ({detail})",
            "Check the org URL (no path after the host) and the entity set name: the plural logical name, "
            "e.g. accounts, contacts (see $metadata).",
        )
    return Diagnosis(detail, DATAVERSE_HINTS.get(code, "See the Dataverse error code in the message."))


def transport_failure(kind: Transport, url: str, error: str, *, trust: str, local: bool) -> Diagnosis:
    """No HTTP answer from ``url``: TLS trust, nothing listening, unknown host, timeout."""
    if kind is Transport.TLS:
        fix = (
            f"This program trusts {trust or 'its default CA bundle'}, which has no CA that signed {url}'s "
            "certificate. REQUESTS_CA_BUNDLE (requests, msal, azure-identity) and SSL_CERT_FILE (httpx, aiohttp) "
            "choose the bundle"
        )
        if local:
            fix += (
                ": point both at d365local's CA bundle (certifi's roots + the local CA) — `set -a; . "
                ".d365local/credentials.env` sets them; `d365local ca` prints the local CA."
            )
        else:
            fix += (
                ": point them at a bundle with the public roots (certifi's) plus your proxy's CA if a "
                "TLS-inspecting proxy re-signs traffic, or unset them."
            )
        return Diagnosis(f"TLS: the certificate of {url} is not trusted ({error})", fix)
    if kind is Transport.REFUSED:
        fix = (
            "Nothing is listening there: check the URL and port. d365local: start the server (`d365local serve`) "
            "and use the URL its ready line prints (AZURE_AUTHORITY_HOST / DATAVERSE_URL in credentials.env)."
            if local
            else "Check the authority / org URL, proxies and firewalls."
        )
        return Diagnosis(f"connection to {url} refused ({error})", fix)
    if kind is Transport.UNKNOWN_HOST:
        return Diagnosis(
            f"the host of {url} does not resolve ({error})",
            "Check the spelling of the authority / org URL (the org URL is the Environment URL from the Power "
            "Platform admin center) and DNS / proxy settings.",
        )
    if kind is Transport.TIMEOUT:
        return Diagnosis(f"{url} did not answer in time ({error})", "Check proxies, firewalls and the URL.")
    if kind is Transport.PLAIN_HTTP_TO_TLS:
        secure = urlsplit(url)._replace(scheme="https").geturl()
        return Diagnosis(
            f"{url} closed the connection without an answer ({error}): it most likely speaks HTTPS",
            f"Use {secure}: d365local serves HTTPS unless started with --no-tls, and Entra ID and Dataverse "
            "only ever do.",
        )
    if kind is Transport.TLS_TO_PLAIN_HTTP:
        plain = urlsplit(url)._replace(scheme="http").geturl()
        return Diagnosis(
            f"{url} does not speak TLS ({error}): it serves plain HTTP",
            f"Use {plain}, or (better) restart the server without --no-tls: msal, azure-identity and the "
            "Dataverse SDK refuse http:// authorities and org URLs.",
        )
    return Diagnosis(f"cannot reach {url} ({error})", "Check the URL, proxies and firewalls.")
