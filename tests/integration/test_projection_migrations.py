"""The read side's Alembic migrations against a real PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from shared.read_model.migrate import include_name, sqlalchemy_url, upgrade
from shared.read_model.schema import metadata
from shared.settings import READ_SCHEMA

pytestmark = [pytest.mark.integration, pytest.mark.fresh_database]


def schema_differences(database_url: str) -> list[object]:
    engine = create_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": include_name,
                "version_table_schema": READ_SCHEMA,
            },
        )
        return list(compare_metadata(context, metadata))


def test_upgrading_twice_leaves_one_schema_in_place(database_url: str) -> None:
    upgrade(database_url)

    upgrade(database_url)

    engine = create_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names(schema=READ_SCHEMA))
    assert {"events", "projection_partitions", "watermarks", "parked_messages"} <= tables


def test_the_migrations_build_exactly_the_tables_the_code_describes(database_url: str) -> None:
    upgrade(database_url)

    assert schema_differences(database_url) == []
