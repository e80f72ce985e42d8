"""Fault injection as use cases: make an app's next token request or Web API call fail on purpose.

Both halves answer injected faults in their own wire shapes (``identity.faults``, ``dataverse.domain.faults``); this
module is where they are asked for — by ``d365local fault`` and by the pytest plugin — validated against the two
catalogues and stored. Faults are consumed one request at a time, by whichever server process serves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from d365local.clock import Clock
from d365local.dataverse.domain.admin import DataverseAdmin
from d365local.dataverse.domain.faults import throttle_code
from d365local.identity.admin import DirectoryAdmin
from d365local.identity.faults import injectable_code

Target = Literal["token", "webapi"]
MAX_COUNT = 10_000
MAX_RETRY_AFTER = 86_400


class FaultError(ValueError):
    """The fault asked for cannot be injected; the message says why."""


@dataclass(frozen=True)
class Fault:
    id: int
    target: Target
    scope_id: str
    """The tenant (token faults) or the organization (Web API faults)."""
    app_id: str
    code: str
    retry_after: int | None
    remaining: int
    created_at: float


class FaultStore(Protocol):
    def add_fault(
        self, target: Target, scope_id: str, app_id: str, code: str, retry_after: int | None, count: int, now: float
    ) -> Fault: ...

    def faults(self) -> Sequence[Fault]: ...

    def clear_faults(self, app_id: str | None = None) -> int:
        """Remove pending faults (of one app, or all); how many were removed."""


class FaultInjection:
    def __init__(self, store: FaultStore, directory: DirectoryAdmin, dataverse: DataverseAdmin, clock: Clock) -> None:
        self._store = store
        self._directory = directory
        self._dataverse = dataverse
        self._clock = clock

    def fail_token_requests(self, tenant_key: str, app_id: str, code: str, *, count: int = 1) -> Fault:
        """The app's next ``count`` token requests in this tenant fail with ``code`` (e.g. ``AADSTS7000222``)."""
        try:
            entry = injectable_code(code)
        except ValueError as exc:
            raise FaultError(str(exc)) from exc
        app = self._directory.app(tenant_key, app_id)
        return self._store.add_fault(
            "token", app.tenant_id, app.app_id.lower(), f"AADSTS{entry.number}", None, _count(count), self._clock.now()
        )

    def throttle_webapi(
        self, org_key: str, app_id: str, *, retry_after: int = 5, code: str = "0x80072322", count: int = 1
    ) -> Fault:
        """The app's next ``count`` Web API calls in this org get 429 with ``Retry-After: retry_after``."""
        try:
            entry = throttle_code(code)
        except ValueError as exc:
            raise FaultError(str(exc)) from exc
        if not 0 <= retry_after <= MAX_RETRY_AFTER:
            raise FaultError(f"Retry-After is 0..{MAX_RETRY_AFTER} seconds, got {retry_after}")
        user = self._dataverse.application_user(org_key, app_id)
        return self._store.add_fault(
            "webapi", user.org_id, user.application_id, entry.code, retry_after, _count(count), self._clock.now()
        )

    def faults(self) -> Sequence[Fault]:
        return self._store.faults()

    def clear(self, app_id: str | None = None) -> int:
        return self._store.clear_faults(app_id.lower() if app_id else None)


def _count(count: int) -> int:
    if not 1 <= count <= MAX_COUNT:
        raise FaultError(f"a fault applies to 1..{MAX_COUNT} requests, got {count}")
    return count
