"""A Web API session for the CLI: a :class:`TokenProvider` and a :class:`WebApiClient` built from the CLI's
settings (flags > environment > the data dir's credentials.env), and the client's errors turned into one-line
click errors that carry the AADSTS or Dataverse code and the hint of the setup step that fixes them.

``whoami`` and the record commands (``query``, ``get``, ``create``, ``update``, ``delete``) share it, so they all
work against d365local right after ``serve`` and against the real cloud when the AZURE_* variables say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click
import httpx

from d365local.cli.context import CliContext, stderr
from d365local.cli.settings import ENTRA_AUTHORITY, client_certificate, client_settings, tls_context, unreachable
from d365local.client import (
    AuthenticationError,
    ClientError,
    ClientSecret,
    DataverseApiError,
    RetryNotice,
    TokenProvider,
    WebApiClient,
    diagnosis,
)
from d365local.client.credentials import Credential

F = TypeVar("F", bound=Callable[..., Any])

UNAUTHORIZED_HINT = (
    "The Web API did not accept the token: request it for the org URL itself (scope=<org URL>/.default) from the "
    "org's tenant, and check that DATAVERSE_URL and AZURE_AUTHORITY_HOST point at the same system."
)


class WebApiFailed(click.ClickException):
    """A token or Web API request failed; the message carries the AADSTS / Dataverse code and a hint."""


@dataclass(frozen=True)
class WebApiSettings:
    """What a Web API call needs, resolved from flags, the environment and credentials.env."""

    org_url: str
    tenant_id: str
    client_id: str
    credential: Credential = field(repr=False)
    """A client secret, or a certificate (``AZURE_CLIENT_CERTIFICATE_PATH``) when no secret is set."""
    authority: str


def webapi_settings(settings: Mapping[str, str], org_url: str | None = None) -> WebApiSettings:
    """What :func:`client_settings` found, checked: a usage error names every missing setting."""
    wanted = {
        "--url / DATAVERSE_URL": (org_url or settings.get("DATAVERSE_URL") or "").rstrip("/"),
        "AZURE_TENANT_ID": settings.get("AZURE_TENANT_ID", ""),
        "AZURE_CLIENT_ID": settings.get("AZURE_CLIENT_ID", ""),
    }
    certificate = client_certificate(settings)
    secret = settings.get("AZURE_CLIENT_SECRET", "")
    if certificate is None and not secret:
        wanted["AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)"] = ""
    missing = [name for name, value in wanted.items() if not value]
    if missing:
        raise click.UsageError(
            f"missing {', '.join(missing)} (flags, AZURE_* / DATAVERSE_URL variables, or the data dir's "
            "credentials.env: start `d365local serve` or pass --data-dir)"
        )
    org, tenant, client_id = wanted.values()
    authority = (settings.get("AZURE_AUTHORITY_HOST") or ENTRA_AUTHORITY).rstrip("/")
    credential: Credential = certificate if certificate is not None else ClientSecret(secret)
    return WebApiSettings(org, tenant, client_id, credential, authority)


@contextmanager
def webapi_session(cli: CliContext, org_url: str | None = None) -> Iterator[WebApiClient]:
    """A ready :class:`WebApiClient`; any client error raised inside the block becomes a :class:`WebApiFailed`.

    While the client waits out a 429 (or a 5xx, or a dropped connection) before retrying, stderr says so.
    """
    found = client_settings(cli)
    settings = webapi_settings(found, org_url)
    check_authority(settings.authority)
    verify = tls_context(found, cli.data_dir)
    try:
        with (
            TokenProvider(
                settings.tenant_id,
                settings.client_id,
                settings.credential,
                authority=settings.authority,
                verify=verify,
            ) as provider,
            WebApiClient(settings.org_url, provider, verify=verify, on_retry=announce_retry) as client,
        ):
            yield client
    except AuthenticationError as exc:
        raise WebApiFailed(authentication_message(exc, settings)) from exc
    except DataverseApiError as exc:
        raise WebApiFailed(dataverse_message(exc)) from exc
    except httpx.HTTPError as exc:
        raise WebApiFailed(unreachable(exc, settings.org_url, found, cli.data_dir)) from exc
    except ClientError as exc:
        raise WebApiFailed(str(exc)) from exc


def check_authority(authority: str) -> None:
    """An authority with a path (usually the tenant, as msal's ``authority=`` carries it) is a usage error."""
    problem = diagnosis.authority_path_problem(authority)
    if problem is not None:
        raise click.UsageError(f"{problem.detail}\nhint: {problem.fix}")


def announce_retry(notice: RetryNotice) -> None:
    """The client library's ``on_retry``: one stderr line per wait, so a throttled command is not mistaken for a
    hung one."""
    if notice.status == 429:
        why = "HTTP 429: service protection limit"
    elif notice.status is not None:
        why = f"HTTP {notice.status}"
    else:
        why = "the connection failed"
    asked = f" (Retry-After: {notice.retry_after} s)" if notice.retry_after is not None else ""
    stderr.print(
        f"{why}{asked}; waiting {notice.delay:.1f} s before retry {notice.attempt} of {notice.max_retries}…",
        highlight=False,
    )


def authentication_message(exc: AuthenticationError, settings: WebApiSettings) -> str:
    """The token endpoint's refusal: error, AADSTS description and the client's hint."""
    text = f"token request to {settings.authority}/{settings.tenant_id} failed (HTTP {exc.status}) {exc.error}: "
    return text + exc.description + (f"\nhint: {exc.hint}" if exc.hint else "")


def dataverse_message(exc: DataverseApiError) -> str:
    """The Web API's refusal: status, hex code, message; on 401 the reason the token was refused."""
    if exc.status == 401:
        reason = exc.auth_error or exc.message
        return (
            "HTTP 401: the Web API refused the token"
            + (f": {reason}" if reason else "")
            + (f"\nhint: {exc.hint or UNAUTHORIZED_HINT}")
        )
    head = f"HTTP {exc.status} {exc.code}" if exc.code else f"HTTP {exc.status}"
    wait = f" (Retry-After: {exc.retry_after} s)" if exc.retry_after is not None else ""
    return f"{head}: {exc.message}{wait}" + (f"\nhint: {exc.hint}" if exc.hint else "")
