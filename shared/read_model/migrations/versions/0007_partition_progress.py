"""Progress per partition instead of every applied position: watermarks without the outbox.

A projection records, per (stream, partition), the highest position it applied there; with
what the relay records of what it sent, that is enough to say how far the projection
reflects the outbox, so the positions themselves are no longer kept.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "read_model"


def upgrade() -> None:
    op.create_table(
        "projection_partitions",
        sa.Column("projection", sa.Text(), nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("projection", "stream", "partition"),
        schema=SCHEMA,
    )
    op.drop_table("applied_positions", schema=SCHEMA)


def downgrade() -> None:
    op.create_table(
        "applied_positions",
        sa.Column("projection", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("projection", "position"),
        schema=SCHEMA,
    )
    op.drop_table("projection_partitions", schema=SCHEMA)
