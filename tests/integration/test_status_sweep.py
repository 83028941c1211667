"""The status sweep: overdue upcoming events become finished, once, through the application."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

import pytest

from shared.domain.event import Event
from tests.integration.notifier_world import FINISH_AFTER_SECONDS, NotifierWorld

pytestmark = pytest.mark.integration

FINISH_AFTER = timedelta(seconds=FINISH_AFTER_SECONDS)


def finished_events_stored(world: NotifierWorld, event_id: UUID) -> int:
    history = world.board.repository.event_store.get(event_id)
    return sum(isinstance(domain_event, Event.Finished) for domain_event in history)


async def test_a_sweep_after_downtime_finishes_every_overdue_event_once(
    world: NotifierWorld,
) -> None:
    overdue = [world.schedule(starts_in=timedelta(hours=1 + n)) for n in range(12)]
    not_yet = world.schedule(starts_in=timedelta(hours=20))
    cancelled = world.schedule(starts_in=timedelta(hours=1))
    world.cancel(cancelled)
    await world.feed.step()
    sweep, rival = world.status_sweep(), world.status_sweep()

    # Down for a day: nothing swept, then two processes sweep at once, and again before
    # the view has even seen the first sweep's work.
    world.clock.advance(timedelta(hours=13).total_seconds() + FINISH_AFTER.total_seconds())
    first = await asyncio.gather(sweep.tick(), rival.tick())
    again = await sweep.tick()
    await world.feed.step()
    after_the_view_caught_up = await asyncio.gather(sweep.tick(), rival.tick())

    assert sorted(first) == [0, 12]
    assert again == 0
    assert after_the_view_caught_up == [0, 0]
    assert [finished_events_stored(world, event_id) for event_id in overdue] == [1] * 12
    assert world.board.get_event(not_yet).status == "upcoming"
    assert world.board.get_event(cancelled).status == "cancelled"


async def test_an_event_is_finished_only_once_it_started_the_set_time_ago(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=timedelta(hours=1))
    await world.feed.step()
    sweep = world.status_sweep()

    world.clock.advance(timedelta(hours=1).total_seconds() + FINISH_AFTER.total_seconds() - 1)
    too_early = await sweep.tick()
    world.clock.advance(1)
    on_time = await sweep.tick()

    assert (too_early, on_time) == (0, 1)
    assert world.board.get_event(event_id).status == "finished"
