"""Bringing the read side's schema up to date (Alembic, configured in code)."""

from __future__ import annotations

import logging
from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from shared.settings import READ_SCHEMA

logger = logging.getLogger(__name__)

# Serialises concurrent upgrades: every process may call `upgrade` at start-up.
_MIGRATION_LOCK_KEY = 0x7265_6164_6D64  # "readmd"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Only the read side's schema is ours; the event store's belongs to the library."""
    if type_ == "schema":
        return name == READ_SCHEMA
    return True


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("shared.read_model") / "migrations"))
    config.attributes["connection"] = connection
    return config


def sqlalchemy_url(database_url: str) -> str:
    """A `postgresql://` URL for SQLAlchemy's psycopg (3) dialect."""
    return (
        make_url(database_url)
        .set(drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )


def upgrade(database_url: str) -> None:
    """Apply every read-model migration not applied yet; safe to call again and concurrently."""
    engine = create_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{READ_SCHEMA}"'))
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                command.upgrade(alembic_config(conn), "head")
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()
    logger.info("read model schema is up to date")
