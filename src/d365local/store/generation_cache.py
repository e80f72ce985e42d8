"""Answers cached until the change counter moves: the one caching rule of d365local
(docs/design.md, "Caches and the change signal").

``sync()`` reads the one-row change counter once per request; when any admin write — from the CLI, another worker
or another host — has bumped it, every cached answer is dropped. So "the next request sees the change" holds while
the hot path costs one tiny query instead of several.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")
MAX_ENTRIES = 50_000
"""Beyond this many cached answers the cache starts over (bounded memory against lookups of random names)."""


class GenerationCache:
    def __init__(self, generation: Callable[[], int], *, changed_marker: Callable[[], int] | None = None) -> None:
        """``changed_marker``, when given, is a cheaper value that moves whenever anything was committed (SQLite's
        ``PRAGMA data_version``): while it stands still the change counter need not be read at all."""
        self._read_generation = generation
        self._changed_marker = changed_marker
        self._marker: int | None = None
        self._lock = threading.Lock()
        self._generation = -1
        self._entries: dict[Hashable, object] = {}

    def sync(self) -> int:
        """Drop cached answers if the store changed since the last call; return the current generation."""
        if self._changed_marker is not None:
            marker = self._changed_marker()
            with self._lock:
                if marker == self._marker and self._generation >= 0:
                    return self._generation
                # Read before the counter: a commit landing in between moves the marker again, so it is not missed.
                self._marker = marker
        generation = self._read_generation()
        with self._lock:
            if generation != self._generation:
                self._entries = {}
                self._generation = generation
        return generation

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
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
