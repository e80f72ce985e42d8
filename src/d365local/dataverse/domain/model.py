"""Organizations, application users, security roles and privileges: who may do what in a Dataverse org."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum, IntEnum

from d365local.dataverse.schema.metadata import metadata_id

SYSTEM_ADMINISTRATOR = "System Administrator"
BASIC_USER = "Basic User"
ACCESS_MODE_NON_INTERACTIVE = 4


class Depth(IntEnum):
    """How far a privilege reaches; the values are Dataverse's ``privilegedepthmask`` bits."""

    BASIC = 1
    """Records the user owns."""
    LOCAL = 2
    """Records in the user's business unit."""
    DEEP = 4
    """The business unit and its children."""
    GLOBAL = 8
    """Every record in the organization."""

    @classmethod
    def parse(cls, text: str) -> Depth:
        """``Basic|User``, ``Local|BusinessUnit``, ``Deep|ParentChild``, ``Global|Organization`` (any case)."""
        key = text.strip().lower()
        aliases = {"user": cls.BASIC, "businessunit": cls.LOCAL, "parentchild": cls.DEEP, "organization": cls.GLOBAL}
        if key in aliases:
            return aliases[key]
        try:
            return cls[key.upper()]
        except KeyError:
            raise ValueError(f"unknown depth {text!r}: use Basic, Local, Deep or Global") from None


class Access(Enum):
    """The eight access rights a privilege grants on a table."""

    CREATE = "Create"
    READ = "Read"
    WRITE = "Write"
    DELETE = "Delete"
    APPEND = "Append"
    APPEND_TO = "AppendTo"
    ASSIGN = "Assign"
    SHARE = "Share"

    @classmethod
    def parse(cls, text: str) -> Access:
        for access in cls:
            if access.value.lower() == text.strip().lower():
                return access
        raise ValueError(f"unknown access right {text!r}: use {', '.join(a.value for a in cls)}")


def privilege_name(access: Access, table_schema_name: str) -> str:
    """Dataverse's privilege names: ``prvReadAccount``, ``prvAppendToContact``."""
    return f"prv{access.value}{table_schema_name}"


def privilege_id(name: str) -> uuid.UUID:
    return metadata_id("privilege", name.lower())


@dataclass(frozen=True)
class Organization:
    id: str
    tenant_id: str
    name: str
    url: str
    business_unit_id: str
    """The root business unit."""
    throttling: bool = True


@dataclass(frozen=True)
class RolePrivilege:
    name: str
    """``prvReadAccount``."""
    depth: Depth


@dataclass(frozen=True)
class Role:
    id: str
    org_id: str
    name: str
    business_unit_id: str
    privileges: tuple[RolePrivilege, ...]

    @property
    def is_builtin(self) -> bool:
        return self.name in (SYSTEM_ADMINISTRATOR, BASIC_USER)


@dataclass(frozen=True)
class ApplicationUser:
    """A ``systemuser`` with ``accessmode`` 4 (Non-interactive), bound to an app registration."""

    id: str
    org_id: str
    application_id: str
    object_id: str | None
    """The app's service principal object id (``azureactivedirectoryobjectid``), when known."""
    full_name: str
    business_unit_id: str
    disabled: bool
    role_ids: tuple[str, ...]
