"""Tables of the read side (schema `read_model`), described once with SQLAlchemy Core."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
)

from shared.settings import READ_SCHEMA

metadata = MetaData(schema=READ_SCHEMA)

events = Table(
    "events",
    metadata,
    Column("id", Uuid, primary_key=True),
    # The aggregate version and global position of the last integration event the row reflects.
    Column("version", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("timezone", Text, nullable=False),
    Column("location", Text, nullable=False),
    # Case-folded in Python, so matching works for Cyrillic whatever the database locale.
    Column("location_folded", Text, nullable=False),
    Column("seats", Integer, nullable=False),
    Column("booked_count", Integer, nullable=False, server_default="0"),
    Column("status", Text, nullable=False),
    Column("organizer_id", Uuid, nullable=False),
    Column("organizer_username", Text, nullable=False),
    Column("tags", ARRAY(Text), nullable=False, server_default="{}"),
    Column("rating_sum", Integer, nullable=False, server_default="0"),
    Column("rating_count", Integer, nullable=False, server_default="0"),
    Column("avg_rating", Numeric(4, 2), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("events_start_time_id", "start_time", "id"),
    Index("events_location_folded", "location_folded"),
)

# Positions each projection has applied; the watermark task folds them into `watermarks`.
applied_positions = Table(
    "applied_positions",
    metadata,
    Column("projection", Text, nullable=False),
    Column("position", BigInteger, nullable=False),
    PrimaryKeyConstraint("projection", "position"),
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("projection", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# Messages a projection could not apply, and the later messages of the same aggregate.
parked_messages = Table(
    "parked_messages",
    metadata,
    Column("projection", Text, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("aggregate_id", Uuid, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("error", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("projection", "position"),
    Index("parked_messages_aggregate", "projection", "aggregate_id"),
)
