"""``d365local fault``: make an app's next token requests or Web API calls fail on purpose.

For testing what an integration does when Entra refuses it (an expired secret, a disabled app…) or when Dataverse
throttles it (429 with Retry-After) — without waiting for the real thing.
"""

from __future__ import annotations

import click

from d365local.cli.context import CliContext, SuggestingGroup, common_options, record, tenant_option, view_table
from d365local.faults import Fault, FaultError

_APP = click.option("--app", "app_id", required=True, help="The app's Application (client) ID.")
_COUNT = click.option("--count", type=int, default=1, show_default=True, help="How many requests fail.")


def fault_view(fault: Fault) -> dict[str, object]:
    return {
        "id": fault.id,
        "target": fault.target,
        "scopeId": fault.scope_id,
        "appId": fault.app_id,
        "code": fault.code,
        "retryAfter": fault.retry_after,
        "remaining": fault.remaining,
    }


@click.group("fault", cls=SuggestingGroup)
def fault_group() -> None:
    """Failures on purpose: test your retry and error handling."""


@fault_group.command("token")
@tenant_option()
@_APP
@click.option("--code", required=True, help="The AADSTS error to answer with, e.g. AADSTS7000222 (expired secret).")
@_COUNT
@common_options
def token(cli: CliContext, tenant: str, app_id: str, code: str, count: int) -> None:
    """The app's next token request(s) fail with an AADSTS error, exactly as Entra would send it."""
    with cli.all_admins() as admins:
        try:
            fault = admins.faults.fail_token_requests(tenant, app_id, code, count=count)
        except FaultError as exc:
            raise click.UsageError(str(exc)) from exc
    view = fault_view(fault)
    cli.emit(view, record("Token fault added", view))


@fault_group.command("throttle")
@click.option("--org", required=True, help="Organization unique name, id or URL.")
@_APP
@click.option("--retry-after", type=int, default=5, show_default=True, help="Seconds in the Retry-After header.")
@click.option(
    "--code",
    default="0x80072322",
    show_default=True,
    help="0x80072322 (number of requests), 0x80072321 (execution time) or 0x80072326 (concurrent requests).",
)
@_COUNT
@common_options
def throttle(cli: CliContext, org: str, app_id: str, retry_after: int, code: str, count: int) -> None:
    """The app's next Web API call(s) in the org get 429 with Retry-After, as Dataverse's service protection sends."""
    with cli.all_admins() as admins:
        try:
            fault = admins.faults.throttle_webapi(org, app_id, retry_after=retry_after, code=code, count=count)
        except FaultError as exc:
            raise click.UsageError(str(exc)) from exc
    view = fault_view(fault)
    cli.emit(view, record("Web API fault added", view))


@fault_group.command("list")
@common_options
def list_(cli: CliContext) -> None:
    """Pending faults."""
    views = []
    if cli.has_database():  # an empty data directory has no faults, and stays empty
        with cli.all_admins() as admins:
            views = [fault_view(f) for f in admins.faults.faults()]
    cli.emit(views, view_table("Pending faults", views, ["id", "target", "appId", "code", "retryAfter", "remaining"]))


@fault_group.command("clear")
@click.option("--app", "app_id", default=None, help="Only this app's faults (default: all).")
@common_options
def clear(cli: CliContext, app_id: str | None) -> None:
    """Remove pending faults."""
    with cli.all_admins() as admins:
        removed = admins.faults.clear(app_id)
    cli.emit({"removed": removed}, f"Removed {removed} pending fault(s).")
