"""The engines' pools take connections back without rolling them back (`async_engine`):
every way the processes use a connection must end its transaction itself."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.live import LiveProjector
from projections.read_models.events import EVENTS
from shared.infra.database import async_engine
from shared.read_model.migrate import upgrade
from shared.read_model.schema import events
from shared.settings import Settings
from tests.integration.test_projection_handlers import Story, consumed

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    upgrade(settings.database_url)
    # One connection: whatever a use leaves behind, the next use gets.
    engine = async_engine(settings.sqlalchemy_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def status_when_taken_again(engine: AsyncEngine) -> TransactionStatus:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        return TransactionStatus(raw.driver_connection.info.transaction_status)


async def test_a_read_left_uncommitted_comes_back_idle(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(select(events.c.id).limit(1))

    assert await status_when_taken_again(engine) == TransactionStatus.IDLE


async def give_up_halfway(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("SELECT 1"))
        raise RuntimeError("the caller gave up halfway")


async def test_a_transaction_that_failed_comes_back_idle(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        await give_up_halfway(engine)

    assert await status_when_taken_again(engine) == TransactionStatus.IDLE


async def test_live_batches_applied_parked_or_failed_in_the_database_come_back_idle(
    engine: AsyncEngine,
) -> None:
    good, broken = Story(1), Story(2)
    [broken_message] = broken.messages()
    # PostgreSQL text cannot hold NUL: the batch's pipeline fails and is applied one by one.
    broken_message["data"]["title"] = "нулевой\x00байт"
    projector = LiveProjector(engine, EVENTS)

    await projector.handle(consumed(*good.messages(), broken_message))

    assert await status_when_taken_again(engine) == TransactionStatus.IDLE
