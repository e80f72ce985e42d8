"""The storage port of the Dataverse side: organizations, application users, roles and their privileges.

``d365local.store`` implements it on SQL; Dataverse code never imports storage. Records have their own port in
``records`` (they need the metadata to be stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from d365local.dataverse.model import ApplicationUser, Organization, Role, RolePrivilege


class SecurityStore(Protocol):
    def organizations(self) -> Sequence[Organization]:
        """Every organization with its Dataverse side in place, URLs on the current public base URL."""

    def missing_organizations(self) -> Sequence[tuple[str, str, str]]:
        """(id, tenant id, unique name) of organizations registered on the identity side only."""

    def add_organization(self, org_id: str, business_unit_id: str, business_unit_name: str, now: float) -> None: ...

    def set_throttling(self, org_id: str, enabled: bool) -> None: ...

    def application_users(self, org_id: str) -> Sequence[ApplicationUser]: ...

    def application_user(self, org_id: str, application_id: str) -> ApplicationUser | None: ...

    def add_application_user(self, user: ApplicationUser, now: float) -> None: ...

    def set_user_disabled(self, org_id: str, user_id: str, disabled: bool) -> None: ...

    def roles(self, org_id: str) -> Sequence[Role]: ...

    def add_role(self, role: Role, now: float) -> None: ...

    def set_role_privileges(self, role_id: str, privileges: Sequence[RolePrivilege]) -> None: ...

    def assign_role(self, user_id: str, role_id: str) -> None: ...

    def remove_role(self, user_id: str, role_id: str) -> bool: ...
