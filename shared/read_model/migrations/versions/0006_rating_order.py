"""An index that hands events over highest rated first, for `ordering=-avg_rating`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "read_model"


def upgrade() -> None:
    op.create_index(
        "events_avg_rating_desc",
        "events",
        [sa.text("avg_rating DESC NULLS LAST"), "id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index("events_avg_rating_desc", table_name="events", schema=SCHEMA)
