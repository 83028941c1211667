"""Columns and indexes for the filters of the event listing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

from shared.read_model.text import fold_text, joined_tags

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "read_model"
# As `shared.read_model.schema` has it at this revision.
_SEARCHED_TEXT = "title || ' ' || description || ' ' || replace(tags_text, E'\\x1f', ' ')"
SEARCH_VECTOR_SQL = (
    f"to_tsvector('russian'::regconfig, {_SEARCHED_TEXT})"
    f" || to_tsvector('english'::regconfig, {_SEARCHED_TEXT})"
)


def upgrade() -> None:
    # Trusted since PostgreSQL 13: the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column(
        "events",
        sa.Column("tags_folded", sa.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        schema=SCHEMA,
    )
    op.add_column(
        "events",
        sa.Column("tags_text", sa.Text(), nullable=False, server_default=""),
        schema=SCHEMA,
    )
    op.add_column(
        "events",
        sa.Column("listing_key", sa.BigInteger(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    _fold_existing_tags()
    # As `projections.read_models.events.listing_key` computes it.
    op.execute(
        f"UPDATE {SCHEMA}.events SET listing_key = CASE WHEN status = 'upcoming'"
        " THEN (extract(epoch FROM start_time) * 1000000)::bigint"
        " ELSE 4611686018427387904 - (extract(epoch FROM start_time) * 1000000)::bigint END"
    )
    op.add_column(
        "events",
        sa.Column("free_seats", sa.Integer(), sa.Computed("seats - booked_count", persisted=True)),
        schema=SCHEMA,
    )
    op.add_column(
        "events",
        sa.Column("search_vector", TSVECTOR(), sa.Computed(SEARCH_VECTOR_SQL, persisted=True)),
        schema=SCHEMA,
    )
    op.create_index(
        "events_tags_folded", "events", ["tags_folded"], schema=SCHEMA, postgresql_using="gin"
    )
    op.create_index(
        "events_tags_text",
        "events",
        ["tags_text"],
        schema=SCHEMA,
        postgresql_using="gin",
        postgresql_ops={"tags_text": "gin_trgm_ops"},
    )
    op.create_index(
        "events_search_vector", "events", ["search_vector"], schema=SCHEMA, postgresql_using="gin"
    )
    op.create_index("events_listing_key", "events", ["listing_key"], schema=SCHEMA)
    op.create_index(
        "events_avg_rating", "events", ["avg_rating"], schema=SCHEMA, postgresql_include=["status"]
    )
    op.drop_index("events_location_folded", table_name="events", schema=SCHEMA)
    op.create_index(
        "events_location_counted",
        "events",
        ["location_folded"],
        schema=SCHEMA,
        postgresql_include=["free_seats", "status"],
    )


def _fold_existing_tags() -> None:
    # Folding happens in Python (the database's locale may not fold Cyrillic).
    events = sa.table(
        "events",
        sa.column("id", sa.Uuid()),
        sa.column("tags", sa.ARRAY(sa.Text())),
        sa.column("tags_folded", sa.ARRAY(sa.Text())),
        sa.column("tags_text", sa.Text()),
        schema=SCHEMA,
    )
    bind = op.get_bind()
    for event_id, tags in bind.execute(sa.select(events.c.id, events.c.tags)).all():
        folded = [fold_text(tag) for tag in tags]
        bind.execute(
            events.update()
            .where(events.c.id == event_id)
            .values(tags_folded=folded, tags_text=joined_tags(folded))
        )


def downgrade() -> None:
    op.create_index("events_location_folded", "events", ["location_folded"], schema=SCHEMA)
    for index in (
        "events_location_counted",
        "events_avg_rating",
        "events_listing_key",
        "events_search_vector",
        "events_tags_text",
        "events_tags_folded",
    ):
        op.drop_index(index, table_name="events", schema=SCHEMA)
    for column in ("listing_key", "search_vector", "free_seats", "tags_text", "tags_folded"):
        op.drop_column("events", column, schema=SCHEMA)
