"""The starter environment and seed files: what a fresh database holds before anyone runs an admin command.

Starter: tenant "Contoso" (``contoso.onmicrosoft.com``), the default org ``contoso`` at the public base URL, the
app "d365local starter" with a secret and a granted Dynamics CRM permission, and its application user with System
Administrator. ``D365LOCAL_TENANT_ID`` /
``D365LOCAL_CLIENT_ID`` / ``D365LOCAL_CLIENT_SECRET`` fix its ids and secret for CI. A seed file (YAML) replaces
the starter: tenants, apps with fixed ids and secrets, users, owners, orgs and application users with roles;
credentials.env then names its first app that lists a secret. An org may name a solution zip (``schema:``, relative
to the seed file; what ``d365local schema export`` writes, or a Dataverse export) whose tables, columns, choices,
keys and relationships it gets. Applying it twice changes nothing.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from d365local.dataverse.domain.admin import DataverseAdmin, DataverseAdminError
from d365local.dataverse.domain.model import BASIC_USER, SYSTEM_ADMINISTRATOR
from d365local.dataverse.domain.schema_import import from_solution, import_schema
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.schema.builtin_tables import builtin_catalog
from d365local.dataverse.schema.solution import SolutionError, read_solution
from d365local.identity.admin import AdminError, DirectoryAdmin
from d365local.identity.errors import IdentityError
from d365local.identity.model import DYNAMICS_CRM_NAME, USER_IMPERSONATION, Application, Tenant
from d365local.seed_schema import seed_file_problems
from d365local.store.customizations_sql import SqlCustomizations
from d365local.store.directory_sql import SqlDirectory
from d365local.store.settings_sql import SqlSettings

STARTER_TENANT = "Contoso"
STARTER_ORG = "contoso"
STARTER_APP = "d365local starter"
_STARTER_MARKER = "starter"


class SeedError(ValueError):
    """A seed file or fixed credential that cannot be applied; the message names the entry."""


@dataclass(frozen=True)
class StarterCredentials:
    tenant_id: str
    client_id: str
    client_secret: str | None
    """Known only when just created or fixed by the environment; otherwise it lives in credentials.env."""


def seed_starter(
    admin: DirectoryAdmin,
    dataverse: DataverseAdmin,
    directory: SqlDirectory,
    settings: SqlSettings,
    env: Mapping[str, str],
) -> StarterCredentials:
    """Create the starter environment once per database; with fixed credentials, make sure they exist."""
    fixed_tenant = env.get("D365LOCAL_TENANT_ID") or None
    fixed_client = env.get("D365LOCAL_CLIENT_ID") or None
    fixed_secret = env.get("D365LOCAL_CLIENT_SECRET") or None
    try:
        marker = json.loads(settings.get(_STARTER_MARKER) or "null")
        if (
            marker is not None
            and fixed_tenant in (None, marker["tenant_id"])
            and fixed_client in (None, marker["app_id"])
        ):
            tenant_id, app_id, secret = marker["tenant_id"], marker["app_id"], None
        else:
            tenant = _ensure_tenant(admin, directory, STARTER_TENANT, fixed_tenant)
            if not directory.has_default_organization():
                admin.create_org(tenant.id, STARTER_ORG)
            app = _ensure_app(admin, directory, tenant, STARTER_APP, fixed_client)
            admin.add_permission(tenant.id, app.app_id, DYNAMICS_CRM_NAME, USER_IMPERSONATION)
            admin.grant_consent(tenant.id, app.app_id)
            secret = None if fixed_secret else admin.add_secret(tenant.id, app.app_id, description="starter").value
            tenant_id, app_id = tenant.id, app.app_id
            settings.put(_STARTER_MARKER, json.dumps({"tenant_id": tenant_id, "app_id": app_id}))
        if fixed_secret:
            admin.add_known_secret(tenant_id, app_id, fixed_secret, description="D365LOCAL_CLIENT_SECRET")
            secret = fixed_secret
        dataverse.ensure_organizations()
        starter_org = next((o for o in directory.organizations(tenant_id) if o.name == STARTER_ORG), None)
        if starter_org is not None:
            _ensure_app_user(admin, dataverse, tenant_id, app_id, starter_org.name, [SYSTEM_ADMINISTRATOR])
    except (AdminError, IdentityError, DataverseAdminError) as exc:
        raise SeedError(f"cannot seed the starter environment: {exc}") from exc
    return StarterCredentials(tenant_id, app_id, secret)


def add_starter_secret(admin: DirectoryAdmin, credentials: StarterCredentials) -> StarterCredentials:
    """A fresh secret for the starter app, when its value is known nowhere (e.g. a new data dir on a shared DB)."""
    secret = admin.add_secret(credentials.tenant_id, credentials.client_id, description="credentials.env").value
    return StarterCredentials(credentials.tenant_id, credentials.client_id, secret)


def _ensure_app_user(
    admin: DirectoryAdmin, dataverse: DataverseAdmin, tenant_id: str, app_id: str, org: str, roles: list[str]
) -> None:
    """The application user of an app in an org, with at least these roles."""
    app = admin.app(tenant_id, app_id)
    existing = next((u for u in dataverse.application_users(org) if u.application_id == app.app_id.lower()), None)
    if existing is None:
        dataverse.create_application_user(
            org, app.app_id, object_id=app.service_principal_id, full_name=app.display_name, roles=roles
        )
        return
    for role in roles:
        dataverse.assign_role(org, app.app_id, role)


def apply_seed_file(
    admin: DirectoryAdmin, dataverse: DataverseAdmin, directory: SqlDirectory, path: Path
) -> StarterCredentials | None:
    """Apply a YAML seed file idempotently. Returns its first app that lists a secret (with the first secret): a
    seed file replaces the starter, and credentials.env names that app; None when no app lists a secret."""
    document = read_seed_file(path)
    _check_roles(document, dataverse, path)  # before anything is written: a bad reference leaves nothing half-applied
    first: StarterCredentials | None = None
    for index, entry in enumerate(_list(document, "tenants", "the file")):
        where = f"tenants[{index}]"
        try:
            _apply_tenant(admin, dataverse, directory, _mapping(entry, where), path)
            first = first or _app_with_secret(admin, directory, _mapping(entry, where))
        except (AdminError, IdentityError, DataverseAdminError, KeyError, TypeError) as exc:
            raise SeedError(f"{path}: {where}: {exc}") from exc
    return first


def _check_roles(document: Mapping[str, Any], dataverse: DataverseAdmin, path: Path) -> None:
    """Every role an application user names exists: a built-in one, or one the org already has."""
    for t, tenant in enumerate(document.get("tenants") or []):
        for a, app in enumerate(tenant.get("apps") or []):
            for u, user in enumerate(app.get("applicationUsers") or []):
                try:
                    known = {r.name.lower(): r.name for r in dataverse.roles(str(user["org"]))}
                except DataverseAdminError:
                    known = {}  # the org is created by this file: it will have the built-in roles
                known |= {name.lower(): name for name in (SYSTEM_ADMINISTRATOR, BASIC_USER)}
                for r, role in enumerate(user.get("roles") or []):
                    if str(role).lower() not in known:
                        where = f"tenants[{t}].apps[{a}].applicationUsers[{u}].roles[{r}]"
                        close = difflib.get_close_matches(str(role).lower(), list(known), n=1)
                        hint = f"; did you mean '{known[close[0]]}'?" if close else ""
                        raise SeedError(
                            f"{path}: {where}: no role {str(role)!r} (roles: {', '.join(sorted(known.values()))})"
                            f"{hint}; create custom roles first with `role create`"
                        )


def _app_with_secret(
    admin: DirectoryAdmin, directory: SqlDirectory, entry: Mapping[str, Any]
) -> StarterCredentials | None:
    """The first app of an (applied) tenant entry that lists a secret, with its ids as stored."""
    for app_entry in _list(entry, "apps", "a tenant"):
        secrets = _list(app_entry, "secrets", "an app")
        if secrets:
            tenant = _ensure_tenant(admin, directory, str(entry["name"]), _optional_str(entry, "id"))
            app = _ensure_app(admin, directory, tenant, str(app_entry["name"]), _optional_str(app_entry, "appId"))
            return StarterCredentials(tenant.id, app.app_id, str(secrets[0]))
    return None


def read_seed_file(path: Path) -> dict[str, Any]:
    """The seed file's document, checked against :data:`d365local.seed_schema.SCHEMA`: an unknown or misspelt key
    is an error naming its path and the key it most resembles, never silently ignored."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from exc
    problems = seed_file_problems({} if document is None else document)
    if problems:
        raise SeedError(f"seed file {path}: " + "\n  ".join(problems))
    return document or {}


def _apply_tenant(
    admin: DirectoryAdmin,
    dataverse: DataverseAdmin,
    directory: SqlDirectory,
    entry: Mapping[str, Any],
    seed_file: Path,
) -> None:
    tenant = _ensure_tenant(admin, directory, str(entry["name"]), _optional_str(entry, "id"))
    verified = {d.name for d in tenant.domains}
    for domain in _list(entry, "domains", "a tenant"):
        if str(domain).lower() not in verified:
            raise SeedError(f"domain {domain} is not verified in tenant {tenant.display_name}; tenants get their extra "
                            "domain at creation (tenant create --domain)")  # fmt: skip
    known_users = {u.user_principal_name for u in admin.users(tenant.id)}
    for upn in _list(entry, "users", "a tenant"):
        if str(upn).lower() not in known_users:
            admin.create_user(tenant.id, str(upn))
    for org in _list(entry, "orgs", "a tenant"):
        org_entry = _mapping(org, "orgs[]")
        name = str(org_entry["name"]).lower()
        if not any(o.name == name for o in directory.organizations()):
            admin.create_org(tenant.id, name, org_id=_optional_str(org_entry, "id"))
    dataverse.ensure_organizations()
    for index, org in enumerate(_list(entry, "orgs", "a tenant")):
        org_entry = _mapping(org, "orgs[]")
        if org_entry.get("schema") is not None:
            _apply_schema(
                dataverse, directory, str(org_entry["name"]).lower(), seed_file, str(org_entry["schema"]), index
            )
    for app_entry in _list(entry, "apps", "a tenant"):
        _apply_app(admin, dataverse, directory, tenant, _mapping(app_entry, "apps[]"))


def _apply_schema(
    dataverse: DataverseAdmin, directory: SqlDirectory, org: str, seed_file: Path, schema: str, index: int
) -> None:
    """The solution's schema in the org (``orgs[].schema``, relative to the seed file); nothing is written when the
    org already has it."""
    base = builtin_catalog()
    path = seed_file.parent / schema
    where = f"{seed_file}: orgs[{index}].schema"
    try:
        incoming = from_solution(read_solution(path.read_bytes()))
    except OSError as exc:
        raise SeedError(f"{where}: cannot read {path}: {exc.strerror or exc}") from exc
    except SolutionError as exc:
        raise SeedError(f"{where}: {path}: {exc}") from exc
    store = SqlCustomizations(directory, base)
    org_id = dataverse.organization(org).id
    try:
        if import_schema(store.customizations(org_id), base, incoming) != store.customizations(org_id):
            store.change(org_id, lambda custom, catalog: import_schema(custom, catalog, incoming))
    except DataverseError as exc:
        raise SeedError(f"{where}: {path} cannot be imported into {org}: {exc.message}") from exc


def _apply_app(
    admin: DirectoryAdmin, dataverse: DataverseAdmin, directory: SqlDirectory, tenant: Tenant, entry: Mapping[str, Any]
) -> None:
    app = _ensure_app(admin, directory, tenant, str(entry["name"]), _optional_str(entry, "appId"))
    for secret in _list(entry, "secrets", "an app"):
        admin.add_known_secret(tenant.id, app.app_id, str(secret), description="seed file")
    for permission in _list(entry, "permissions", "an app"):
        api, _, name = str(permission).rpartition("/")
        admin.add_permission(tenant.id, app.app_id, api or DYNAMICS_CRM_NAME, name)
    if entry.get("consent"):
        admin.grant_consent(tenant.id, app.app_id)
    for owner in _list(entry, "owners", "an app"):
        admin.add_owner(tenant.id, app.app_id, str(owner))
    if "disabled" in entry:
        admin.set_app_disabled(tenant.id, app.app_id, bool(entry["disabled"]))
    for user in _list(entry, "applicationUsers", "an app"):
        if not isinstance(user, Mapping) or "org" not in user:
            raise SeedError("each of an app's 'applicationUsers' is a mapping with 'org' (and optional 'roles')")
        roles = [str(r) for r in _list(user, "roles", "an application user")]
        _ensure_app_user(admin, dataverse, tenant.id, app.app_id, str(user["org"]), roles)


def _ensure_tenant(admin: DirectoryAdmin, directory: SqlDirectory, name: str, tenant_id: str | None) -> Tenant:
    if tenant_id is not None:
        existing = directory.find_tenant(tenant_id)
        if existing is not None:
            return existing
    else:
        existing = next((t for t in directory.tenants() if t.display_name == name), None)
        if existing is not None:
            return existing
    return admin.create_tenant(name, tenant_id=tenant_id)


def _ensure_app(
    admin: DirectoryAdmin, directory: SqlDirectory, tenant: Tenant, name: str, app_id: str | None
) -> Application:
    if app_id is not None:
        existing = directory.find_home_application(app_id)
        if existing is not None and existing.tenant_id != tenant.id:
            raise SeedError(f"app {app_id} already exists in another tenant")
    else:
        existing = next((a for a in directory.applications(tenant.id) if a.display_name == name), None)
    return existing or admin.create_app(tenant.id, name, app_id=app_id)


def _list(entry: Any, key: str, what: str) -> list[Any]:
    value = entry.get(key, []) if isinstance(entry, Mapping) else None
    if not isinstance(value, list):
        raise SeedError(f"'{key}' in {what} must be a list")
    return value


def _mapping(entry: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping) or "name" not in entry:
        raise SeedError(f"{where} must be a mapping with a 'name'")
    return entry


def _optional_str(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return None if value is None else str(value)
