"""Parked messages put back: applied through the projection's own path, notifying once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from board.cli import main
from board.environment import settings_environment
from projections.notifier.fanout import apply_notifier_batch
from projections.notifier.projection import NOTIFIER
from projections.parked import Retried, UnknownProjection, retry_parked
from shared.integration.envelope import Envelope
from shared.read_model.migrate import upgrade
from shared.read_model.schema import notifications, notifier_events, parked_messages
from shared.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    upgrade(settings.database_url)
    engine = create_async_engine(settings.sqlalchemy_url)
    yield engine
    await engine.dispose()


def envelope(event_id: UUID, version: int, type_: str, data: dict[str, object]) -> Envelope:
    return Envelope(
        id=uuid4(),
        type=type_,
        aggregate_type="event",
        aggregate_id=event_id,
        version=version,
        position=1000 + version,
        occurred_at=NOW,
        data=data,
    )


async def count(engine: AsyncEngine, table: object, *where: object) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def test_a_parked_notifier_message_is_retried_and_notifies_exactly_once(
    settings: Settings, engine: AsyncEngine
) -> None:
    event_id, user_id = uuid4(), uuid4()
    # The booking's event never came (a message lost for good): the notifier cannot tell
    # the booking, and parks it.
    booked = envelope(
        event_id,
        2,
        "booking.created",
        {"booking_id": str(uuid4()), "user_id": str(user_id), "username": "guest"},
    )
    async with engine.begin() as conn:
        await apply_notifier_batch(conn, NOTIFIER, [booked])
    assert await count(engine, parked_messages, parked_messages.c.projection == "notifier") == 1
    # What parked it is fixed by hand: the event's row is put back as its first message
    # would have left it.
    async with engine.begin() as conn:
        await conn.execute(
            insert(notifier_events).values(
                id=event_id,
                version=1,
                position=1001,
                title="Лекция",
                location="Москва",
                start_time=NOW + timedelta(days=1),
                timezone="Europe/Moscow",
                status="upcoming",
                start_time_set_at=NOW,
            )
        )

    first = await retry_parked(settings, "notifier")
    second = await retry_parked(settings, "notifier")

    assert (first, second) == (Retried(applied=1, parked_again=0), Retried(0, 0))
    assert await count(engine, parked_messages) == 0
    assert await count(engine, notifications, notifications.c.user_id == user_id) == 1


async def test_a_message_that_fails_again_stays_parked(
    settings: Settings, engine: AsyncEngine
) -> None:
    orphan = envelope(uuid4(), 2, "event.cancelled", {"by_user_id": str(uuid4())})
    async with engine.begin() as conn:
        await apply_notifier_batch(conn, NOTIFIER, [orphan])

    retried = await retry_parked(settings, "notifier")

    assert retried == Retried(applied=0, parked_again=1)
    assert await count(engine, parked_messages) == 1


async def test_an_unknown_projection_is_refused(settings: Settings) -> None:
    with pytest.raises(UnknownProjection):
        await retry_parked(settings, "nonesuch")


def test_the_command_line_retries_a_projections_parked_messages(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(settings.database_url)
    for name, value in settings_environment(settings).items():
        monkeypatch.setenv(name, value)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "INSERT INTO read_model.parked_messages"
            " (projection, position, aggregate_id, payload, error, parked_at)"
            " VALUES ('users', 7, %s, %s, 'boom', now())",
            (uuid4(), b"not an envelope"),
        )

    still_parked = main(["projections", "retry-parked", "users"])
    unknown = main(["projections", "retry-parked", "nonesuch"])

    assert (still_parked, unknown) == (1, 2)
