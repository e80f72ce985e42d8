"""``d365local keys``: the token-signing keys published at the JWKS endpoints."""

from __future__ import annotations

import click

from d365local.cli.context import CliContext, SuggestingGroup, common_options, record, view_table
from d365local.cli.directory_views import key_view


@click.group("keys", cls=SuggestingGroup)
def keys_group() -> None:
    """Token signing keys."""


@keys_group.command("list")
@common_options
def list_(cli: CliContext) -> None:
    """List signing keys: the active one signs, published ones still validate, retired ones are gone."""
    views = []
    if cli.has_database():  # listing never creates a database or a key: `serve` creates the first key
        with cli.admin() as admin:
            views = [key_view(k) for k in admin.signing_keys()]
    cli.emit(views, view_table("Signing keys", views, ["kid", "state", "createdDateTime"]))


@keys_group.command("rotate")
@common_options
def rotate(cli: CliContext) -> None:
    """Add a new active key; the old one stays published so tokens it signed still validate."""
    with cli.admin() as admin:
        key = admin.rotate_signing_key()
    cli.emit(key_view(key), record("New active signing key", key_view(key)))


@keys_group.command("retire")
@click.argument("kid")
@common_options
def retire(cli: CliContext, kid: str) -> None:
    """Stop publishing the key KID (from `keys list`) once it no longer signs; tokens it signed stop validating."""
    with cli.admin() as admin:
        admin.retire_signing_key(kid)
        key = next(k for k in admin.signing_keys() if k.kid == kid)
    cli.emit(key_view(key), record("Signing key retired", key_view(key)))
