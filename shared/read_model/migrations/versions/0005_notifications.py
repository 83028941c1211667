"""The notifier's tables: its view of events, participants and users; notifications, their
read marks and their pending deliveries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "read_model"


def _bookkeeping() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "notifier_events",
        *_bookkeeping(),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("start_time_set_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("notifier_events_start_time", "notifier_events", ["start_time"], schema=SCHEMA)
    op.create_table(
        "notifier_participants",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_for", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("event_id", "user_id"),
        schema=SCHEMA,
    )
    op.create_table(
        "notifier_fanouts",
        sa.Column("cause_id", sa.Uuid(), primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "notifier_users",
        *_bookkeeping(),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("key", name="notifications_key"),
        schema=SCHEMA,
    )
    op.create_index(
        "notifications_user_newest",
        "notifications",
        ["user_id", "created_at", "id"],
        schema=SCHEMA,
    )
    op.create_table(
        "notification_reads",
        sa.Column("notification_id", sa.Uuid(), primary_key=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("notification_id", sa.Uuid(), primary_key=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        schema=SCHEMA,
    )
    op.create_index(
        "notification_deliveries_due_at", "notification_deliveries", ["due_at"], schema=SCHEMA
    )


def downgrade() -> None:
    for table in (
        "notification_deliveries",
        "notification_reads",
        "notifications",
        "notifier_users",
        "notifier_fanouts",
        "notifier_participants",
        "notifier_events",
    ):
        op.drop_table(table, schema=SCHEMA)
