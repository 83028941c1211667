"""Deleting published outbox rows that nobody can need any more."""

from __future__ import annotations

import logging
from typing import Any

from psycopg import Connection
from psycopg.sql import SQL, Literal

from outbox_relay.publisher import OUTBOX
from shared.read_model.watermarks import ALL_WATERMARKS_SQL, WATERMARKS_TABLE
from shared.settings import Settings

logger = logging.getLogger(__name__)

PRUNE_PUBLISHED = SQL(
    "DELETE FROM {outbox} WHERE published_at < now() - make_interval(secs => %s) AND position <= %s"
).format(outbox=OUTBOX)
WATERMARKS_EXIST = SQL("SELECT to_regclass({name}) IS NOT NULL").format(
    name=Literal(WATERMARKS_TABLE)
)


def prune_published(conn: Connection[Any], settings: Settings) -> int:
    """Delete published rows older than the retention period and below every watermark.

    The watermark task walks the outbox in position order, so a row may go only once every
    projection's watermark has passed it; with no watermark recorded yet, nothing goes.
    """
    exists = conn.execute(WATERMARKS_EXIST).fetchone()
    if not exists or not exists[0]:
        return 0
    positions = [position for _, position in conn.execute(ALL_WATERMARKS_SQL).fetchall()]
    if not positions:
        return 0
    pruned = conn.execute(
        PRUNE_PUBLISHED, (settings.outbox_retention_seconds, min(positions))
    ).rowcount
    if pruned:
        logger.info("pruned %d published outbox rows", pruned)
    return pruned
