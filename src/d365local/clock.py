"""Time as an injected dependency, so tests never sleep and token lifetimes are exact."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time as POSIX seconds."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()


@dataclass
class FrozenClock:
    """A clock that only moves when told to (tests)."""

    current: float

    def now(self) -> float:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += seconds


@dataclass(frozen=True)
class SkewedClock:
    """The wall clock plus a fixed offset: ``serve --clock-skew`` reproduces a server whose clock is wrong."""

    offset: float

    def now(self) -> float:
        return time.time() + self.offset
