"""The storage ports of the Dataverse side: security (orgs, application users, roles) and records.

``d365local.store`` implements it on SQL; Dataverse code never imports storage.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from d365local.dataverse.domain.binding.tree import BoundExpression, BoundOrder
from d365local.dataverse.domain.model import ApplicationUser, Organization, Role, RolePrivilege
from d365local.dataverse.domain.security import Grant
from d365local.dataverse.schema.customizations import Customizations
from d365local.dataverse.schema.metadata import Catalog, EntityDefinition, ManyToManyDefinition


class SecurityStore(Protocol):
    def organizations(self, key: str | None = None) -> Sequence[Organization]:
        """Every organization with its Dataverse side in place (or those whose unique name or id is ``key``),
        URLs on the current public base URL."""

    def missing_organizations(self) -> Sequence[tuple[str, str, str]]:
        """(id, tenant id, unique name) of organizations registered on the identity side only."""

    def add_organization(self, org_id: str, business_unit_id: str, business_unit_name: str, now: float) -> None: ...

    def set_throttling(self, org_id: str, enabled: bool) -> None: ...

    def application_users(self, org_id: str) -> Sequence[ApplicationUser]: ...

    def application_user(self, org_id: str, application_id: str) -> ApplicationUser | None: ...

    def user(self, org_id: str, user_id: str) -> ApplicationUser | None:
        """Any ``systemuser`` of the org by id, with its roles (its application id may be empty)."""

    def add_application_user(self, user: ApplicationUser, now: float) -> None: ...

    def set_user_disabled(self, org_id: str, user_id: str, disabled: bool) -> None: ...

    def roles(self, org_id: str) -> Sequence[Role]: ...

    def add_role(self, role: Role, now: float) -> None: ...

    def set_role_privileges(self, org_id: str, role_id: str, privileges: Sequence[RolePrivilege]) -> None: ...

    def assign_role(self, org_id: str, user_id: str, role_id: str) -> None: ...

    def remove_role(self, org_id: str, user_id: str, role_id: str) -> bool: ...


class CustomizationStore(Protocol):
    def change(self, org_id: str, change: Callable[[Customizations, Catalog], Customizations]) -> Customizations:
        """Apply ``change`` to the organization's customizations (it gets them and the built-in catalog they extend)
        atomically with the storage they need; the next request, in any process, sees the new schema."""


Row = dict[str, Any]
"""A record as stored: logical column name → value (and ``<lookup>_type`` for polymorphic lookups)."""


@dataclass(frozen=True)
class RecordQuery:
    """A read of many rows: filter, order, window, and the reach of the caller's Read privilege.

    ``filter`` and ``orderby`` are bound (``dataverse.domain.binding``): every name in them is a column of the table.
    """

    filter: BoundExpression | None = None
    orderby: tuple[BoundOrder, ...] = ()
    limit: int | None = None
    offset: int = 0
    grant: Grant | None = None
    """None = every row; otherwise only rows the grant allows (Basic: owned, Local: same business unit)."""
    user_id: str = ""
    business_unit_id: str = ""
    now: float = 0.0
    within: tuple[str, frozenset[str]] | None = None
    """(column, values): only rows whose column holds one of the values — a page's related rows in one query."""


class RecordStore(Protocol):
    def insert(self, entity: EntityDefinition, org_id: str, values: Mapping[str, Any]) -> None:
        """Raises DataverseError DUPLICATE_RECORD / DUPLICATE_KEY on a taken id or alternate key."""

    def insert_many(self, entity: EntityDefinition, org_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """One statement for all rows; on a taken id or key, the same errors as :meth:`insert`."""

    def fetch(self, entity: EntityDefinition, org_id: str, record_id: str) -> Row | None: ...

    def fetch_by_key(self, entity: EntityDefinition, org_id: str, key: Mapping[str, Any]) -> Row | None: ...

    def update(self, entity: EntityDefinition, org_id: str, record_id: str, values: Mapping[str, Any]) -> None: ...

    def delete(self, entity: EntityDefinition, org_id: str, record_id: str) -> bool: ...

    def select(self, entity: EntityDefinition, org_id: str, query: RecordQuery) -> list[Row]: ...

    def count(self, entity: EntityDefinition, org_id: str, query: RecordQuery) -> int: ...

    def names(self, entity: EntityDefinition, org_id: str, record_ids: Collection[str]) -> dict[str, str]:
        """Primary names by record id (lower-case), for the ids that exist and have one."""

    def atomic(self) -> AbstractContextManager[None]:
        """All record writes inside happen together or not at all (change sets, CreateMultiple)."""

    def synchronize(self, entity: EntityDefinition, org_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Make the organization's rows of a system table exactly ``rows`` (by primary id): the missing ones are
        inserted, the others deleted, those present left as they are."""

    def link(self, relationship: ManyToManyDefinition, org_id: str, first_id: str, second_id: str) -> None:
        """Associate two records of an N:N relationship (``entity1``'s, then ``entity2``'s); DUPLICATE_RECORD if
        they already are."""

    def unlink(self, relationship: ManyToManyDefinition, org_id: str, first_id: str, second_id: str) -> bool:
        """Disassociate them; False if they were not associated."""

    def linked(
        self, relationship: ManyToManyDefinition, org_id: str, from_first: bool, record_ids: Collection[str]
    ) -> dict[str, set[str]]:
        """For records of one side (``entity1`` when ``from_first``), the ids of the other side's records they are
        associated with, in one query: record id (lower-case) → related ids (lower-case)."""
