"""The waitlist: its length on each event, and who is in line in which order.

Built from the event store: after upgrading a read model that already holds events, run
`board projections replay` (events stored before the waitlist have none, so the defaults
are already right).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = "read_model"


def upgrade() -> None:
    op.add_column(
        "events",
        sa.Column("waitlist_length", sa.Integer(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_table(
        "waitlist",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("joined_version", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "user_id"),
        schema=SCHEMA,
    )
    op.create_index(
        "waitlist_event_order", "waitlist", ["event_id", "joined_version"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("waitlist", schema=SCHEMA)
    op.drop_column("events", "waitlist_length", schema=SCHEMA)
