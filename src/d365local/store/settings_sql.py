"""Installation-wide settings kept in the database, so every process and host agrees on them."""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from d365local.store import schema as t

DEFAULT_PUBLIC_BASE_URL = "https://localhost:5443"
PUBLIC_BASE_URL = "public_base_url"
SECRET_HASH_KEY = "secret_hash_key"  # noqa: S105 - a settings row name
SEEDED = "seeded"


class SqlSettings:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, name: str) -> str | None:
        with self._engine.connect() as conn:
            value = conn.execute(select(t.settings.c.value).where(t.settings.c.name == name)).scalar_one_or_none()
        return None if value is None else str(value)

    def put(self, name: str, value: str) -> None:
        with self._engine.begin() as conn:
            updated = conn.execute(update(t.settings).where(t.settings.c.name == name).values(value=value))
            if updated.rowcount == 0:
                conn.execute(insert(t.settings).values(name=name, value=value))

    def put_if_absent(self, name: str, value: str) -> str:
        """Store ``value`` unless another process stored one first; return the value that won."""
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(t.settings).values(name=name, value=value))
        except IntegrityError:
            pass
        stored = self.get(name)
        assert stored is not None
        return stored

    def public_base_url(self) -> str:
        return self.get(PUBLIC_BASE_URL) or DEFAULT_PUBLIC_BASE_URL

    def secret_hash_key(self) -> bytes:
        """The HMAC key for client secrets, created on first use and shared by every worker and host."""
        return bytes.fromhex(self.put_if_absent(SECRET_HASH_KEY, secrets.token_hex(32)))
