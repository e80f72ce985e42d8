"""Where client-side commands (``token``, ``whoami``, the record commands, ``wait``, ``env``) find their settings:
flags, then the environment, then the data directory's credentials.env — so they work right after ``serve`` with no
setup, and against the real cloud when the AZURE_* variables say so."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path

import click
import httpx

from d365local.cli.context import CliContext
from d365local.client.credentials import ClientCertificate, certificate_from_file
from d365local.client.errors import ClientError
from d365local.client.token_provider import ENTRA_AUTHORITY as ENTRA_AUTHORITY
from d365local.client.token_provider import default_verify
from d365local.credentials_file import FILE_NAME, read_credentials
from d365local.tls import TlsFiles


def client_settings(cli: CliContext) -> dict[str, str]:
    """credentials.env under the environment: a variable that is set wins."""
    values = read_credentials(cli.data_dir / FILE_NAME)
    values.update({k: v for k, v in os.environ.items() if k in values or k.startswith(("AZURE_", "DATAVERSE_"))})
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        if os.environ.get(name):
            values[name] = os.environ[name]
    return values


def tls_context(settings: Mapping[str, str], data_dir: Path | None = None) -> ssl.SSLContext:
    """Trust REQUESTS_CA_BUNDLE, then SSL_CERT_FILE, then certifi's roots — plus the data dir's local CA, if any.

    The client library's trust rule (:func:`d365local.client.token_provider.default_verify`), read from ``settings``
    (so credentials.env's CA variables count) instead of the bare environment. Machines often pre-set
    REQUESTS_CA_BUNDLE to the system bundle; adding our own CA keeps the CLI working against the local server
    without widening trust beyond the CA the user's own server created.
    """
    local_ca = TlsFiles.for_data_dir(data_dir).ca_cert if data_dir is not None else None
    return default_verify(settings, extra_ca_files=[local_ca] if local_ca is not None and local_ca.is_file() else [])


def trust_description(settings: Mapping[str, str], data_dir: Path) -> str:
    """Which CA bundle :func:`tls_context` trusts, in words, for the TLS explanation."""
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if settings.get(name):
            source = f"{name}={settings[name]}"
            break
    else:
        source = "certifi's public roots"
    local_ca = TlsFiles.for_data_dir(data_dir).ca_cert
    return source + (f" plus the local CA {local_ca}" if local_ca.is_file() else "")


def unreachable(
    error: httpx.HTTPError, url: str, settings: Mapping[str, str], data_dir: Path, *, authority: str | None = None
) -> str:
    """Why no HTTP answer came from ``url``, and the fix, worded as ``doctor`` words it: an untrusted
    certificate names the CA bundle to trust, refused means start the server, http:// against a TLS port
    says use https:// — never a blanket "Is the server running?". ``authority`` (default: AZURE_AUTHORITY_HOST)
    decides whether the fix adds the d365local way."""
    from d365local.client import diagnosis  # on the error path only: loading the CLI stays cheap
    from d365local.client.doctor import transport_kind

    if not isinstance(error, httpx.TransportError):
        return f"cannot reach {url}: {error}"
    authority = authority or settings.get("AZURE_AUTHORITY_HOST") or ENTRA_AUTHORITY
    kind = transport_kind(error)
    local = diagnosis.is_local(authority)
    found = diagnosis.transport_failure(
        kind,
        _origin(error) or url,
        str(error) or type(error).__name__,
        trust=trust_description(settings, data_dir),
        local=local,
    )
    fix = found.fix
    if kind is diagnosis.Transport.TLS and local:
        fix += " The d365local commands also trust the local CA of their --data-dir: pass the server's."
    return f"{found.detail}\nhint: {fix}"


def _origin(error: httpx.TransportError) -> str:
    try:
        url = error.request.url
    except RuntimeError:  # the error was raised before a request existed
        return ""
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def client_certificate(settings: Mapping[str, str], path: str | None = None) -> ClientCertificate | None:
    """The certificate to sign client assertions with: ``path`` (a ``--certificate`` flag), else
    ``AZURE_CLIENT_CERTIFICATE_PATH`` when no ``AZURE_CLIENT_SECRET`` is set — azure-identity's
    EnvironmentCredential order. A PFX (``.pfx``/``.p12``) or a PEM file with the key and the certificate;
    ``AZURE_CLIENT_CERTIFICATE_PASSWORD`` unlocks it."""
    chosen = path or (None if settings.get("AZURE_CLIENT_SECRET") else settings.get("AZURE_CLIENT_CERTIFICATE_PATH"))
    if not chosen:
        return None
    try:
        return certificate_from_file(chosen, settings.get("AZURE_CLIENT_CERTIFICATE_PASSWORD"))
    except (OSError, ValueError, TypeError, ClientError) as exc:
        raise click.UsageError(f"cannot use the certificate {chosen}: {exc}") from exc


# The connection flags of the client-side commands (token, whoami, the record commands, doctor, postman): defined
# once, so their names and help cannot drift apart. Each falls back to the variable it names, then credentials.env.
tenant_option = click.option("--tenant", default=None, help="Tenant GUID or domain (default: $AZURE_TENANT_ID).")
client_id_option = click.option(
    "--client-id", default=None, help="Application (client) ID (default: $AZURE_CLIENT_ID)."
)
client_secret_option = click.option(
    "--client-secret", default=None, help="Client secret value (default: $AZURE_CLIENT_SECRET)."
)
certificate_option = click.option(
    "--certificate",
    "certificate_path",
    default=None,
    help="PEM (key + certificate) or PFX file: sign a client assertion instead of sending a secret "
    "(default: $AZURE_CLIENT_CERTIFICATE_PATH when no secret is set).",
)
org_url_option = click.option("--url", "org_url", default=None, help="Org URL (default: $DATAVERSE_URL).")
authority_option = click.option(
    "--authority", default=None, help=f"Authority host (default: $AZURE_AUTHORITY_HOST or {ENTRA_AUTHORITY})."
)
