"""Pure authorization rules: may this user do <access> on <table> (and on this record), given its roles.

The deepest grant of a privilege across the user's roles wins. Depth: Basic = records the user owns; Local = the
user's business unit; Deep = that unit and its children; Global = every record (reference/dataverse.md §B.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from d365local.dataverse import errors
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.metadata import EntityDefinition
from d365local.dataverse.model import Access, ApplicationUser, Depth, Role, privilege_id, privilege_name


@dataclass(frozen=True)
class Grant:
    """What a user may see or touch for one access right on one table."""

    depth: Depth
    user_id: str
    business_unit_ids: frozenset[str]
    """The units a Local/Deep grant reaches."""

    def allows(self, owner_id: str | None, owning_business_unit: str | None) -> bool:
        if self.depth is Depth.GLOBAL:
            return True
        if self.depth is Depth.BASIC:
            return owner_id == self.user_id
        return owning_business_unit in self.business_unit_ids or owner_id == self.user_id


@dataclass(frozen=True)
class Permissions:
    """The resolved privileges of one application user."""

    user: ApplicationUser
    roles: tuple[Role, ...]
    depths: dict[str, Depth]
    """Privilege name (lower-case) → deepest depth granted."""

    @classmethod
    def of(cls, user: ApplicationUser, roles: Sequence[Role]) -> Permissions:
        depths: dict[str, Depth] = {}
        for role in roles:
            for privilege in role.privileges:
                key = privilege.name.lower()
                depths[key] = max(depths.get(key, privilege.depth), privilege.depth)
        return cls(user, tuple(roles), depths)

    def require_roles(self) -> None:
        if not self.roles:
            raise DataverseError(errors.NO_ROLES, user_id=self.user.id)

    def grant(self, access: Access, table: EntityDefinition) -> Grant:
        """The grant for ``access`` on ``table``, or PrivilegeDenied naming the missing privilege."""
        self.require_roles()
        depth = self.depths.get(privilege_name(access, table.schema_name).lower())
        if depth is None:
            raise self.denied(access, table)
        return Grant(depth, self.user.id, frozenset({self.user.business_unit_id}))

    def denied(self, access: Access, table: EntityDefinition) -> DataverseError:
        """PrivilegeDenied (0x80040220) naming the privilege, as Dataverse words it."""
        name = privilege_name(access, table.schema_name)
        return DataverseError(
            errors.PRIVILEGE_DENIED,
            user_id=self.user.id,
            role_count=len(self.roles),
            privilege_count=len(self.depths),
            privilege=name,
            privilege_id=privilege_id(name),
            otc=table.object_type_code,
            entity=table.logical_name,
        )
