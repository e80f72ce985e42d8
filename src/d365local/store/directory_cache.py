"""A read cache of the directory for the token hot path, validated by the change counter.

``sync()`` (once per request) reads the one-row change counter; when any admin write — from the CLI, another
worker or another host — has bumped it, every cached answer is dropped. So "the next request sees the change"
holds while a token request costs one tiny query instead of five.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from d365local.identity.model import Application, Certificate, ClientSecret, Organization, SigningKey, Tenant
from d365local.store.directory_sql import SqlDirectory

T = TypeVar("T")
MAX_ENTRIES = 50_000
"""Beyond this many cached answers the cache starts over (bounded memory against lookups of random names)."""


class CachedDirectoryReader:
    """Implements ``identity.directory.DirectoryReader`` over a :class:`SqlDirectory`."""

    def __init__(self, directory: SqlDirectory) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._generation = -1
        self._entries: dict[tuple[str, str | None], object] = {}

    def sync(self) -> int:
        """Drop cached answers if the directory changed since the last call; return the current generation."""
        generation = self._directory.generation()
        with self._lock:
            if generation != self._generation:
                self._entries = {}
                self._generation = generation
        return generation

    def _cached(self, key: tuple[str, str | None], load: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                return self._entries[key]  # type: ignore[return-value]
            generation = self._generation
        value = load()
        with self._lock:
            # A write may have landed while loading; only keep answers loaded under the current generation.
            if generation == self._generation:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries = {}
                self._entries[key] = value
        return value

    def find_tenant(self, key: str) -> Tenant | None:
        return self._cached(("tenant", key.lower()), lambda: self._directory.find_tenant(key))

    def find_application(self, tenant_id: str, app_id: str) -> Application | None:
        return self._cached(
            ("app", f"{tenant_id}/{app_id.lower()}"), lambda: self._directory.find_application(tenant_id, app_id)
        )

    def find_home_application(self, app_id: str) -> Application | None:
        return self._cached(("home-app", app_id.lower()), lambda: self._directory.find_home_application(app_id))

    def client_secrets(self, app_object_id: str) -> Sequence[ClientSecret]:
        return self._cached(("secrets", app_object_id), lambda: tuple(self._directory.client_secrets(app_object_id)))

    def certificates(self, app_object_id: str) -> Sequence[Certificate]:
        return self._cached(("certs", app_object_id), lambda: tuple(self._directory.certificates(app_object_id)))

    def organizations(self, tenant_id: str | None = None) -> Sequence[Organization]:
        return self._cached(("orgs", tenant_id), lambda: tuple(self._directory.organizations(tenant_id)))

    def signing_keys(self) -> Sequence[SigningKey]:
        return self._cached(("keys", None), lambda: tuple(self._directory.signing_keys()))
