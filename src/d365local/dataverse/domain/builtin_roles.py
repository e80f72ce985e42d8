"""The security roles every organization starts with."""

from __future__ import annotations

from d365local.dataverse.domain.model import (
    BASIC_USER,
    SYSTEM_ADMINISTRATOR,
    Access,
    Depth,
    RolePrivilege,
    privilege_name,
)
from d365local.dataverse.schema.metadata import Catalog

BUSINESS_TABLES = ("account", "contact", "lead", "opportunity", "task")
DIRECTORY_TABLES = ("systemuser", "businessunit", "team", "role")
CUSTOMIZATION_PRIVILEGES = tuple(
    f"prv{access}{component}"
    for component in ("Entity", "Attribute", "Relationship", "EntityKey", "OptionSet")
    for access in ("Create", "Read", "Write", "Delete")
)
"""Privileges of schema changes (the metadata Web API): System Administrator and System Customizer hold them."""


def builtin_roles(catalog: Catalog) -> dict[str, tuple[RolePrivilege, ...]]:
    """System Administrator: everything, Global. Basic User: its own business records, and reading the directory."""
    # Several tables may share their privileges (every activity table has prvReadActivity): each named once.
    administrator = tuple(
        dict.fromkeys(
            RolePrivilege(privilege_name(access, table.privilege_stem), Depth.GLOBAL)
            for table in catalog.entities
            for access in Access
        )
    ) + tuple(RolePrivilege(name, Depth.GLOBAL) for name in CUSTOMIZATION_PRIVILEGES)
    basic: list[RolePrivilege] = []
    for table in catalog.entities:
        if table.logical_name in BUSINESS_TABLES:
            basic += [RolePrivilege(privilege_name(access, table.privilege_stem), Depth.BASIC) for access in Access]
        elif table.logical_name in DIRECTORY_TABLES:
            basic.append(RolePrivilege(privilege_name(Access.READ, table.privilege_stem), Depth.LOCAL))
    return {SYSTEM_ADMINISTRATOR: administrator, BASIC_USER: tuple(dict.fromkeys(basic))}
