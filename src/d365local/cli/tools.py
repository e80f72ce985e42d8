"""Small tools for scripts and other programs: ``env``, ``ca`` and ``wait``."""

from __future__ import annotations

import sys
import time

import click
import httpx

from d365local.cli.context import CliContext, common_options
from d365local.cli.settings import client_settings, tls_context, unreachable
from d365local.credentials_file import FILE_NAME, KEYS, read_credentials
from d365local.tls import TlsFiles, ca_certificate_der


@click.command("env")
@click.option(
    "--shell",
    type=click.Choice(["bash", "pwsh", "cmd"]),
    default="bash",
    show_default=True,
    help="The shell whose syntax to print.",
)
@common_options
def env_command(cli: CliContext, shell: str) -> None:
    """Print credentials.env as commands for a shell: eval "$(d365local env)"."""
    values = read_credentials(cli.data_dir / FILE_NAME)
    if not values:
        raise click.ClickException(f"no {cli.data_dir / FILE_NAME}: start the server first (`d365local serve`)")
    if cli.json:
        cli.emit(values)
        return
    for key in KEYS:
        if key in values:
            value = values[key]
            if shell == "bash":
                click.echo(f"export {key}='{value}'")
            elif shell == "pwsh":
                click.echo(f"$env:{key} = '{value}'")
            else:
                click.echo(f"set {key}={value}")


@click.command("ca")
@click.option("--der", is_flag=True, help="DER instead of PEM (Windows, some Java tools); not with --json.")
@common_options
def ca_command(cli: CliContext, der: bool) -> None:
    """Print the local CA certificate, for tools with their own trust store (Postman, NODE_EXTRA_CA_CERTS).

    With --json: {"file", "bundle", "pem"} — the CA file, the bundle clients should trust, and the PEM text."""
    if der and cli.json:
        raise click.UsageError("--der prints binary DER; --json prints the PEM in a JSON document: choose one")
    files = TlsFiles.for_data_dir(cli.data_dir)
    if not files.ca_cert.is_file():
        raise click.ClickException(f"no CA in {files.ca_cert.parent}: start the server once (`d365local serve`)")
    if cli.json:
        pem = files.ca_cert.read_text(encoding="ascii")
        cli.emit({"file": str(files.ca_cert.resolve()), "bundle": str(files.bundle.resolve()), "pem": pem})
        return
    if der:
        sys.stdout.buffer.write(ca_certificate_der(files))
        sys.stdout.buffer.flush()
    else:
        click.echo(files.ca_cert.read_text(encoding="ascii"), nl=False)
    click.echo(f"CA file: {files.ca_cert.resolve()}  (Postman: Settings → Certificates → CA certificates)", err=True)


@click.command("wait")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait.")
@click.option("--url", default=None, help="Server base URL (default: $AZURE_AUTHORITY_HOST or credentials.env).")
@common_options
def wait_command(cli: CliContext, timeout: float, url: str | None) -> None:
    """Exit 0 as soon as a d365local server answers (for CI scripts). With --json: {"url", "up": true}."""
    settings = client_settings(cli)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        base = url or settings.get("AZURE_AUTHORITY_HOST") or "https://localhost:5443"
        try:
            response = httpx.get(
                f"{base.rstrip('/')}/common/discovery/instance", verify=tls_context(settings, cli.data_dir), timeout=2.0
            )
            if response.status_code == 200:
                if cli.json:
                    cli.emit({"url": base, "up": True})
                else:
                    click.echo(f"{base} is up", err=True)
                return
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            why = f"\n{unreachable(last, base, settings, cli.data_dir)}" if isinstance(last, httpx.HTTPError) else ""
            raise click.ClickException(f"no server answered at {base} within {timeout:g} s{why}")
        time.sleep(0.1)
        settings = client_settings(cli)
