"""``d365local postman``: write the seed's Postman recipe, done right, as a collection (v2.1.0) with variables.

The collection goes to stdout (the only thing there) or to ``--out FILE``; ``--environment-out FILE`` adds a
Postman environment with the same values. Values come from the flags, else from the AZURE_* / DATAVERSE_URL
variables or the data directory's credentials.env — so right after ``serve`` it targets d365local, and with a
real app's values it targets the real cloud. What was written, and how Postman comes to trust d365local's CA,
is said on stderr.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import click

from d365local.cli.context import CliContext, common_options, stderr
from d365local.cli.settings import (
    ENTRA_AUTHORITY,
    authority_option,
    client_id_option,
    client_secret_option,
    client_settings,
    org_url_option,
    tenant_option,
)
from d365local.postman import VARIABLE_NAMES, PostmanValues, build_collection, build_environment, is_microsoft_cloud
from d365local.tls import TlsFiles

_FILE = click.Path(path_type=Path, dir_okay=False)


@click.command("postman")
@click.option("--out", type=_FILE, default=None, help="Write the collection to FILE (default: stdout).")
@click.option("--environment-out", type=_FILE, default=None, help="Also write a Postman environment to FILE.")
@tenant_option
@client_id_option
@client_secret_option
@org_url_option
@authority_option
@click.option("--no-secret", is_flag=True, help="Leave clientSecret empty, so the files can be shared.")
@common_options
def postman_command(
    cli: CliContext,
    out: Path | None,
    environment_out: Path | None,
    tenant: str | None,
    client_id: str | None,
    client_secret: str | None,
    org_url: str | None,
    authority: str | None,
    no_secret: bool,
) -> None:
    """Write a Postman collection: token (v1 and v2), WhoAmI and account CRUD, with variables and scripts."""
    values = _values(cli, tenant, client_id, client_secret, org_url, authority, no_secret)
    collection = build_collection(values)
    if out is None:
        click.echo(_json(collection), nl=False)
    else:
        _write(out, _json(collection), private=bool(values.client_secret))
    if environment_out is not None:
        _write(environment_out, _json(build_environment(values)), private=bool(values.client_secret))
    ca_file = None if is_microsoft_cloud(values.authority) else TlsFiles.for_data_dir(cli.data_dir).ca_cert.resolve()
    _report(values, collection, out, environment_out, ca_file)
    if cli.json and out is not None:
        cli.emit(
            {
                "collection": str(out),
                "environment": None if environment_out is None else str(environment_out),
                "requests": _count_requests(collection["item"]),
                "variables": list(VARIABLE_NAMES),
                "includesSecret": bool(values.client_secret),
                "caCertificate": None if ca_file is None else str(ca_file),
            }
        )


def _values(
    cli: CliContext,
    tenant: str | None,
    client_id: str | None,
    client_secret: str | None,
    org_url: str | None,
    authority: str | None,
    no_secret: bool,
) -> PostmanValues:
    settings = client_settings(cli)
    wanted = {
        "--tenant": tenant or settings.get("AZURE_TENANT_ID", ""),
        "--client-id": client_id or settings.get("AZURE_CLIENT_ID", ""),
        "--client-secret": "" if no_secret else client_secret or settings.get("AZURE_CLIENT_SECRET", ""),
        "--url": (org_url or settings.get("DATAVERSE_URL", "")).rstrip("/"),
    }
    missing = [name for name, value in wanted.items() if not value and not (name == "--client-secret" and no_secret)]
    if missing:
        raise click.UsageError(
            f"missing {', '.join(missing)} (flags, AZURE_* / DATAVERSE_URL variables, or the data dir's "
            "credentials.env; --no-secret leaves the secret out)"
        )
    return PostmanValues(
        tenant_id=wanted["--tenant"],
        client_id=wanted["--client-id"],
        client_secret=wanted["--client-secret"],
        authority=(authority or settings.get("AZURE_AUTHORITY_HOST") or ENTRA_AUTHORITY).rstrip("/"),
        org_url=wanted["--url"],
    )


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _write(path: Path, text: str, *, private: bool) -> None:
    """Write ``text``; a file holding the client secret is readable by its owner only, as credentials.env is."""
    try:
        _replace(path, text, private=private)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc


def _replace(path: Path, text: str, *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new file next to the target, restricted before a byte is written, then renamed over it: an existing
    # file's wider mode never applies to the secret, and a reader never sees half a collection.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _count_requests(items: list[dict[str, Any]]) -> int:
    return sum(_count_requests(item["item"]) if "item" in item else 1 for item in items)


def _report(
    values: PostmanValues,
    collection: dict[str, Any],
    out: Path | None,
    environment_out: Path | None,
    ca_file: Path | None,
) -> None:
    where = "stdout" if out is None else str(out)
    stderr.print(
        f"Wrote a Postman collection (v2.1.0) to {where}: {_count_requests(collection['item'])} requests for "
        f"{values.org_url} via {values.authority}.",
        highlight=False,
    )
    if environment_out is not None:
        stderr.print(f"Wrote a Postman environment with the same variables to {environment_out}.", highlight=False)
    if values.client_secret:
        stderr.print("It holds the client secret: share it only with --no-secret.", highlight=False)
    else:
        stderr.print("clientSecret is empty: paste the secret into its current value in Postman.", highlight=False)
    if ca_file is not None:
        where_from = "`d365local ca` prints it" if ca_file.is_file() else "`d365local serve` creates it on first start"
        stderr.print(
            "One step in Postman to trust d365local's local CA: Settings → Certificates → CA certificates → turn it "
            f"on and select {ca_file} ({where_from}).\n"
            'Keep Settings → General → "SSL certificate verification" on: with the CA added Postman verifies '
            "d365local's certificate like any other.",
            highlight=False,
        )
