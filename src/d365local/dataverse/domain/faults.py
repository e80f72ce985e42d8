"""Injected Web API failures: "the next call of this app in this org gets 429 with Retry-After: 5".

Service protection is the failure every Dataverse integration must survive; ``d365local fault throttle`` and the
pytest plugin let a test trigger it on demand instead of by hammering the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from d365local.dataverse import errors
from d365local.dataverse.domain.service_protection import Limits, ThrottledError
from d365local.dataverse.errors import DataverseCode

THROTTLE_CODES: dict[str, DataverseCode] = {
    errors.TOO_MANY_REQUESTS.code: errors.TOO_MANY_REQUESTS,
    errors.TOO_MUCH_TIME.code: errors.TOO_MUCH_TIME,
    errors.TOO_MANY_CONCURRENT.code: errors.TOO_MANY_CONCURRENT,
}
"""The service protection errors a fault can stand for (docs/reference/dataverse.md, "Service protection limits")."""


@dataclass(frozen=True)
class InjectedFault:
    code: str
    retry_after: int


class RequestFaults(Protocol):
    """Where injected faults are kept (``d365local.store`` implements it)."""

    def take_webapi_fault(self, org_id: str, app_id: str) -> InjectedFault | None:
        """Consume one pending fault for this application user's Web API calls."""


def throttle_code(text: str) -> DataverseCode:
    """``0x80072322`` (requests), ``0x80072321`` (execution time) or ``0x80072326`` (concurrency)."""
    found = THROTTLE_CODES.get(text.strip().lower())
    if found is None:
        raise ValueError(f"{text!r} is not a service protection code; choose one of: {', '.join(THROTTLE_CODES)}")
    return found


def injected_throttle(fault: InjectedFault, limits: Limits) -> ThrottledError:
    """The 429 the real limit would answer, with the fault's Retry-After."""
    code = throttle_code(fault.code)
    limit = {
        errors.TOO_MANY_REQUESTS.code: limits.requests,
        errors.TOO_MUCH_TIME.code: limits.execution_ms,
        errors.TOO_MANY_CONCURRENT.code: limits.concurrent,
    }[code.code]
    return ThrottledError(code, fault.retry_after, limit=limit, window=limits.window_seconds)
