"""Where tokens wait until they are due: keyed by authority, tenant, client and resource."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

from d365local.client.token_protocol import CachedToken

_CAN_LOCK = sys.platform != "win32"
"""POSIX: processes sharing a cache file take turns; on Windows atomic replaces still keep it whole."""
if _CAN_LOCK:
    import fcntl

CacheKey = tuple[str, str, str, str]
"""(authority, tenant, client id, resource), lower-cased."""


class TokenCache(Protocol):
    def get(self, key: CacheKey) -> CachedToken | None: ...

    def put(self, key: CacheKey, token: CachedToken) -> None: ...


class MemoryTokenCache:
    """Process memory; safe to share between threads and providers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[CacheKey, CachedToken] = {}

    def get(self, key: CacheKey) -> CachedToken | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: CacheKey, token: CachedToken) -> None:
        with self._lock:
            self._tokens[key] = token


class FileTokenCache:
    """A JSON file (mode 0600) shared by processes: every write replaces it atomically under a file lock, so
    concurrent processes never see half a file and never lose each other's tokens."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> CachedToken | None:
        with self._locked(exclusive=False):
            entry = self._read().get(_key_text(key))
        try:
            return CachedToken(**entry) if isinstance(entry, dict) else None
        except TypeError:
            return None

    def put(self, key: CacheKey, token: CachedToken) -> None:
        with self._locked(exclusive=True):
            entries = self._read()
            entries[_key_text(key)] = asdict(token)
            self._write(entries)

    def _read(self) -> dict[str, object]:
        try:
            document = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return document if isinstance(document, dict) else {}

    def _write(self, entries: dict[str, object]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self._path.parent, prefix=f".{self._path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entries, handle)
            os.chmod(temp, 0o600)
            os.replace(temp, self._path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        with self._lock:
            if not _CAN_LOCK:
                yield
                return
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(f"{self._path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def _key_text(key: CacheKey) -> str:
    return "|".join(key)
