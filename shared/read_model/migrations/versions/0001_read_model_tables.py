"""The read model of events, with its progress tracking and parked messages.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "read_model"


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("location_folded", sa.Text(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("booked_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("organizer_id", sa.Uuid(), nullable=False),
        sa.Column("organizer_username", sa.Text(), nullable=False),
        sa.Column("tags", sa.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("rating_sum", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rating_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("avg_rating", sa.Numeric(4, 2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("events_start_time_id", "events", ["start_time", "id"], schema=SCHEMA)
    op.create_index("events_location_folded", "events", ["location_folded"], schema=SCHEMA)
    op.create_table(
        "applied_positions",
        sa.Column("projection", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("projection", "position"),
        schema=SCHEMA,
    )
    op.create_table(
        "watermarks",
        sa.Column("projection", sa.Text(), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "parked_messages",
        sa.Column("projection", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("aggregate_id", sa.Uuid(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("projection", "position"),
        schema=SCHEMA,
    )
    op.create_index(
        "parked_messages_aggregate",
        "parked_messages",
        ["projection", "aggregate_id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("parked_messages", schema=SCHEMA)
    op.drop_table("watermarks", schema=SCHEMA)
    op.drop_table("applied_positions", schema=SCHEMA)
    op.drop_table("events", schema=SCHEMA)
