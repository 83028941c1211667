"""Bookings, ratings, tags and counters: the children of the events read model.

They are built from the event store, not from the rows of `events`: after upgrading a
read model that already holds events, run `board projections replay`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "read_model"


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "user_id"),
        schema=SCHEMA,
    )
    op.create_index("bookings_user_id", "bookings", ["user_id"], schema=SCHEMA)
    op.create_table(
        "ratings",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "user_id"),
        schema=SCHEMA,
    )
    op.create_table(
        "event_counts",
        sa.Column("status", sa.Text(), primary_key=True),
        sa.Column("events", sa.Integer(), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "organizer_ratings",
        sa.Column("organizer_id", sa.Uuid(), primary_key=True),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "tags",
        sa.Column("name_folded", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("events_count", sa.Integer(), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("tags", "organizer_ratings", "event_counts", "ratings", "bookings"):
        op.drop_table(table, schema=SCHEMA)
