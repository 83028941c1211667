"""Notifications never wait behind other work: a new booking's notice comes within a bound
while the read models are locked for a rebuild, while a rebuild runs, and while the status
sweep floods the board with status changes. Each test prints what it measured."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest

from board.environment import settings_environment
from board.up import Stack
from projections.read_models.replay import REBUILD_SCHEMA
from shared.application.board import Board
from shared.identity import Caller
from shared.infra.database import event_store_env
from tests.builders import event_details
from tests.tokens import known_token
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

# What a new booking's notice may take to appear while the rest of the board is busy; it
# takes well under a second here, but the tests share two cores with whatever else runs.
BOUND_SECONDS = 10.0
FLOOD = 500
ORGANIZER = Caller(uuid4(), "organizer")


def bearer(stack: Stack) -> dict[str, str]:
    token = known_token(stack.settings, uuid4(), f"fan-{uuid4().hex[:6]}")
    return {"Authorization": f"Bearer {token}"}


def new_event(stack: Stack, api: httpx.Client) -> str:
    body = {
        "title": "Срочный показ",
        "description": "Места разбирают быстро",
        "start_time": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        "location": "Тула",
    }
    response = api.post("/api/events/", json=body, headers=bearer(stack))
    assert response.status_code == 201, response.text
    event_id: str = response.json()["id"]
    return event_id


def booking_notice_seconds(
    stack: Stack, api: httpx.Client, event_id: str, within: float = BOUND_SECONDS
) -> float:
    """Book the event as a new user; seconds from the answer until the notice is listed."""
    guest = bearer(stack)
    booked = api.post(f"/api/events/{event_id}/book/", headers=guest)
    assert booked.status_code == 201, booked.text
    answered = time.monotonic()

    def listed() -> bool:
        results = api.get("/api/notifications/", headers=guest).json()["results"]
        return any(n["event_id"] == event_id and n["type"] == "booking" for n in results)

    eventually(listed, "the booking notice", timeout=within, interval=0.005)
    return time.monotonic() - answered


def report(what: str, seconds: float, **facts: object) -> None:
    details = "".join(f", {name} {value}" for name, value in facts.items())
    sys.stderr.write(f"notification priority: {what}: {seconds * 1000:.0f} ms{details}\n")


@pytest.fixture
def board(stack: Stack) -> Iterator[Board]:
    board = Board(stack.settings, env=event_store_env(stack.settings))
    yield board
    board.close()


def test_a_notice_comes_while_the_read_models_are_locked_as_a_rebuild_swaps_them(
    stack: Stack, api: httpx.Client
) -> None:
    event_id = new_event(stack, api)
    # The event is in the read model before it is locked. A first booking waits for the
    # notifier to join its consumer group; the second shows what a notice takes when idle.
    api.get(f"/api/events/{event_id}/", headers={"X-Min-Position": str(last_position(stack))})
    booking_notice_seconds(stack, api, event_id, within=60.0)
    idle = booking_notice_seconds(stack, api, event_id)

    with psycopg.connect(stack.settings.database_url) as locking:
        # What the rebuild's swap holds: the read-model projector cannot write meanwhile.
        locking.execute("LOCK TABLE read_model.events IN EXCLUSIVE MODE")
        seconds = booking_notice_seconds(stack, api, event_id)
        with psycopg.connect(stack.settings.database_url) as reader:
            row = reader.execute(
                "SELECT booked_count FROM read_model.events WHERE id = %s", (event_id,)
            ).fetchone()
        locking.rollback()

    assert row == (2,), "the read model moved on: the lock held nothing back"
    report("idle board", idle)
    report("read models locked", seconds)


def test_a_notice_comes_while_the_status_sweep_floods_the_board(
    stack: Stack, api: httpx.Client, board: Board
) -> None:
    event_id = new_event(stack, api)
    # Far enough ahead to schedule the whole flood first, on a loaded machine too.
    flooded = schedule_many(board, datetime.now(UTC) + timedelta(seconds=15))

    eventually(
        lambda: finished(stack, flooded) >= FLOOD // 10, "the sweep to get going", timeout=60
    )
    at_booking = finished(stack, flooded)
    seconds = booking_notice_seconds(stack, api, event_id)
    eventually(
        lambda: finished(stack, flooded) == FLOOD, "the sweep to finish the flood", timeout=60
    )
    notifier_caught_up(stack)

    report("status sweep flood", seconds, flood=FLOOD, finished_before_booking=at_booking)


def schedule_many(board: Board, start: datetime) -> list[UUID]:
    """`FLOOD` events starting at `start`, scheduled at once."""

    def schedule(_: int) -> UUID:
        scheduled = board.schedule_event(
            event_details(
                start,
                title="Однодневка",
                description="Скоро закончится",
                timezone="UTC",
                location="Тверь",
            ),
            caller=ORGANIZER,
        )
        return scheduled.aggregate.id

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(schedule, range(FLOOD)))


def notifier_caught_up(stack: Stack) -> None:
    """Wait until the notifier has worked off what is stored: the next test starts afresh."""
    last = last_position(stack)
    eventually(lambda: notifier_watermark(stack) >= last, "the notifier to catch up", timeout=60)


def finished(stack: Stack, event_ids: list[UUID]) -> int:
    with psycopg.connect(stack.settings.database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM event_store.outbox"
            " WHERE type = 'event.finished' AND key = ANY(%s)",
            ([str(event_id) for event_id in event_ids],),
        ).fetchone()
    assert row is not None
    count: int = row[0]
    return count


def test_a_notice_comes_while_a_rebuild_runs(stack: Stack, api: httpx.Client) -> None:
    event_id = new_event(stack, api)
    with psycopg.connect(stack.settings.database_url) as holding:
        # Conflicts with the swap's lock: the rebuild runs until this transaction ends, so
        # the notice is measured while it runs, however fast the rebuild itself is.
        holding.execute("LOCK TABLE read_model.events IN SHARE ROW EXCLUSIVE MODE")
        replay = subprocess.Popen(
            [sys.executable, "-m", "board.cli", "projections", "replay", "--no-progress"],
            env={**os.environ, **settings_environment(stack.settings)},
        )
        try:
            eventually(lambda: rebuilding(stack), "the rebuild to start", timeout=60)
            seconds = booking_notice_seconds(stack, api, event_id)
            during = replay.poll() is None
        finally:
            holding.rollback()
            assert replay.wait(timeout=120) == 0

    assert during, "the rebuild had ended before the notice came"
    report("rebuild running", seconds)


def rebuilding(stack: Stack) -> bool:
    with psycopg.connect(stack.settings.database_url) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (REBUILD_SCHEMA,)
        ).fetchone()
    return found is not None


def last_position(stack: Stack) -> int:
    with psycopg.connect(stack.settings.database_url) as conn:
        row = conn.execute("SELECT max(position) FROM event_store.outbox").fetchone()
    assert row is not None
    position: int = row[0]
    return position


def notifier_watermark(stack: Stack) -> int:
    with psycopg.connect(stack.settings.database_url) as conn:
        row = conn.execute(
            "SELECT position FROM read_model.watermarks WHERE projection = 'notifier'"
        ).fetchone()
    return 0 if row is None else int(row[0])
