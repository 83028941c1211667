"""Bookings, ratings and tag counts: projected from real domain events, read over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from projections.read_models.events import EVENTS
from projections.read_models.replay import Part, replay
from projections.store import apply_batch
from shared.application.board import Board
from shared.domain.event import Event
from shared.domain.tag import Tag
from shared.identity import Caller
from shared.infra.database import event_store_env
from shared.integration.envelope import Envelope
from shared.read_model.schema import bookings, tags
from shared.settings import Settings
from tests.builders import event_details
from tests.envelopes import Outbox
from tests.tokens import known_bearer

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
ANNA, BORIS = (uuid4(), "anna"), (uuid4(), "boris")


def scheduled(
    tags: list[str], *, start: datetime = START, organizer_id: UUID | None = None
) -> Event:
    return Event.schedule(
        event_details(
            start,
            title="Джем-сейшн",
            description="Приходите с инструментами",
            location="Самара",
            tags=tags,
        ),
        organizer_id=organizer_id or uuid4(),
        organizer_username="org",
        now=start - timedelta(days=3),
    )


@pytest.fixture
async def read_engine(read_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(read_settings.sqlalchemy_url)
    yield engine
    await engine.dispose()


async def project(engine: AsyncEngine, envelopes: list[Envelope]) -> None:
    async with engine.begin() as conn:
        folded = await apply_batch(conn, EVENTS, envelopes)
    assert folded.parked == []


def bearer(settings: Settings, user: tuple[UUID, str]) -> dict[str, str]:
    return known_bearer(settings, *user)


async def table_rows(engine: AsyncEngine, query: Any) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(query)]


async def test_the_detail_tells_the_caller_whether_they_booked_and_how_they_rated(
    read_client: AsyncClient, read_settings: Settings, read_engine: AsyncEngine
) -> None:
    outbox = Outbox()
    event = scheduled(["джаз"])
    event.book(user_id=ANNA[0], username=ANNA[1], now=START - timedelta(days=1))
    event.book(user_id=BORIS[0], username=BORIS[1], now=START - timedelta(days=1))
    event.rate(user_id=ANNA[0], score=2, now=START + timedelta(hours=3))
    event.rate(user_id=ANNA[0], score=5, now=START + timedelta(hours=4))
    await project(read_engine, outbox.messages(event))
    path = f"/api/events/{event.id}/"

    anna = (await read_client.get(path, headers=bearer(read_settings, ANNA))).json()
    boris = (await read_client.get(path, headers=bearer(read_settings, BORIS))).json()
    stranger = (await read_client.get(path, headers=bearer(read_settings, (uuid4(), "x")))).json()
    anonymous = (await read_client.get(path)).json()

    assert (anna["is_booked"], anna["my_rating"]) == (True, 5)
    assert (boris["is_booked"], boris["my_rating"]) == (True, None)
    assert (stranger["is_booked"], stranger["my_rating"]) == (False, None)
    assert (anonymous["is_booked"], anonymous["my_rating"]) == (False, None)
    assert (anna["avg_rating"], anna["rating_count"], anna["booked_count"]) == (5.0, 1, 2)


async def test_a_cancelled_booking_is_gone_and_booking_again_brings_it_back(
    read_client: AsyncClient, read_settings: Settings, read_engine: AsyncEngine
) -> None:
    outbox = Outbox()
    event = scheduled([])
    first = event.book(user_id=ANNA[0], username=ANNA[1], now=START - timedelta(days=2))
    await project(read_engine, outbox.messages(event))
    event.cancel_booking(user_id=ANNA[0], now=START - timedelta(days=2))
    cancelled = outbox.messages(event)
    await project(read_engine, cancelled)
    detail = await read_client.get(f"/api/events/{event.id}/", headers=bearer(read_settings, ANNA))
    assert detail.json()["is_booked"] is False

    again = event.book(user_id=ANNA[0], username=ANNA[1], now=START - timedelta(days=1))
    await project(read_engine, outbox.messages(event))
    # A redelivered cancellation is older than the row: it must not undo the new booking.
    await project(read_engine, cancelled)

    assert again != first
    assert await table_rows(read_engine, select(bookings.c.user_id, bookings.c.booking_id)) == [
        (ANNA[0], again)
    ]


async def test_my_upcoming_events_lists_active_bookings_of_future_upcoming_events_soonest_first(
    read_client: AsyncClient, read_settings: Settings, read_engine: AsyncEngine
) -> None:
    outbox = Outbox()
    later, sooner, left, cancelled = (
        scheduled([], start=START + timedelta(days=d)) for d in (5, 1, 2, 3)
    )
    booked_at = START - timedelta(days=1)
    for event in (later, sooner, left, cancelled):
        event.book(user_id=ANNA[0], username=ANNA[1], now=booked_at)
    left.cancel_booking(user_id=ANNA[0], now=booked_at)
    cancelled.update(
        changes={},
        status="cancelled",
        by_user_id=cancelled.organizer_id,
        by_staff=False,
        now=booked_at,
        edit_window_seconds=0,
    )
    not_mine = scheduled([])
    not_mine.book(user_id=BORIS[0], username=BORIS[1], now=booked_at)
    await project(read_engine, outbox.messages(later, sooner, left, cancelled, not_mine))

    response = await read_client.get(
        "/api/events/my_upcoming_events/", headers=bearer(read_settings, ANNA)
    )
    anonymous = await read_client.get("/api/events/my_upcoming_events/")

    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()] == [str(sooner.id), str(later.id)]
    assert anonymous.status_code == 401


async def test_tags_count_the_events_that_carry_them_most_used_first(
    read_client: AsyncClient, read_engine: AsyncEngine
) -> None:
    outbox = Outbox()
    jazz, rock, unused = (Tag.create(name=n, now=START) for n in ("Джаз", "Рок", "Опера"))
    first, second, third = scheduled(["Джаз"]), scheduled(["Джаз", "Рок"]), scheduled(["Рок"])
    creations = outbox.messages(jazz, rock, unused, first, second, third)
    # Tags and events arrive on different partitions, so in any order.
    await project(read_engine, creations[::-1])
    third.update(
        changes={"tags": ["Джаз"]},
        by_user_id=third.organizer_id,
        by_staff=True,
        now=START - timedelta(days=2),
        edit_window_seconds=0,
    )
    first.delete(
        by_user_id=first.organizer_id,
        by_staff=True,
        now=START - timedelta(days=2),
        edit_window_seconds=0,
    )
    changes = outbox.messages(third, first)
    await project(read_engine, changes)
    await project(read_engine, creations + changes)

    listed = (await read_client.get("/api/tags/")).json()

    assert listed["count"] == 3
    assert listed["results"] == [
        {"name": "Джаз", "events_count": 2},
        {"name": "Рок", "events_count": 1},
        {"name": "Опера", "events_count": 0},
    ]


@pytest.mark.parametrize("workers", [1, 2], ids=["one process", "two worker processes"])
async def test_a_replay_rebuilds_bookings_ratings_and_tags_from_the_event_store(
    read_settings: Settings, read_engine: AsyncEngine, workers: int
) -> None:
    board = Board(read_settings, env=event_store_env(read_settings))

    def scheduled(tags: list[str]) -> UUID:
        details = event_details(
            START, title="Лекция", description="О проекциях", location="Пермь", seats=5, tags=tags
        )
        return board.schedule_event(details, caller=Caller(uuid4(), "org")).aggregate.id

    try:
        event_ids = [scheduled(["Python", "Базы"]), scheduled(["python"])]
        # Events in both halves, so two workers add to the same tag's counter.
        while len({Part(0, 2).holds(event_id) for event_id in event_ids}) < 2:
            event_ids.append(scheduled(["python"]))
        board.create_tag("Пустой")
        for event_id in event_ids[:2]:
            board.book_seat(event_id, caller=Caller(*ANNA))
        board.book_seat(event_ids[0], caller=Caller(*BORIS))
        board.cancel_booking(event_ids[1], caller=Caller(*ANNA))
    finally:
        board.close()
    async with read_engine.begin() as conn:
        await conn.execute(
            tags.insert().values(name_folded="лишний", name="Лишний", events_count=9)
        )

    parallel = read_settings.model_copy(
        update={"replay_workers": workers, "replay_parallel_from": 0}
    )
    await asyncio.to_thread(replay, parallel, False)

    assert sorted(await table_rows(read_engine, select(tags.c.name, tags.c.events_count))) == [
        ("Python", len(event_ids)),
        ("Базы", 1),
        ("Пустой", 0),
    ]
    assert sorted(
        await table_rows(read_engine, select(bookings.c.event_id, bookings.c.user_id))
    ) == sorted([(event_ids[0], ANNA[0]), (event_ids[0], BORIS[0])])


async def test_the_counters_follow_status_changes_deletions_and_ratings(
    read_client: AsyncClient, read_engine: AsyncEngine
) -> None:
    outbox = Outbox()
    organizer_id = uuid4()
    kept, cancelled, deleted = (scheduled([], organizer_id=organizer_id) for _ in range(3))
    kept.book(user_id=ANNA[0], username=ANNA[1], now=START - timedelta(days=1))
    deleted.book(user_id=ANNA[0], username=ANNA[1], now=START - timedelta(days=1))
    await project(read_engine, outbox.messages(kept, cancelled, deleted))
    cancelled.update(
        changes={},
        status="cancelled",
        by_user_id=cancelled.organizer_id,
        by_staff=True,
        now=START - timedelta(days=1),
        edit_window_seconds=0,
    )
    kept.rate(user_id=ANNA[0], score=4, now=START + timedelta(hours=3))
    deleted.rate(user_id=ANNA[0], score=1, now=START + timedelta(hours=3))
    await project(read_engine, outbox.messages(kept, cancelled, deleted))
    before_deletion = await listed_ids(read_client, min_organizer_rating=3)
    deleted.delete(
        by_user_id=deleted.organizer_id,
        by_staff=True,
        now=START + timedelta(hours=4),
        edit_window_seconds=0,
    )
    await project(read_engine, outbox.messages(deleted))

    everything = (await read_client.get("/api/events/")).json()

    assert everything["count"] == 2
    assert before_deletion == []
    # Without the deleted event's 1, the organizer's mean is 4.
    assert set(await listed_ids(read_client, min_organizer_rating=3)) == {
        str(kept.id),
        str(cancelled.id),
    }


async def listed_ids(client: AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/api/events/", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["results"]]
