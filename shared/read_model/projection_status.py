"""How far each projection has got, read from the read side: for `board projections status`
and the admin's operations page."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from shared.outbox.recorder import OUTBOX_TABLE
from shared.settings import EVENT_STORE_SCHEMA, READ_SCHEMA


@dataclass(frozen=True)
class ProjectionStatus:
    projection: str
    watermark: int
    lag: int
    parked: int


@dataclass(frozen=True)
class StatusReport:
    head: int
    projections: list[ProjectionStatus]


_HEAD = f"SELECT coalesce(max(position), 0) FROM {EVENT_STORE_SCHEMA}.{OUTBOX_TABLE}"
_PROJECTIONS = f"""
    WITH names AS (
        SELECT projection FROM {READ_SCHEMA}.watermarks
        UNION SELECT projection FROM {READ_SCHEMA}.parked_messages
    )
    SELECT names.projection,
           coalesce(w.position, 0),
           (SELECT count(*) FROM {READ_SCHEMA}.parked_messages p
             WHERE p.projection = names.projection)
      FROM names LEFT JOIN {READ_SCHEMA}.watermarks w USING (projection)
     ORDER BY names.projection
"""


def read_status(database_url: str) -> StatusReport:
    with psycopg.connect(database_url) as conn:
        head_row = conn.execute(_HEAD).fetchone()
        head = int(head_row[0]) if head_row else 0
        rows = conn.execute(_PROJECTIONS).fetchall()
    return StatusReport(
        head=head,
        projections=[
            # Pruned outbox rows can leave the head below a watermark; that is no lag.
            ProjectionStatus(name, int(mark), max(head - int(mark), 0), int(parked))
            for name, mark, parked in rows
        ],
    )
