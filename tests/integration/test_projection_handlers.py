"""The `events` projection against a real PostgreSQL: handlers, idempotency, parking,
the watermark and the replay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from projections.folding import Parked
from projections.live import LiveProjector
from projections.read_models.events import EVENTS
from projections.read_models.replay import replay
from projections.store import apply_batch, park
from shared.application.board import Board
from shared.domain.event import Event
from shared.identity import Caller
from shared.infra.database import event_store_env
from shared.integration.envelope import Envelope, encode_message
from shared.integration.events import to_integration_event
from shared.integration.names import WATERMARK_CHANNEL
from shared.read_model.migrate import upgrade
from shared.read_model.schema import applied_positions, events, parked_messages
from shared.read_model.watermarks import (
    advance_watermark,
    current_watermark,
    parse_watermark_notice,
    read_watermark,
)
from shared.settings import Settings
from tests.builders import event_details

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ORGANIZER = Caller(uuid4(), "организатор")


class Story:
    """The integration events of one event on the board, with made-up global positions."""

    def __init__(self, first_position: int, location: str = "МОСКВА") -> None:
        self.position = first_position
        self.aggregate = Event.schedule(
            event_details(
                NOW + timedelta(days=30),
                title="Лекция",
                description="О проекциях",
                location=location,
                seats=50,
                tags=["python"],
            ),
            organizer_id=ORGANIZER.id,
            organizer_username=ORGANIZER.username,
            now=NOW,
        )

    @property
    def id(self) -> UUID:
        return self.aggregate.id

    def messages(self) -> list[dict[str, Any]]:
        """The messages of the domain events recorded since the last call."""
        collected = []
        for domain_event in self.aggregate.collect_events():
            integration_event = to_integration_event(domain_event)
            assert integration_event is not None
            collected.append(integration_event.to_message(self.position))
            self.position += 1
        return collected

    def update(self, minutes: int, **changes: Any) -> dict[str, Any]:
        self.aggregate.update(
            changes=changes,
            by_user_id=ORGANIZER.id,
            by_staff=False,
            now=NOW + timedelta(minutes=minutes),
            edit_window_seconds=3600,
        )
        [message] = self.messages()
        return message


def envelopes(*messages: dict[str, Any]) -> list[Envelope]:
    return [Envelope.of(m) for m in messages]


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    upgrade(settings.database_url)
    engine = create_async_engine(settings.sqlalchemy_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def board(settings: Settings) -> Iterator[Board]:
    board = Board(settings, env=event_store_env(settings))
    yield board
    board.close()


async def apply(engine: AsyncEngine, *messages: dict[str, Any]) -> None:
    async with engine.begin() as conn:
        await apply_batch(conn, EVENTS, envelopes(*messages))


async def rows(engine: AsyncEngine) -> dict[UUID, dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(events))
        return {row.id: dict(row._mapping) for row in result}


async def parked(engine: AsyncEngine) -> dict[int, str]:
    async with engine.connect() as conn:
        result = await conn.execute(select(parked_messages.c.position, parked_messages.c.error))
        return {row.position: row.error for row in result}


async def test_a_scheduled_event_and_its_update_give_the_row(engine: AsyncEngine) -> None:
    story = Story(first_position=10)
    [scheduled] = story.messages()
    update = story.update(minutes=5, title="Доклад", location="Санкт-Петербург")

    await apply(engine, scheduled)
    await apply(engine, update)

    row = (await rows(engine))[story.id]
    assert row["title"] == "Доклад"
    assert row["description"] == "О проекциях"
    assert row["location"] == "Санкт-Петербург"
    assert row["location_folded"] == "санкт-петербург"
    assert row["start_time"] == NOW + timedelta(days=30)
    assert row["seats"] == 50
    assert row["booked_count"] == 0
    assert row["status"] == "upcoming"
    assert row["organizer_id"] == ORGANIZER.id
    assert row["organizer_username"] == "организатор"
    assert row["tags"] == ["python"]
    assert row["avg_rating"] is None
    assert row["created_at"] == NOW
    assert row["updated_at"] == NOW + timedelta(minutes=5)
    assert (row["version"], row["position"]) == (2, 11)


async def test_bookings_ratings_and_the_status_follow_their_domain_events(
    engine: AsyncEngine,
) -> None:
    story = Story(first_position=1)
    event, guests = story.aggregate, [uuid4() for _ in range(3)]
    for guest in guests:
        event.book(user_id=guest, username="гость", now=NOW)
    event.cancel_booking(user_id=guests[2], now=NOW)
    started = NOW + timedelta(days=30)
    event.rate(user_id=guests[0], score=5, now=started)
    event.rate(user_id=guests[1], score=4, now=started)
    event.rate(user_id=guests[1], score=3, now=started)
    await apply(engine, *story.messages())

    row = (await rows(engine))[story.id]
    assert (row["booked_count"], row["free_seats"]) == (2, 48)
    assert (row["rating_sum"], row["rating_count"], str(row["avg_rating"])) == (8, 2, "4.00")
    assert row["updated_at"] == NOW

    event.finish(started + timedelta(hours=2))
    await apply(engine, *story.messages())
    finished = (await rows(engine))[story.id]
    assert (finished["status"], finished["updated_at"]) == (
        "finished",
        started + timedelta(hours=2),
    )


@pytest.mark.parametrize(("status", "command"), [("cancelled", "cancel"), ("deleted", "delete")])
async def test_cancelling_or_deleting_marks_the_row(
    engine: AsyncEngine, status: str, command: str
) -> None:
    story = Story(first_position=1)
    if command == "cancel":
        story.aggregate.cancel(by_user_id=ORGANIZER.id, by_staff=False, now=NOW)
    else:
        story.aggregate.delete(
            by_user_id=ORGANIZER.id, by_staff=False, now=NOW, edit_window_seconds=3600
        )

    await apply(engine, *story.messages())

    assert (await rows(engine))[story.id]["status"] == status


async def test_a_cyrillic_location_is_stored_case_folded(engine: AsyncEngine) -> None:
    story = Story(first_position=1, location="МОСКВА")

    await apply(engine, *story.messages())

    assert (await rows(engine))[story.id]["location_folded"] == "москва"


async def test_a_redelivered_message_changes_nothing(engine: AsyncEngine) -> None:
    story = Story(first_position=1)
    [scheduled] = story.messages()
    update = story.update(minutes=1, seats=70)
    await apply(engine, scheduled, update)
    before = await rows(engine)

    await apply(engine, scheduled)
    await apply(engine, update, update)

    assert await rows(engine) == before
    assert await parked(engine) == {}


async def test_a_gap_parks_the_message_and_its_aggregate_behind_it_while_others_move_on(
    engine: AsyncEngine,
) -> None:
    stuck = Story(first_position=100)
    [stuck_scheduled] = stuck.messages()
    stuck.update(minutes=1, title="потерянное изменение")
    after_gap = stuck.update(minutes=2, title="после пропуска")
    later = stuck.update(minutes=3, title="ещё позже")
    other = Story(first_position=200)
    [other_scheduled] = other.messages()
    other_update = other.update(minutes=1, title="другое")
    projector = LiveProjector(engine, EVENTS)

    await projector.handle([encode_message(stuck_scheduled), encode_message(after_gap)])
    await projector.handle([encode_message(m) for m in (other_scheduled, later, other_update)])

    current = await rows(engine)
    assert current[stuck.id]["title"] == "Лекция"
    assert current[stuck.id]["version"] == 1
    assert current[other.id]["title"] == "другое"
    parked_now = await parked(engine)
    assert set(parked_now) == {after_gap["position"], later["position"]}
    assert "version 3 after version 1" in parked_now[after_gap["position"]]
    assert "behind" in parked_now[later["position"]]


async def test_a_message_its_handler_refuses_is_parked_and_logged(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    story = Story(first_position=1)
    [scheduled] = story.messages()
    refused = {**story.update(minutes=1, title="x"), "data": {"changes": {"status": "finished"}}}
    projector = LiveProjector(engine, EVENTS)

    with caplog.at_level(logging.ERROR, logger="projections.store"):
        await projector.handle([encode_message(scheduled), encode_message(refused)])

    assert "cannot change" in (await parked(engine))[refused["position"]]
    assert (await rows(engine))[story.id]["version"] == 1
    assert [r.getMessage() for r in caplog.records if "cannot change" in r.getMessage()] == [
        f"events: parked position {refused['position']} of {story.id}:"
        " ValueError: fields that cannot change: ['status']"
    ]


async def test_a_message_the_database_refuses_is_parked_and_the_rest_of_its_batch_applied(
    engine: AsyncEngine,
) -> None:
    before, broken, after = Story(1), Story(2), Story(3)
    [broken_message] = broken.messages()
    # PostgreSQL text cannot hold NUL: the whole batch's transaction fails on this one.
    broken_message["data"]["title"] = "нулевой\x00байт"
    batch = [*before.messages(), broken_message, *after.messages()]
    projector = LiveProjector(engine, EVENTS)

    await projector.handle([encode_message(m) for m in batch])

    assert set(await rows(engine)) == {before.id, after.id}
    assert set(await parked(engine)) == {broken_message["position"]}


def schedule(board: Board, title: str) -> int:
    return board.schedule_event(
        event_details(
            datetime.now(UTC) + timedelta(days=7),
            title=title,
            description="описание",
            location="Казань",
        ),
        caller=ORGANIZER,
    ).position


async def outbox_envelope(engine: AsyncEngine, position: int) -> Envelope:
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql(
            "SELECT payload FROM event_store.outbox WHERE position = %(p)s", {"p": position}
        )
        return Envelope.decode(result.scalar_one())


async def outbox_events(engine: AsyncEngine) -> list[Envelope]:
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql(
            "SELECT payload FROM event_store.outbox WHERE stream = 'events' ORDER BY position"
        )
        return [Envelope.decode(payload) for payload in result.scalars()]


async def test_the_watermark_passes_applied_foreign_and_parked_positions_and_stops_at_a_gap(
    engine: AsyncEngine, board: Board, settings: Settings
) -> None:
    applied = schedule(board, "применённое")
    parked_position = schedule(board, "припаркованное")
    foreign = board.register_user(
        username="someone", email="", password="long-enough-password"
    ).position
    pending = schedule(board, "ещё не дошло")
    beyond = schedule(board, "дошло раньше")
    async with engine.begin() as conn:
        await apply_batch(conn, EVENTS, [await outbox_envelope(engine, applied)])
        await apply_batch(conn, EVENTS, [await outbox_envelope(engine, beyond)])
        await park(conn, EVENTS.name, [Parked(await outbox_envelope(engine, parked_position), "x")])
    with psycopg.connect(settings.database_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {WATERMARK_CHANNEL}")

        async with engine.begin() as conn:
            stopped_at = await advance_watermark(conn, EVENTS.name, EVENTS.streams)
        notices = [n.payload for n in listener.notifies(timeout=2, stop_after=1)]

    assert foreign < pending
    assert stopped_at == pending - 1
    assert [parse_watermark_notice(n) for n in notices] == [(EVENTS.name, pending - 1)]

    async with engine.begin() as conn:
        await apply_batch(conn, EVENTS, [await outbox_envelope(engine, pending)])
        reached = await advance_watermark(conn, EVENTS.name, EVENTS.streams)
    assert await current_watermark(engine) == reached == beyond
    async with engine.connect() as conn:
        assert await read_watermark(conn, EVENTS.name) == beyond
        left = await conn.scalars(select(applied_positions.c.position))
        assert list(left) == []


async def test_a_replay_rebuilds_the_table_the_live_projector_built(
    engine: AsyncEngine, board: Board, settings: Settings
) -> None:
    scheduled = [
        board.schedule_event(
            event_details(
                datetime.now(UTC) + timedelta(days=7),
                title=f"событие {n}",
                location="Казань",
                tags=["a", "b"],
            ),
            caller=ORGANIZER,
        ).aggregate.id
        for n in range(30)
    ]
    for event_id in scheduled[::3]:
        board.update_event(event_id, caller=ORGANIZER, changes={"location": "Уфа", "seats": 20})
    board.update_event(scheduled[0], caller=ORGANIZER, changes={"tags": ["c"]})
    live = await outbox_events(engine)
    async with engine.begin() as conn:
        await apply_batch(conn, EVENTS, live)
    expected = await rows(engine)
    async with engine.begin() as conn:
        await conn.execute(events.update().values(title="испорчено"))
        # Pruned outbox rows: the replay maps those events from the event store again.
        await conn.exec_driver_sql(
            "DELETE FROM event_store.outbox WHERE position %% 2 = 0 OR position > %(p)s",
            {"p": live[-5].position},
        )

    count = await asyncio.to_thread(replay, settings, False)

    # 30 scheduled, 11 updated, and the tags "a", "b" and "c" created on first use.
    assert count == len(live) == 44
    assert await rows(engine) == expected
    async with engine.connect() as conn:
        indexes = await conn.run_sync(
            lambda sync: {
                i["name"] for i in inspect(sync).get_indexes("events", schema="read_model")
            }
        )
        schemas = await conn.run_sync(lambda sync: inspect(sync).get_schema_names())
    assert indexes == {index.name for index in events.indexes}
    assert "read_model_rebuild" not in schemas
