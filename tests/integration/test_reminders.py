"""Reminders: exactly one per active booking and start time, the lead before the start."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from projections.notifier import reminders
from projections.notifier.reminders import ReminderScheduler, event_loader
from projections.notifier.texts import local_time
from shared.domain.event import Event
from shared.identity import Caller
from tests.integration.notifier_world import LEAD_SECONDS, STAFF, NotifierWorld

pytestmark = pytest.mark.integration

ANNA, BORIS, VERA = Caller(uuid4(), "anna"), Caller(uuid4(), "boris"), Caller(uuid4(), "vera")
LEAD = timedelta(seconds=LEAD_SECONDS)


async def reminded(world: NotifierWorld) -> list[tuple[UUID, UUID]]:
    return sorted((n["user_id"], n["event_id"]) for n in await world.notifications("reminder"))


async def test_each_active_booking_is_reminded_once_across_restarts_and_rival_processes(
    world: NotifierWorld,
) -> None:
    start = world.clock.now() + 2 * LEAD
    event_id = world.schedule(starts_in=2 * LEAD)
    world.book(event_id, ANNA, BORIS, VERA)
    world.board.cancel_booking(event_id, caller=VERA)
    await world.feed.step()
    first_lead = world.leadership()
    first, rival = world.reminder_scheduler(first_lead), world.reminder_scheduler()

    world.clock.advance(LEAD.total_seconds() - 1)
    early = await asyncio.gather(first.tick(), rival.tick())
    world.clock.advance(1)
    on_time = await asyncio.gather(first.tick(), rival.tick())
    # The leader dies and another process takes over, while a second leader (whose lock
    # went unnoticed) scans at the very same time.
    await first_lead.step_down()
    restarted = world.reminder_scheduler()
    second_leader = world.reminder_scheduler(world.leadership(key=1))
    world.clock.advance(30)
    later = await asyncio.gather(rival.tick(), restarted.tick(), second_leader.tick())

    assert early == [[], []]
    assert sorted(map(len, on_time)) == [0, 2]
    assert later == [[], [], []]
    assert await reminded(world) == sorted([(ANNA.id, event_id), (BORIS.id, event_id)])
    assert (await world.notifications("reminder"))[0]["message"] == (
        'Напоминаем: скоро начнётся событие "Концерт". '
        f"Место проведения — Москва, начало — {local_time(start, 'Europe/Moscow')}."
    )


async def test_no_reminder_reaches_a_cancelled_booking_or_a_cancelled_or_deleted_event(
    world: NotifierWorld,
) -> None:
    kept, cancelled, deleted = (world.schedule(starts_in=2 * LEAD) for _ in range(3))
    for event_id in (kept, cancelled, deleted):
        world.book(event_id, ANNA, BORIS)
    world.board.cancel_booking(kept, caller=BORIS)
    world.cancel(cancelled)
    world.board.delete_event(deleted, caller=STAFF)
    await world.feed.step()

    world.clock.advance(LEAD.total_seconds() + 60)
    await world.reminder_scheduler().tick()

    assert await reminded(world) == [(ANNA.id, kept)]


async def test_a_moved_events_reminder_comes_the_lead_before_its_new_start(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=2 * LEAD)
    world.book(event_id, ANNA)
    new_start = world.clock.now() + 5 * LEAD
    world.move(event_id, new_start)
    await world.feed.step()
    scheduler = world.reminder_scheduler()

    world.clock.advance(LEAD.total_seconds() + 60)
    at_old_moment = await scheduler.tick()
    world.clock.set(new_start - LEAD)
    at_new_moment = await scheduler.tick()

    assert at_old_moment == []
    assert len(at_new_moment) == 1
    [reminder] = await world.notifications("reminder")
    assert local_time(new_start, "Europe/Moscow") in reminder["message"]


async def test_a_booking_or_a_move_after_the_moment_gets_no_reminder(
    world: NotifierWorld,
) -> None:
    booked_late = world.schedule(starts_in=2 * LEAD)
    moved_late = world.schedule(starts_in=3 * LEAD)
    world.book(booked_late, ANNA)
    world.book(moved_late, ANNA)
    world.clock.advance(1.5 * LEAD.total_seconds())
    world.book(booked_late, BORIS)
    # Its new moment (start minus the lead) has passed already: the change notice is enough.
    world.move(moved_late, world.clock.now() + LEAD / 2)
    await world.feed.step()

    await world.reminder_scheduler().tick()

    assert await reminded(world) == [(ANNA.id, booked_late)]
    assert len(await world.notifications("event_changed")) == 1


async def test_a_reminder_missed_during_downtime_is_sent_unless_the_start_has_passed(
    world: NotifierWorld,
) -> None:
    soon = world.schedule(starts_in=2 * LEAD)
    later = world.schedule(starts_in=3 * LEAD)
    world.book(soon, ANNA)
    world.book(later, ANNA)
    await world.feed.step()

    # No scheduler ran for two and a half hours.
    world.clock.advance(2.5 * LEAD.total_seconds())
    await world.reminder_scheduler().tick()

    assert await reminded(world) == [(ANNA.id, later)]


async def test_the_write_side_has_the_last_word_when_the_view_lags(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=2 * LEAD)
    world.book(event_id, ANNA, BORIS)
    await world.feed.step()
    world.board.cancel_booking(event_id, caller=BORIS)
    world.clock.advance(LEAD.total_seconds())

    before_the_view_knows = await world.reminder_scheduler().tick()
    await world.feed.step()
    after = await world.reminder_scheduler().tick()

    assert len(before_the_view_knows) == 1
    assert after == []
    assert await reminded(world) == [(ANNA.id, event_id)]


async def test_a_page_the_write_side_disowns_does_not_hide_the_reminders_after_it(
    world: NotifierWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "SCAN_BATCH", 2)
    sooner = world.schedule(starts_in=2 * LEAD)
    later = world.schedule(starts_in=2 * LEAD + timedelta(minutes=1))
    world.book(sooner, ANNA, BORIS)
    world.book(later, VERA)
    await world.feed.step()
    # The write side cancels the first page's bookings; the view does not know yet.
    for fan in (ANNA, BORIS):
        world.board.cancel_booking(sooner, caller=fan)
    world.clock.advance(LEAD.total_seconds() + 60)

    created = await world.reminder_scheduler().tick()

    assert len(created) == 1
    assert await reminded(world) == [(VERA.id, later)]


async def test_the_write_side_is_asked_with_no_due_row_locked(world: NotifierWorld) -> None:
    event_id = world.schedule(starts_in=2 * LEAD)
    world.book(event_id, ANNA)
    await world.feed.step()
    world.clock.advance(LEAD.total_seconds())
    lockable: list[bool] = []
    load = event_loader(world.board.get_event)

    async def asking_while_checking_the_locks(asked: UUID) -> Event | None:
        async with world.engine.connect() as other:
            try:
                await other.execute(
                    text("SELECT 1 FROM read_model.notifier_participants FOR UPDATE NOWAIT")
                )
                lockable.append(True)
            except DBAPIError:
                lockable.append(False)
            await other.rollback()
        return await load(asked)

    scheduler = ReminderScheduler(
        world.leadership(), world.clock, LEAD_SECONDS, asking_while_checking_the_locks
    )
    created = await scheduler.tick()

    assert len(created) == 1
    assert lockable == [True]


async def test_between_ticks_the_leader_holds_no_lock_on_the_tables_it_scans(
    world: NotifierWorld,
) -> None:
    event_id = world.schedule(starts_in=2 * LEAD)
    world.book(event_id, ANNA)
    await world.feed.step()
    scheduler = world.reminder_scheduler()

    nothing_due = await scheduler.tick()
    async with world.engine.connect() as migration:
        # What a migration of these tables takes; it would wait while a scan stays open.
        await migration.execute(
            text(
                "LOCK TABLE read_model.notifier_participants, read_model.notifier_events"
                " IN ACCESS EXCLUSIVE MODE NOWAIT"
            )
        )
        await migration.rollback()

    assert nothing_due == []
