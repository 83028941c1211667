"""The `events` projection against a real PostgreSQL: handlers, idempotency, parking,
the watermark and the replay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from outbox_relay.producer import Sent
from outbox_relay.publisher import RECORD_PUBLISHED, sent_record
from projections.live import Consumed, LiveProjector
from projections.read_models.events import EVENTS
from projections.read_models.replay import Part, Workers, replay
from projections.store import apply_batch
from shared.application.board import Board
from shared.domain.event import Event
from shared.identity import Caller
from shared.infra.database import event_store_env
from shared.integration.envelope import Envelope, encode_message
from shared.integration.events import to_integration_event
from shared.integration.names import WATERMARK_CHANNEL
from shared.read_model.migrate import upgrade
from shared.read_model.schema import events, parked_messages
from shared.read_model.watermarks import (
    Progress,
    advance_watermark,
    current_watermark,
    parse_watermark_notice,
    partitions_behind,
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


def consumed(*messages: dict[str, Any], partition: int = 0) -> list[Consumed]:
    """The messages as a consumer takes them from one partition of the events stream."""
    return [Consumed("events", partition, encode_message(m), m["position"]) for m in messages]


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

    await projector.handle(consumed(stuck_scheduled, after_gap))
    await projector.handle(consumed(other_scheduled, later, other_update))

    current = await rows(engine)
    assert current[stuck.id]["title"] == "Лекция"
    assert current[stuck.id]["version"] == 1
    assert current[other.id]["title"] == "другое"
    parked_now = await parked(engine)
    assert set(parked_now) == {after_gap["position"], later["position"]}
    assert "version 3 after version 1" in parked_now[after_gap["position"]]
    assert "behind" in parked_now[later["position"]]


async def test_a_gap_closes_when_the_missing_message_comes_and_what_waited_applies(
    engine: AsyncEngine,
) -> None:
    story = Story(first_position=300)
    [scheduled] = story.messages()
    lost = story.update(minutes=1, title="потерянное и присланное снова")
    after_gap = story.update(minutes=2, title="после пропуска")
    later = story.update(minutes=3, title="ещё позже")
    projector = LiveProjector(engine, EVENTS)

    await projector.handle(consumed(scheduled, after_gap, later))
    await projector.handle(consumed(lost))

    row = (await rows(engine))[story.id]
    assert (row["title"], row["version"]) == ("ещё позже", 4)
    assert await parked(engine) == {}


async def test_a_message_its_handler_refuses_is_parked_and_logged(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    story = Story(first_position=1)
    [scheduled] = story.messages()
    refused = {**story.update(minutes=1, title="x"), "data": {"changes": {"status": "finished"}}}
    projector = LiveProjector(engine, EVENTS)

    with caplog.at_level(logging.ERROR, logger="projections.store"):
        await projector.handle(consumed(scheduled, refused))

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

    await projector.handle(consumed(*batch))

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


async def relay_sent(settings: Settings, head: int, *sent: tuple[str, int, int]) -> None:
    """Record, as the relay does, that it published up to `head`, and the highest position
    it sent to each (stream, partition)."""
    rows = [(position, stream, "k", b"{}") for stream, _partition, position in sent]
    where = [Sent(partition, n) for n, (_stream, partition, _position) in enumerate(sent, 1)]
    params, _ = sent_record(rows, where, head=head)
    async with await psycopg.AsyncConnection.connect(
        settings.database_url, autocommit=True
    ) as conn:
        await conn.execute(RECORD_PUBLISHED, params)


async def advance(engine: AsyncEngine, progress: Progress | None = None) -> int:
    async with engine.begin() as conn:
        return await advance_watermark(conn, EVENTS.name, EVENTS.streams, progress)


# The board creates the event store, whose outbox the relay marks.
@pytest.mark.usefixtures("board")
async def test_the_watermark_is_the_relays_head_but_stops_at_a_partition_still_behind(
    engine: AsyncEngine, settings: Settings
) -> None:
    # Partition 1 of the events stream was sent position 12, but only 8 was applied there;
    # 13 went to the users stream, which this projection does not read.
    await relay_sent(settings, 13, ("events", 0, 10), ("events", 1, 12), ("users", 0, 13))
    with psycopg.connect(settings.database_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {WATERMARK_CHANNEL}")

        stopped_at = await advance(engine, {("events", 0): 10, ("events", 1): 8})
        notices = [n.payload for n in listener.notifies(timeout=2, stop_after=1)]

    assert stopped_at == 8
    assert [parse_watermark_notice(n) for n in notices] == [(EVENTS.name, 8)]

    async with engine.connect() as conn:
        lagging = await partitions_behind(conn, EVENTS.name, EVENTS.streams)
    assert lagging == [("events", 1, 8)]

    assert await advance(engine, {("events", 1): 12}) == 13
    assert await current_watermark(engine) == 13
    async with engine.connect() as conn:
        assert await partitions_behind(conn, EVENTS.name, EVENTS.streams) == []


# The board creates the event store, whose outbox the relay marks.
@pytest.mark.usefixtures("board")
async def test_the_watermark_never_goes_back_and_stays_put_without_a_notice(
    engine: AsyncEngine, settings: Settings
) -> None:
    await relay_sent(settings, 5, ("events", 0, 5))
    assert await advance(engine, {("events", 0): 5}) == 5
    # A second worker's older progress (or a stale one) must not move the mark back.
    with psycopg.connect(settings.database_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {WATERMARK_CHANNEL}")
        assert await advance(engine, {("events", 0): 3}) == 5
        assert list(listener.notifies(timeout=0.3, stop_after=1)) == []


async def test_a_parked_message_that_no_longer_reads_stays_parked_and_fails_nothing(
    engine: AsyncEngine,
) -> None:
    story = Story(first_position=10)
    await apply(engine, *story.messages())
    async with engine.begin() as conn:
        await conn.execute(
            parked_messages.insert().values(
                projection=EVENTS.name,
                position=5,
                aggregate_id=story.id,
                payload=b'{"not": "an envelope"}',
                error="ValueError: boom",
                parked_at=NOW,
            )
        )

    await apply(engine, story.update(5, location="Уфа"))

    assert (await rows(engine))[story.id]["location"] == "Уфа"
    assert await parked(engine) == {5: "ValueError: boom"}


# The board creates the event store, whose outbox the relay marks.
@pytest.mark.usefixtures("board")
async def test_a_parked_message_counts_as_done_for_the_watermark(
    engine: AsyncEngine, settings: Settings
) -> None:
    story = Story(first_position=1)
    [scheduled] = story.messages()
    refused = {**story.update(minutes=1, title="x"), "data": {"changes": {"status": "finished"}}}
    await relay_sent(settings, refused["position"], ("events", 0, refused["position"]))

    await LiveProjector(engine, EVENTS).handle(consumed(scheduled, refused))

    assert set(await parked(engine)) == {refused["position"]}
    assert await current_watermark(engine) == refused["position"]


# The board creates the event store, whose outbox the relay marks.
@pytest.mark.usefixtures("board")
async def test_an_unreadable_message_is_parked_by_its_header_and_does_not_stall_the_watermark(
    engine: AsyncEngine, settings: Settings
) -> None:
    story = Story(first_position=1)
    [scheduled] = story.messages()
    garbage = Consumed("events", 0, b"not json at all", scheduled["position"] + 1)
    await relay_sent(settings, garbage.position or 0, ("events", 0, garbage.position or 0))

    await LiveProjector(engine, EVENTS).handle([*consumed(scheduled), garbage])

    assert set(await rows(engine)) == {story.id}
    assert "DecodeError" in (await parked(engine))[garbage.position or 0]
    assert await current_watermark(engine) == garbage.position


async def test_postgres_puts_an_aggregate_in_the_part_python_does(engine: AsyncEngine) -> None:
    ids = [uuid4() for _ in range(64)]
    async with engine.connect() as conn:
        found = await conn.exec_driver_sql(
            "SELECT id, get_byte(uuid_send(id), 15) %% 3 FROM unnest(%(ids)s::uuid[]) AS id",
            {"ids": ids},
        )
        in_postgres = dict(found.all())

    assert in_postgres == {id_: next(i for i in range(3) if Part(i, 3).holds(id_)) for id_ in ids}


@pytest.mark.parametrize(
    ("parallel_from", "forked"),
    [(1, True), (10_000, False)],
    ids=["a board as large as the threshold", "a smaller board"],
)
async def test_a_replay_forks_its_workers_only_for_a_board_large_enough(
    board: Board,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    parallel_from: int,
    forked: bool,
) -> None:
    schedule(board, "Лекция")
    started: list[int] = []
    start = Workers.start

    def counted_start(workers: Workers) -> ProcessPoolExecutor:
        started.append(workers.count)
        return start(workers)

    monkeypatch.setattr(Workers, "start", counted_start)
    asked = {"replay_workers": 2, "replay_parallel_from": parallel_from}

    count = await asyncio.to_thread(replay, settings.model_copy(update=asked), False)

    assert count >= 1
    assert bool(started) == forked


@pytest.mark.parametrize("workers", [1, 2], ids=["one process", "two worker processes"])
async def test_a_replay_rebuilds_the_table_the_live_projector_built(
    engine: AsyncEngine, board: Board, settings: Settings, workers: int
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

    parallel = settings.model_copy(update={"replay_workers": workers, "replay_parallel_from": 0})
    count = await asyncio.to_thread(replay, parallel, False)

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
