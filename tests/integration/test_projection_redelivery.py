"""The `events` projection on the real read model takes any redelivery as a no-op.

Kafka delivers at least once: after a crash a consumer reads again from an offset it had
already applied, in batches of whatever size the broker hands out. Hypothesis draws a
stream (bookings, cancellations, ratings, edits, cancelling, finishing and deleting on two
events of one organizer), a prefix that was applied, the point it is read again from, and
how both are split into batches; the read model (the rows and every child table: bookings,
ratings, tags, counts, organizer ratings) must equal the stream applied once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import hypothesis
import pytest
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from projections.read_models.events import EVENTS
from projections.store import apply_batch
from shared.domain.errors import DomainError
from shared.domain.event import Event
from shared.integration.envelope import Envelope
from shared.read_model.migrate import upgrade
from shared.read_model.schema import parked_messages
from shared.settings import Settings
from tests.builders import event_details
from tests.envelopes import Outbox

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STARTS = NOW + timedelta(hours=1)
ORGANIZER = uuid4()
GUESTS = (uuid4(), uuid4(), uuid4())
# What the projection writes; a message it parked instead would show here too.
TABLES = (EVENTS.table, *EVENTS.children, parked_messages)

Command = tuple[str, int, int, int]
commands = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "book",
                "cancel_booking",
                "join",
                "leave",
                "rate",
                "edit",
                "cancel",
                "finish",
                "delete",
            ]
        ),
        st.integers(min_value=0, max_value=1),  # which event
        st.integers(min_value=0, max_value=len(GUESTS) - 1),  # which guest
        st.integers(min_value=1, max_value=5),  # a score, or seats to add
    ),
    max_size=30,
)


def _run(event: Event, command: Command) -> None:
    name, _, guest, number = command
    user = GUESTS[guest]
    # Bookings before the start, ratings and finishing after it.
    before, after = STARTS - timedelta(minutes=1), STARTS + timedelta(minutes=1)
    if name == "book":
        event.book(user_id=user, username=f"гость {guest}", now=before)
    elif name == "cancel_booking":
        event.cancel_booking(user_id=user, now=before)
    elif name == "join":
        event.join_waitlist(user_id=user, username=f"гость {guest}", now=before)
    elif name == "leave":
        event.leave_waitlist(user_id=user, now=before)
    elif name == "rate":
        event.rate(user_id=user, score=number, now=after)
    elif name == "edit":
        changes = {"seats": event.seats + number, "tags": [f"тег{number}"]}
        event.update(
            changes=changes, by_user_id=ORGANIZER, by_staff=True, now=before, edit_window_seconds=0
        )
    elif name == "cancel":
        event.cancel(by_user_id=ORGANIZER, by_staff=False, now=before)
    elif name == "finish":
        event.finish(after)
    else:
        event.delete(by_user_id=ORGANIZER, by_staff=True, now=before, edit_window_seconds=0)


def stream_of(drawn: list[Command]) -> list[Envelope]:
    """The messages of two events living through `drawn` (refused commands record nothing)."""
    outbox = Outbox()
    board = [
        Event.schedule(
            event_details(STARTS, seats=2, tags=["общий"]),
            organizer_id=ORGANIZER,
            organizer_username="организатор",
            now=NOW,
        )
        for _ in range(2)
    ]
    stream = outbox.messages(*board)
    for command in drawn:
        event = board[command[1]]
        try:
            _run(event, command)
        except DomainError:
            continue
        stream += outbox.messages(event)
    return stream


def split(messages: list[Envelope], cuts: list[int]) -> Iterator[list[Envelope]]:
    """`messages` in batches, cut at the drawn points."""
    edges = sorted({0, len(messages), *(cut % (len(messages) + 1) for cut in cuts)})
    for start, end in itertools.pairwise(edges):
        yield messages[start:end]


async def apply_in(engine: AsyncEngine, batches: Iterator[list[Envelope]]) -> None:
    for batch in batches:
        async with engine.begin() as conn:
            await apply_batch(conn, EVENTS, batch)


async def read_model(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    async with engine.connect() as conn:
        return {
            table.name: sorted(
                (tuple(map(str, row)) for row in await conn.execute(select(table))), key=str
            )
            for table in TABLES
        }


async def emptied(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        names = ", ".join(f"read_model.{table.name}" for table in TABLES)
        await conn.execute(text(f"TRUNCATE {names}"))


def test_a_redelivered_prefix_in_any_batches_leaves_the_read_model_as_one_delivery(
    settings: Settings,
) -> None:
    upgrade(settings.database_url)
    loop = asyncio.new_event_loop()
    engine = create_async_engine(settings.sqlalchemy_url)

    @hypothesis.settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @hypothesis.given(
        drawn=commands,
        applied=st.integers(min_value=0),
        again_from=st.integers(min_value=0),
        first_cuts=st.lists(st.integers(min_value=0), max_size=4),
        second_cuts=st.lists(st.integers(min_value=0), max_size=4),
    )
    def as_one_delivery(
        drawn: list[Command],
        applied: int,
        again_from: int,
        first_cuts: list[int],
        second_cuts: list[int],
    ) -> None:
        stream = stream_of(drawn)
        prefix = stream[: applied % (len(stream) + 1)]
        # Read again from an offset at or before the last one applied.
        redelivered = stream[again_from % (len(prefix) + 1) :]

        async def compare() -> None:
            await emptied(engine)
            await apply_in(engine, iter([stream]))
            once = await read_model(engine)
            await emptied(engine)
            await apply_in(engine, split(prefix, first_cuts))
            await apply_in(engine, split(redelivered, second_cuts))
            assert await read_model(engine) == once

        loop.run_until_complete(compare())

    try:
        as_one_delivery()
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


def test_the_drawn_streams_reach_every_kind_of_message() -> None:
    # The comparison above proves little if refusals left the stream bare.
    drawn: list[Command] = [
        ("book", 0, 0, 1),
        ("book", 0, 1, 1),
        ("join", 0, 2, 1),
        ("leave", 0, 2, 1),
        ("join", 0, 2, 1),
        # Guest 2, first in line, gets the seat.
        ("cancel_booking", 0, 1, 1),
        ("edit", 0, 0, 2),
        ("rate", 0, 0, 4),
        ("finish", 0, 0, 1),
        ("book", 1, 0, 1),
        ("book", 1, 1, 1),
        ("join", 1, 2, 1),
        # The line closes with the event.
        ("cancel", 1, 0, 1),
        ("delete", 1, 0, 1),
    ]

    kinds = {envelope.type for envelope in stream_of(drawn)}

    assert set(EVENTS.handlers) == kinds
