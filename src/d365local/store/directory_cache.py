"""A read cache of the directory for the token hot path, validated by the change counter (``generation_cache``)."""

from __future__ import annotations

from collections.abc import Sequence

from d365local.identity.model import Application, Certificate, ClientSecret, Organization, SigningKey, Tenant
from d365local.store.directory_sql import SqlDirectory
from d365local.store.generation_cache import GenerationCache


class CachedDirectoryReader:
    """Implements ``identity.directory.DirectoryReader`` over a :class:`SqlDirectory`."""

    def __init__(self, directory: SqlDirectory, cache: GenerationCache | None = None) -> None:
        self._directory = directory
        self._cache = cache or GenerationCache(directory.generation)

    def sync(self) -> int:
        return self._cache.sync()

    def find_tenant(self, key: str) -> Tenant | None:
        return self._cache.get(("tenant", key.lower()), lambda: self._directory.find_tenant(key))

    def find_application(self, tenant_id: str, app_id: str) -> Application | None:
        return self._cache.get(
            ("app", tenant_id, app_id.lower()), lambda: self._directory.find_application(tenant_id, app_id)
        )

    def find_home_application(self, app_id: str) -> Application | None:
        return self._cache.get(("home-app", app_id.lower()), lambda: self._directory.find_home_application(app_id))

    def client_secrets(self, app_object_id: str) -> Sequence[ClientSecret]:
        return self._cache.get(("secrets", app_object_id), lambda: tuple(self._directory.client_secrets(app_object_id)))

    def certificates(self, app_object_id: str) -> Sequence[Certificate]:
        return self._cache.get(("certs", app_object_id), lambda: tuple(self._directory.certificates(app_object_id)))

    def organizations(self, tenant_id: str | None = None) -> Sequence[Organization]:
        return self._cache.get(("orgs", tenant_id), lambda: tuple(self._directory.organizations(tenant_id)))

    def signing_keys(self) -> Sequence[SigningKey]:
        return self._cache.get(("keys",), lambda: tuple(self._directory.signing_keys()))
