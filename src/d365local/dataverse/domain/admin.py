"""The Dynamics 365 administrator's steps: organizations' security setup, application users, security roles.

"Application Users → New": a ``systemuser`` bound to an app's client id, in the root business unit, with
``accessmode`` 4 and — only when asked — security roles (without one every Web API call answers 0x80042f09).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence

from d365local.clock import Clock
from d365local.dataverse.domain.builtin_roles import CUSTOMIZATION_PRIVILEGES, builtin_roles
from d365local.dataverse.domain.model import (
    SYSTEM_ADMINISTRATOR,
    Access,
    ApplicationUser,
    Depth,
    Organization,
    Role,
    RolePrivilege,
    privilege_name,
)
from d365local.dataverse.domain.storage import SecurityStore
from d365local.dataverse.schema.metadata import Catalog

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_PRIVILEGE = re.compile(r"^prv[A-Za-z][A-Za-z0-9_]*$")
MAX_ROLE_NAME = 100


class DataverseAdminError(ValueError):
    """An admin step that cannot be done as asked; the message says what to do instead."""


class DataverseAdmin:
    def __init__(
        self,
        store: SecurityStore,
        catalog: Catalog,
        clock: Clock,
        *,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        catalogs: Callable[[str], Catalog] | None = None,
    ) -> None:
        """``catalogs`` gives an organization's own catalog (with its custom tables, whose privileges roles may
        hold); without it every organization has the built-in ``catalog``."""
        self._store = store
        self._catalog = catalog
        self._catalogs = catalogs or (lambda _org_id: catalog)
        self._clock = clock
        self._new_id = new_id

    # -- organizations ---------------------------------------------------------------------------------------
    def ensure_organizations(self) -> None:
        """Give every registered org its root business unit and built-in roles (idempotent)."""
        for org_id, _tenant_id, name in self._store.missing_organizations():
            now = self._clock.now()
            business_unit = self._new_id()
            self._store.add_organization(org_id, business_unit, name, now)
            for role_name, privileges in builtin_roles(self._catalog).items():
                self._store.add_role(Role(self._new_id(), org_id, role_name, business_unit, privileges), now)
        self._complete_system_administrators()

    def _complete_system_administrators(self) -> None:
        """System Administrator holds every privilege of every table, as in Dataverse, also for tables added since
        the org was created (a newer catalog, a custom table)."""
        everything = builtin_roles(self._catalog)[SYSTEM_ADMINISTRATOR]
        for org in self._store.organizations():
            for role in self._store.roles(org.id):
                if role.name != SYSTEM_ADMINISTRATOR:
                    continue
                held = {p.name: p for p in role.privileges}
                if all(held.get(p.name) == p for p in everything):
                    continue
                held.update({p.name: p for p in everything})
                self._store.set_role_privileges(org.id, role.id, tuple(held.values()))

    def organization(self, key: str) -> Organization:
        """By unique name, id or URL."""
        wanted = key.strip().rstrip("/").lower()
        by_name_or_id = self._store.organizations(wanted) if "/" not in wanted else ()
        for org in by_name_or_id or self._store.organizations():
            if wanted in (org.name, org.id.lower(), org.url.rstrip("/").lower()):
                return org
        names = ", ".join(o.name for o in self._store.organizations()) or "none yet"
        raise DataverseAdminError(f"no organization {key!r} (known: {names}); create one with `org create`")

    def organizations(self) -> Sequence[Organization]:
        return self._store.organizations()

    def set_throttling(self, org_key: str, enabled: bool) -> Organization:
        org = self.organization(org_key)
        self._store.set_throttling(org.id, enabled)
        return self.organization(org.id)

    # -- application users -----------------------------------------------------------------------------------
    def create_application_user(
        self, org_key: str, application_id: str, *, object_id: str | None, full_name: str, roles: Sequence[str] = ()
    ) -> ApplicationUser:
        org = self.organization(org_key)
        if not _GUID.match(application_id):
            raise DataverseAdminError(
                f"the application id must be the app's client id (a GUID), got {application_id!r}"
            )
        if self._store.application_user(org.id, application_id) is not None:
            raise DataverseAdminError(f"org {org.name} already has an application user for app {application_id}")
        role_ids = tuple(self._role(org, name).id for name in roles)
        user = ApplicationUser(
            id=self._new_id(),
            org_id=org.id,
            application_id=application_id.lower(),
            object_id=object_id,
            full_name=(full_name.strip() or f"# {application_id}")[:200],
            business_unit_id=org.business_unit_id,
            disabled=False,
            role_ids=role_ids,
        )
        self._store.add_application_user(user, self._clock.now())
        return self.application_user(org.id, application_id)

    def application_user(self, org_key: str, application_id: str) -> ApplicationUser:
        org = self.organization(org_key)
        user = self._store.application_user(org.id, application_id)
        if user is None:
            raise DataverseAdminError(
                f"org {org.name} has no application user for app {application_id}: create it with `appuser create`"
            )
        return user

    def application_users(self, org_key: str) -> Sequence[ApplicationUser]:
        return self._store.application_users(self.organization(org_key).id)

    def set_user_disabled(self, org_key: str, application_id: str, disabled: bool) -> ApplicationUser:
        user = self.application_user(org_key, application_id)
        self._store.set_user_disabled(user.org_id, user.id, disabled)
        return self.application_user(user.org_id, application_id)

    # -- roles -----------------------------------------------------------------------------------------------
    def roles(self, org_key: str) -> Sequence[Role]:
        return self._store.roles(self.organization(org_key).id)

    def create_role(self, org_key: str, name: str, privileges: Sequence[str] = ()) -> Role:
        """A custom role; each privilege is ``prvReadAccount`` or ``prvReadAccount:Global`` (default Global)."""
        org = self.organization(org_key)
        clean = name.strip()
        if not clean or len(clean) > MAX_ROLE_NAME or not clean.isprintable():
            raise DataverseAdminError(f"a role name is 1-{MAX_ROLE_NAME} printable characters")
        if any(r.name.lower() == clean.lower() for r in self._store.roles(org.id)):
            raise DataverseAdminError(f"org {org.name} already has a role named {clean!r}")
        parsed = tuple(self._privilege(p, self._catalogs(org.id)) for p in privileges)
        names = [p.name.lower() for p in parsed]
        repeated = next((p.name for p in parsed if names.count(p.name.lower()) > 1), None)
        if repeated is not None:
            raise DataverseAdminError(f"the privilege {repeated} is listed more than once: give it once, at one depth")
        role = Role(self._new_id(), org.id, clean, org.business_unit_id, parsed)
        self._store.add_role(role, self._clock.now())
        return self._role(org, clean)

    def assign_role(self, org_key: str, application_id: str, role_name: str) -> ApplicationUser:
        user = self.application_user(org_key, application_id)
        role = self._role(self.organization(user.org_id), role_name)
        self._store.assign_role(user.org_id, user.id, role.id)
        return self.application_user(user.org_id, application_id)

    def remove_role(self, org_key: str, application_id: str, role_name: str) -> ApplicationUser:
        user = self.application_user(org_key, application_id)
        role = self._role(self.organization(user.org_id), role_name)
        if not self._store.remove_role(user.org_id, user.id, role.id):
            raise DataverseAdminError(f"the application user does not have the role {role.name!r}")
        return self.application_user(user.org_id, application_id)

    def _role(self, org: Organization, name: str) -> Role:
        roles = self._store.roles(org.id)
        role = next((r for r in roles if r.name.lower() == name.strip().lower() or r.id == name), None)
        if role is None:
            known = ", ".join(r.name for r in roles)
            raise DataverseAdminError(f"org {org.name} has no role {name!r} (roles: {known})")
        return role

    def _privilege(self, text: str, catalog: Catalog) -> RolePrivilege:
        name, _, depth = text.partition(":")
        if not _PRIVILEGE.match(name.strip()):
            raise DataverseAdminError(f"a privilege looks like prvReadAccount or prvReadAccount:Basic, got {text!r}")
        # Dataverse's names (prvReadUser), and the table's schema name in their place (prvReadSystemUser) too.
        known: dict[str, str] = {name.lower(): name for name in CUSTOMIZATION_PRIVILEGES}
        for table in catalog.entities:
            for access in Access:
                official = privilege_name(access, table.privilege_stem)
                known[official.lower()] = official
                known[privilege_name(access, table.schema_name).lower()] = official
        wanted = known.get(name.strip().lower())
        if wanted is None:
            raise DataverseAdminError(
                f"unknown privilege {name!r}: prv<Create|Read|Write|…><Table>, e.g. prvReadAccount or prvWriteUser"
            )
        try:
            return RolePrivilege(wanted, Depth.parse(depth) if depth else Depth.GLOBAL)
        except ValueError as exc:
            raise DataverseAdminError(str(exc)) from exc
