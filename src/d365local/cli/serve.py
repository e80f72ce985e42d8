"""``d365local serve``: run the token service (and, later, the Web API) on https://localhost:5443."""

from __future__ import annotations

import math
import os
from pathlib import Path

import click

from d365local.cli.context import CliContext, common_options
from d365local.dataverse.service_protection import Limits
from d365local.server import DEFAULT_PORT, ServeOptions, serve


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
@click.option("--host", default=None, help="Bind address (default: 127.0.0.1 and ::1, loopback only).")
@click.option("--public-url", default=None, help="Base URL clients use (default https://localhost:PORT).")
@click.option("--san", "sans", multiple=True, help="Extra host name for the server certificate (repeatable).")
@click.option("--no-tls", is_flag=True, help="Serve plain HTTP (msal and azure-identity refuse it).")
@click.option("--tls-cert", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None)
@click.option("--tls-key", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--no-seed", is_flag=True, help="Do not create the starter tenant, org and app.")
@click.option("--seed-file", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None)
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
    clock_skew: float,
) -> None:
    """Run the server until interrupted; prints one line when ready."""
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
    )
    serve(options, env=os.environ, announce=lambda line: click.echo(line, err=cli.json))
