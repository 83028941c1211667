"""Putting a projection's parked messages back to be applied, once what parked them is fixed.

A message is parked when its handler fails (and every later message of the same aggregate
behind it, so an aggregate's order is never broken). Retrying takes them all out in one
transaction, in position order, and applies them through the projection's own batch path:
what fails again is parked again, what succeeds writes its rows and, for the notifier, its
notifications, whose keys make a message retried twice notify once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from projections.folding import Projection
from projections.live import BatchApply
from projections.notifier.fanout import apply_notifier_batch
from projections.notifier.projection import NOTIFIER, NOTIFIER_USERS
from projections.read_models.catalog import PROJECTIONS
from projections.store import apply_batch
from shared.integration.envelope import Envelope
from shared.read_model.schema import parked_messages
from shared.settings import Settings

# Every projection that parks, with the batch path its live worker applies messages by.
APPLIERS: dict[str, tuple[Projection, BatchApply]] = {
    **{projection.name: (projection, apply_batch) for projection in PROJECTIONS},
    NOTIFIER.name: (NOTIFIER, apply_notifier_batch),
    NOTIFIER_USERS.name: (NOTIFIER_USERS, apply_batch),
}


class UnknownProjection(LookupError):
    pass


@dataclass(frozen=True)
class Retried:
    applied: int
    parked_again: int


async def retry_parked(settings: Settings, projection_name: str) -> Retried:
    """Apply the projection's parked messages again; those that still fail stay parked."""
    try:
        projection, apply = APPLIERS[projection_name]
    except KeyError:
        raise UnknownProjection(projection_name) from None
    engine = create_async_engine(settings.sqlalchemy_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            return await _retry(conn, projection, apply)
    finally:
        await engine.dispose()


async def _retry(conn: AsyncConnection, projection: Projection, apply: BatchApply) -> Retried:
    of_projection = parked_messages.c.projection == projection.name
    payloads = await conn.scalars(
        select(parked_messages.c.payload)
        .where(of_projection)
        .order_by(parked_messages.c.position)
        .with_for_update()
    )
    envelopes = []
    unreadable = 0
    for payload in payloads:
        try:
            envelopes.append(Envelope.decode(payload))
        except ValueError:
            unreadable += 1  # still cannot be read: it stays where it is
    positions = [envelope.position for envelope in envelopes]
    retried = of_projection & parked_messages.c.position.in_(positions)
    await conn.execute(delete(parked_messages).where(retried))
    await apply(conn, projection, envelopes)
    again = await conn.scalar(select(func.count()).select_from(parked_messages).where(retried))
    parked_again = int(again or 0)
    return Retried(applied=len(envelopes) - parked_again, parked_again=parked_again + unreadable)
