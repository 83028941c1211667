"""Notices to every participant of an event, as of the moment of the notice.

`apply_notifier_batch` applies a batch in segments, all in the caller's transaction, and
after each segment expands the notices it recorded (`notifier_fanouts`) to the event's
participants. A segment ends before a booking or cancellation of an event with a notice
in it, so the participants a notice reaches are exactly those of its moment: a booking
made after a move is not told of the move.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.folding import Projection, fold
from projections.notifier.notification_store import NewNotification, create_notifications
from projections.store import Statement, batch_writes, parking, run_pipelined, take_batch
from shared.integration.envelope import Envelope
from shared.notifications import caused_key
from shared.read_model.schema import notifier_fanouts, notifier_participants

# Messages whose effect may record a notice, and those that change who participates.
_NOTICES = frozenset({"event.cancelled", "event.deleted", "event.updated"})
_PARTICIPATION = frozenset({"booking.created", "booking.cancelled"})


def segments(envelopes: Sequence[Envelope]) -> Iterator[list[Envelope]]:
    """The batch in order, cut before each change of participants behind a notice."""
    segment: list[Envelope] = []
    noticed: set[UUID] = set()
    for envelope in envelopes:
        if envelope.type in _PARTICIPATION and envelope.aggregate_id in noticed:
            yield segment
            segment, noticed = [], set()
        segment.append(envelope)
        if envelope.type in _NOTICES:
            noticed.add(envelope.aggregate_id)
    if segment:
        yield segment


async def apply_notifier_batch(
    conn: AsyncConnection,
    projection: Projection,
    envelopes: list[Envelope],
    *,
    also: Sequence[Statement] = (),
) -> None:
    """`apply_batch` segment by segment: parked messages taken back first (so that their
    notices are cut into segments too) and rows locked once for the whole batch; an
    aggregate parked in one segment stays parked in the next. `also` goes with the first
    segment's writes."""
    batch = await take_batch(conn, projection, envelopes)
    parked: set[UUID] = set()
    pending = [*parking(projection.name, batch.unreadable), *also]
    for segment in segments(batch.envelopes):
        folded = fold(projection, batch.rows, parked, segment)
        await run_pipelined(conn, [*batch_writes(projection, folded), *pending])
        pending = []
        if any(envelope.type in _NOTICES for envelope in segment):
            await expand_fanouts(conn)
    await run_pipelined(conn, pending)


async def expand_fanouts(conn: AsyncConnection) -> list[UUID]:
    """Turn the notices this transaction recorded into one notification per participant."""
    notices = delete(notifier_fanouts).returning(*notifier_fanouts.c).cte("notices")
    told = await conn.execute(
        select(notices, notifier_participants.c.user_id).join_from(
            notices, notifier_participants, notifier_participants.c.event_id == notices.c.event_id
        )
    )
    return await create_notifications(
        conn,
        [
            NewNotification(
                key=caused_key(row.cause_id, row.user_id, row.type),
                user_id=row.user_id,
                type=row.type,
                event_id=row.event_id,
                message=row.message,
                created_at=row.created_at,
            )
            for row in told
        ],
    )
