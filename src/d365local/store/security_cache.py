"""A read cache of the Dataverse security store for the Web API hot path, validated by the change counter."""

from __future__ import annotations

from collections.abc import Sequence

from d365local.dataverse.domain.model import ApplicationUser, Organization, Role, RolePrivilege
from d365local.store.generation_cache import GenerationCache
from d365local.store.security_sql import SqlSecurityStore


class CachedSecurityStore:
    """Implements ``dataverse.domain.storage.SecurityStore``: cached reads, writes passed through."""

    def __init__(self, store: SqlSecurityStore, cache: GenerationCache) -> None:
        self._store = store
        self._cache = cache

    def organizations(self, key: str | None = None) -> Sequence[Organization]:
        return self._cache.get(("dv-orgs", key), lambda: tuple(self._store.organizations(key)))

    def missing_organizations(self) -> Sequence[tuple[str, str, str]]:
        return self._store.missing_organizations()

    def add_organization(self, org_id: str, business_unit_id: str, business_unit_name: str, now: float) -> None:
        self._store.add_organization(org_id, business_unit_id, business_unit_name, now)

    def set_throttling(self, org_id: str, enabled: bool) -> None:
        self._store.set_throttling(org_id, enabled)

    def application_users(self, org_id: str) -> Sequence[ApplicationUser]:
        return self._store.application_users(org_id)

    def application_user(self, org_id: str, application_id: str) -> ApplicationUser | None:
        return self._cache.get(
            ("dv-user", org_id, application_id.lower()), lambda: self._store.application_user(org_id, application_id)
        )

    def user(self, org_id: str, user_id: str) -> ApplicationUser | None:
        return self._store.user(org_id, user_id)

    def add_application_user(self, user: ApplicationUser, now: float) -> None:
        self._store.add_application_user(user, now)

    def set_user_disabled(self, org_id: str, user_id: str, disabled: bool) -> None:
        self._store.set_user_disabled(org_id, user_id, disabled)

    def roles(self, org_id: str) -> Sequence[Role]:
        return self._cache.get(("dv-roles", org_id), lambda: tuple(self._store.roles(org_id)))

    def add_role(self, role: Role, now: float) -> None:
        self._store.add_role(role, now)

    def set_role_privileges(self, org_id: str, role_id: str, privileges: Sequence[RolePrivilege]) -> None:
        self._store.set_role_privileges(org_id, role_id, privileges)

    def assign_role(self, org_id: str, user_id: str, role_id: str) -> None:
        self._store.assign_role(org_id, user_id, role_id)

    def remove_role(self, org_id: str, user_id: str, role_id: str) -> bool:
        return self._store.remove_role(org_id, user_id, role_id)
