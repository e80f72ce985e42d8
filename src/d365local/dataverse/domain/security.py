"""Pure authorization rules: may this user do <access> on <table> (and on this record), given its roles.

The deepest grant of a privilege across the user's roles wins. Depth: Basic = records the user owns; Local = the
user's business unit; Deep = that unit and its children; Global = every record
(docs/reference/dataverse.md, "Application users and roles").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from d365local.dataverse import errors
from d365local.dataverse.domain.model import (
    SYSTEM_ADMINISTRATOR,
    Access,
    ApplicationUser,
    Depth,
    Role,
    privilege_id,
    privilege_name,
)
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.schema.metadata import EntityDefinition


@dataclass(frozen=True)
class Ownership:
    """Which columns of a table decide who a row belongs to, for depth checks."""

    owner: str | None
    """The column naming the owning user (``ownerid``; ``systemuserid`` for a user's own record)."""
    business_unit: str | None
    """The column naming the row's business unit; None with no owner either: the table is organization-owned."""

    @classmethod
    def of(cls, table: EntityDefinition) -> Ownership:
        if table.column("ownerid") is not None:
            return cls("ownerid", "owningbusinessunit")
        if table.logical_name == "systemuser":
            return cls(table.primary_id, "businessunitid")  # Basic depth on users reaches the user's own record
        if table.logical_name == "businessunit":
            return cls(None, table.primary_id)
        if table.column("businessunitid") is not None:
            return cls(None, "businessunitid")
        return cls(None, None)

    def of_row(self, row: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(owning user, owning business unit) of a row."""
        owner = row.get(self.owner) if self.owner else None
        unit = row.get(self.business_unit) if self.business_unit else None
        return (str(owner) if owner is not None else None), (str(unit) if unit is not None else None)


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

    def allows_row(self, table: EntityDefinition, row: Mapping[str, Any]) -> bool:
        """Whether this grant reaches ``row`` of ``table`` (organization-owned tables: every row)."""
        ownership = Ownership.of(table)
        if ownership.owner is None and ownership.business_unit is None:
            return True
        return self.allows(*ownership.of_row(row))


@dataclass(frozen=True)
class Permissions:
    """The resolved privileges of one application user."""

    user: ApplicationUser
    roles: tuple[Role, ...]
    depths: dict[str, Depth]
    """Privilege name (lower-case) → deepest depth granted."""
    administrator: bool = False
    """Holds System Administrator: every privilege at Global depth, also those of tables created after the role
    was stored (Dataverse grants a new table's privileges to System Administrator at once)."""

    @classmethod
    def of(cls, user: ApplicationUser, roles: Sequence[Role]) -> Permissions:
        depths: dict[str, Depth] = {}
        for role in roles:
            for privilege in role.privileges:
                key = privilege.name.lower()
                depths[key] = max(depths.get(key, privilege.depth), privilege.depth)
        return cls(user, tuple(roles), depths, any(role.name == SYSTEM_ADMINISTRATOR for role in roles))

    def require_roles(self) -> None:
        if not self.roles:
            raise DataverseError(errors.NO_ROLES, user_id=self.user.id)

    def grant(self, access: Access, table: EntityDefinition) -> Grant:
        """The grant for ``access`` on ``table``, or PrivilegeDenied naming the missing privilege."""
        self.require_roles()
        depth = self.depth_of(privilege_name(access, table.privilege_stem))
        if depth is None:
            raise self.denied(access, table)
        return Grant(depth, self.user.id, frozenset({self.user.business_unit_id}))

    def depth_of(self, privilege: str) -> Depth | None:
        """The deepest depth of a privilege this user holds, None without it."""
        return Depth.GLOBAL if self.administrator else self.depths.get(privilege.lower())

    def require(self, privilege: str, table: EntityDefinition) -> None:
        """PrivilegeDenied unless the user holds ``privilege`` (e.g. ``prvCreateEntity`` to create a table)."""
        self.require_roles()
        if self.depth_of(privilege) is None:
            raise self.denied_privilege(privilege, table)

    def grant_on(self, access: Access, table: EntityDefinition, row: Mapping[str, Any]) -> Grant:
        """The grant for ``access`` on one record: PrivilegeDenied unless the privilege's depth reaches it."""
        grant = self.grant(access, table)
        if not grant.allows_row(table, row):
            raise self.denied(access, table)
        return grant

    def beyond_own(self, role: Role) -> str | None:
        """The first privilege of ``role`` this user does not hold at the role's depth or deeper, if any: Dataverse
        lets a user hand out only what it has itself."""
        for privilege in role.privileges:
            held = self.depth_of(privilege.name)
            if held is None or held < privilege.depth:
                return privilege.name
        return None

    def denied_privilege(self, name: str, table: EntityDefinition) -> DataverseError:
        """PrivilegeDenied naming ``name`` (a privilege that need not be ``table``'s own)."""
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

    def denied(self, access: Access, table: EntityDefinition) -> DataverseError:
        """PrivilegeDenied (0x80040220) naming the privilege, as Dataverse words it."""
        return self.denied_privilege(privilege_name(access, table.privilege_stem), table)
