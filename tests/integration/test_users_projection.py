"""The `users` read model: built from the users stream live, and rebuilt the same by a replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from projections.read_models.replay import replay
from projections.read_models.users import USERS
from projections.store import apply_batch
from shared.application.board import Board
from shared.infra.database import event_store_env
from shared.integration.envelope import Envelope
from shared.integration.names import USERS_STREAM
from shared.read_model.migrate import upgrade
from shared.read_model.schema import users
from shared.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def board(settings: Settings) -> Iterator[Board]:
    upgrade(settings.database_url)
    board = Board(settings, env=event_store_env(settings))
    yield board
    board.close()


@pytest.fixture
async def users_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(settings.sqlalchemy_url)
    yield engine
    await engine.dispose()


async def project_outbox(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        payloads = await conn.scalars(
            text("SELECT payload FROM event_store.outbox WHERE stream = :s ORDER BY position"),
            {"s": USERS_STREAM},
        )
        await apply_batch(conn, USERS, [Envelope.decode(p) for p in payloads])


async def user_rows(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(users))).mappings()
        return {row["username"]: dict(row) for row in rows}


async def test_a_users_domain_events_build_their_row(
    board: Board, users_engine: AsyncEngine
) -> None:
    alice = board.register_user(username="Alice", email="a@example.com", password="s3cret-pw")
    bob = board.register_user(username="bob", email="", password="s3cret-pw")
    board.set_staff(alice.aggregate.id, is_staff=True)
    board.create_superuser(username="bob", email="", password="new-s3cret")
    board.deactivate_user(bob.aggregate.id)

    await project_outbox(users_engine)

    rows = await user_rows(users_engine)
    assert {name: (r["is_staff"], r["is_active"], r["version"]) for name, r in rows.items()} == {
        "Alice": (True, True, 2),
        # The password change moved the version on and left no trace of the password.
        "bob": (True, False, 4),
    }
    assert rows["Alice"]["email"] == "a@example.com"
    assert rows["Alice"]["date_joined"] == alice.aggregate.date_joined
    assert "password_hash" not in rows["bob"]


async def test_a_reactivated_user_is_active_again_in_the_read_model(
    board: Board, users_engine: AsyncEngine
) -> None:
    carol = board.register_user(username="carol", email="", password="s3cret-pw")
    board.deactivate_user(carol.aggregate.id)
    board.reactivate_user(carol.aggregate.id)

    await project_outbox(users_engine)

    row = (await user_rows(users_engine))["carol"]
    assert (row["is_active"], row["version"]) == (True, 3)


async def test_a_replay_rebuilds_the_users_the_live_projector_built(
    board: Board, users_engine: AsyncEngine, settings: Settings
) -> None:
    for n in range(5):
        saved = board.register_user(
            username=f"user{n}", email=f"u{n}@example.com", password="pw-12345678"
        )
        if n % 2:
            board.deactivate_user(saved.aggregate.id)
    await project_outbox(users_engine)
    expected = await user_rows(users_engine)
    async with users_engine.begin() as conn:
        await conn.execute(users.update().values(email="испорчено"))

    await asyncio.to_thread(replay, settings, False)

    assert await user_rows(users_engine) == expected
