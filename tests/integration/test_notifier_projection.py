"""The notifier's projection on PostgreSQL, fed from the real outbox: who is told what, once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.folding import Projection
from projections.live import Consumed, LiveProjector
from projections.notifier.fanout import apply_notifier_batch
from projections.notifier.projection import NOTIFIER
from projections.store import Statement
from shared.identity import Caller
from shared.integration.envelope import Envelope
from shared.read_model.schema import notification_deliveries, notifier_fanouts
from tests.integration.notifier_world import ORGANIZER, NotifierWorld

pytestmark = pytest.mark.integration

ANNA, BORIS, VERA = Caller(uuid4(), "anna"), Caller(uuid4(), "boris"), Caller(uuid4(), "vera")


async def outbox_payloads(world: NotifierWorld) -> list[Consumed]:
    """The events stream's messages in the outbox, as a consumer takes them."""
    async with world.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT position, payload FROM event_store.outbox"
                " WHERE stream = 'events' ORDER BY position"
            )
        )
        return [Consumed("events", 0, row.payload, row.position) for row in rows]


async def test_one_booking_makes_one_notification_however_often_its_message_arrives(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=timedelta(days=2))
    world.book(event_id, ANNA)
    payloads = await outbox_payloads(world)
    notifier, _users = world.projectors

    await notifier.handle(payloads + payloads)
    await notifier.handle(payloads)
    await notifier.handle(payloads[-1:])

    [booking] = await world.notifications()
    assert (booking["user_id"], booking["type"], booking["event_id"]) == (
        ANNA.id,
        "booking",
        event_id,
    )
    assert booking["message"].startswith('Вы успешно забронировали место на событие "Концерт".')
    async with world.engine.connect() as conn:
        pending = (await conn.execute(select(notification_deliveries))).all()
    assert [row.notification_id for row in pending] == [booking["id"]]


async def fed_their_event_last(world: NotifierWorld) -> list[dict[str, Any]]:
    """Feed the notifier the event's messages, its `event.scheduled` last, as the relay sends
    them after a broker lost everything; returns the notifications made before it came."""
    scheduled, *later = await outbox_payloads(world)
    notifier, _users = world.projectors
    await notifier.handle(later)
    told_before = await world.notifications()
    await notifier.handle([scheduled])
    return told_before


async def parked_count(world: NotifierWorld) -> int:
    async with world.engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM read_model.parked_messages")))


async def test_bookings_that_came_before_their_event_are_told_once_it_comes(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=timedelta(days=2))
    world.book(event_id, ANNA)
    world.book(event_id, BORIS)

    told_before = await fed_their_event_last(world)

    assert told_before == []
    told = await world.notifications("booking")
    assert sorted(n["user_id"] for n in told) == sorted([ANNA.id, BORIS.id])
    assert await parked_count(world) == 0


async def test_a_move_that_came_before_its_event_tells_those_booked_at_its_moment_once_it_comes(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=timedelta(days=2))
    world.book(event_id, ANNA)
    world.move(event_id, world.clock.now() + timedelta(days=3))
    world.book(event_id, VERA)

    # The booking after the move is a segment of its own: it must wait behind the rest.
    told_before = await fed_their_event_last(world)

    assert told_before == []
    assert sorted(n["user_id"] for n in await world.notifications("booking")) == sorted(
        [ANNA.id, VERA.id]
    )
    assert [n["user_id"] for n in await world.notifications("event_changed")] == [ANNA.id]
    assert await parked_count(world) == 0


async def test_booking_cancelling_and_booking_again_tell_the_user_each_time(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=timedelta(days=2))
    world.book(event_id, ANNA)
    world.clock.advance(1)
    world.board.cancel_booking(event_id, caller=ANNA)
    world.clock.advance(1)
    world.book(event_id, ANNA)

    await world.feed.step()

    assert [n["type"] for n in await world.notifications()] == ["booking", "cancel", "booking"]


async def test_a_move_tells_those_booked_then_and_a_cancellation_those_booked_at_its_moment(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=timedelta(days=2))
    world.book(event_id, ANNA, BORIS)
    world.move(event_id, world.clock.now() + timedelta(days=3))
    world.board.cancel_booking(event_id, caller=BORIS)
    world.book(event_id, VERA)
    world.cancel(event_id)

    # One batch: the notices must still reach the participants of their own moment.
    await world.feed.step()

    changed = await world.notifications("event_changed")
    cancelled = await world.notifications("event_cancelled")
    assert {n["user_id"] for n in changed} == {ANNA.id, BORIS.id}
    assert {n["user_id"] for n in cancelled} == {ANNA.id, VERA.id}
    assert "(было: " in changed[0]["message"]
    async with world.engine.connect() as conn:
        assert (await conn.execute(select(notifier_fanouts))).all() == []


async def test_a_deleted_event_tells_its_participants_it_is_cancelled(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=timedelta(days=2))
    world.book(event_id, ANNA)
    await world.feed.step()

    world.board.delete_event(event_id, caller=ORGANIZER)
    await world.feed.step()

    [notice] = await world.notifications("event_cancelled")
    assert notice["user_id"] == ANNA.id
    assert "отменено" in notice["message"]


async def test_a_batch_killed_before_its_commit_leaves_nothing_and_its_redelivery_counts_once(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=timedelta(days=2))
    world.book(event_id, ANNA, BORIS)
    world.move(event_id, world.clock.now() + timedelta(days=3))
    world.book(event_id, VERA)
    payloads = await outbox_payloads(world)

    async def killed_before_commit(
        conn: AsyncConnection,
        projection: Projection,
        envelopes: list[Envelope],
        *,
        also: Sequence[Statement] = (),
    ) -> None:
        await apply_notifier_batch(conn, projection, envelopes, also=also)
        raise asyncio.CancelledError  # the process dies with the batch's transaction open

    with pytest.raises(asyncio.CancelledError):
        await LiveProjector(world.engine, NOTIFIER, killed_before_commit).handle(payloads)
    nothing = await world.notifications()
    notifier, _users = world.projectors
    await notifier.handle(payloads)
    await notifier.handle(payloads)

    assert nothing == []
    assert sorted((n["type"], n["user_id"]) for n in await world.notifications()) == sorted(
        [
            ("booking", ANNA.id),
            ("booking", BORIS.id),
            ("booking", VERA.id),
            ("event_changed", ANNA.id),
            ("event_changed", BORIS.id),
        ]
    )
