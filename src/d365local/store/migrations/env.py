"""Alembic environment: runs on the connection d365local hands over (see ``store.engine.migrate``)."""

from __future__ import annotations

from alembic import context

from d365local.store import records_schema  # noqa: F401 - registers the Dataverse record tables
from d365local.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
