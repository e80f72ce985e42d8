"""``d365local serve``: run the token service and the Web API on https://localhost:5443.

It prints one line when ready (with ``--json``: one JSON document on stdout, the line on stderr) and one when it
stops; Ctrl-C stops it gracefully with exit status 0.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import click

from d365local.cli.context import CliContext, common_options
from d365local.dataverse.domain.service_protection import Limits
from d365local.http_connection import ConnectionLimits
from d365local.server import DEFAULT_PORT, Ready, ServeOptions, serve

_DEFAULT_LIMITS = ConnectionLimits()


def parse_limits(text: str) -> Limits:
    """``requests=6000,concurrent=52,execution=1200,window=300`` (execution and window in seconds)."""
    values = {"requests": 6000, "concurrent": 52, "execution": 1200, "window": 300}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name.strip() not in values or not value.strip().isdigit() or int(value) <= 0:
            raise click.BadParameter(f"expected requests=N,concurrent=N,execution=SECONDS,window=SECONDS; got {item!r}")
        values[name.strip()] = int(value)
    return Limits(values["requests"], values["execution"] * 1000, values["concurrent"], values["window"])


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="0 = a free port.")
@click.option(
    "--host",
    default=None,
    help="Bind address, e.g. 0.0.0.0 for every interface (default: 127.0.0.1 and ::1, loopback only).",
)
@click.option("--public-url", default=None, help="Base URL clients use (default https://localhost:PORT).")
@click.option("--san", "sans", multiple=True, help="Extra host name for the server certificate (repeatable).")
@click.option("--no-tls", is_flag=True, help="Serve plain HTTP (msal and azure-identity refuse it).")
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Bring your own server certificate (PEM, may include the chain); with --tls-key.",
)
@click.option(
    "--tls-key",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="The private key of --tls-cert (PEM, unencrypted).",
)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Server processes.")
@click.option("--no-seed", is_flag=True, help="Do not create the starter tenant, org and app.")
@click.option(
    "--seed-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="YAML tenants, apps, orgs and application users to create instead of the starter; credentials.env names "
    "its first app that lists a secret.",
)
@click.option("--reject-assertion-replay", is_flag=True, help="Accept each client-assertion jti only once.")
@click.option(
    "--service-protection",
    "limits_text",
    default="requests=6000,concurrent=52,execution=1200,window=300",
    show_default=True,
    help="Dataverse limits per application user: requests and execution seconds per window (s), concurrent requests.",
)
@click.option(
    "--authority",
    default=None,
    help="Let the Web API trust tokens from another authority (e.g. https://login.microsoftonline.com) via its JWKS.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Access log (method, path, status; never query strings or bodies) on stderr.",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(0.1, 3600),
    default=_DEFAULT_LIMITS.header_timeout,
    show_default=True,
    help="Seconds a client has to send a request's headers (else 408 and the connection is closed).",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(0.1, 3600),
    default=_DEFAULT_LIMITS.body_timeout,
    show_default=True,
    help="Longest pause, in seconds, between two pieces of a request body (else 408 and close).",
)
@click.option(
    "--keep-alive-timeout",
    type=click.FloatRange(0.1, 3600),
    default=_DEFAULT_LIMITS.keep_alive_timeout,
    show_default=True,
    help="Seconds an idle connection stays open between requests.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1, 1_000_000),
    default=_DEFAULT_LIMITS.max_connections,
    show_default=True,
    help="Open connections (or requests in progress) beyond which requests are answered 503 and closed.",
)
@click.option(
    "--clock-skew",
    type=click.FloatRange(-86_400, 86_400),
    default=0.0,
    help="Run the server's clock this many seconds ahead (negative: behind), to reproduce clock-skew failures.",
)
@common_options
def serve_command(
    cli: CliContext,
    port: int,
    host: str | None,
    public_url: str | None,
    sans: tuple[str, ...],
    no_tls: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    workers: int,
    no_seed: bool,
    seed_file: Path | None,
    reject_assertion_replay: bool,
    limits_text: str,
    authority: str | None,
    log_level: str,
    header_timeout: float,
    body_timeout: float,
    keep_alive_timeout: float,
    max_connections: int,
    clock_skew: float,
) -> None:
    """Run the server until interrupted (Ctrl-C); prints one line when ready and one when stopped."""
    if not math.isfinite(clock_skew):
        raise click.BadParameter("a number of seconds", param_hint="--clock-skew")
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    options = ServeOptions(
        data_dir=cli.data_dir,
        database_url=cli.database_url,
        port=port,
        host=host,
        public_url=public_url,
        sans=sans,
        tls=not no_tls,
        tls_cert=tls_cert,
        tls_key=tls_key,
        workers=workers,
        seed=not no_seed,
        seed_file=seed_file,
        reject_assertion_replay=reject_assertion_replay,
        limits=parse_limits(limits_text),
        authority=authority,
        log_level=log_level,
        clock_skew=clock_skew,
        connection=ConnectionLimits(
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            keep_alive_timeout=keep_alive_timeout,
            max_connections=max_connections,
        ),
    )
    _run(cli, options)
    click.echo("d365local stopped", err=cli.json)


def _run(cli: CliContext, options: ServeOptions) -> None:
    """Serve; a data directory or database that cannot be used is one line with the fix, as for every command."""
    from sqlalchemy.exc import SQLAlchemyError

    from d365local.cli import database_problems as problems
    from d365local.store.engine import default_database_url

    if cli.database_url is None and (problem := problems.data_dir_problem(cli.data_dir)) is not None:
        raise problems.DatabaseUnavailable(problem)
    try:
        serve(options, env=os.environ, announce=lambda ready: _announce(cli, ready), notice=_notice)
    except SQLAlchemyError as exc:
        if not problems.is_environment_error(exc):
            raise
        raise problems.database_failure(exc, cli.database_url or default_database_url(cli.data_dir)) from exc
    except OSError as exc:  # the data directory or a file in it: not writable, a file in the way, disk full…
        raise problems.unusable_data_dir(cli.data_dir, exc) from exc


def _announce(cli: CliContext, ready: Ready) -> None:
    where = f", credentials in {ready.credentials}" if ready.credentials else ""
    click.echo(f"d365local ready at {ready.url}{where}", err=cli.json)
    if cli.json:
        document = {
            "status": "ready",
            "url": ready.url,
            "credentials": str(ready.credentials.resolve()) if ready.credentials else None,
            "caBundle": str(ready.ca_bundle.resolve()) if ready.ca_bundle else None,
            "pid": ready.pid,
        }
        click.echo(json.dumps(document, indent=2))


def _notice(line: str) -> None:
    click.echo(line, err=True)
