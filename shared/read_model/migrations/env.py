"""Alembic environment of the read side; `shared.read_model.migrate` hands it a connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from shared.read_model.migrate import include_name
from shared.read_model.schema import metadata
from shared.settings import READ_SCHEMA


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=READ_SCHEMA,
        include_schemas=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("read-model migrations run online only, through shared.read_model.migrate")
run_migrations(context.config.attributes["connection"])
