"""The Board application on in-memory persistence: commands, outbox mapping, retries."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from shared.application.board import Board
from shared.clock import ManualClock
from shared.domain.errors import (
    DeleteWindowClosed,
    EditWindowClosed,
    EventNotFound,
    InvalidStatusTransition,
    NotOrganizer,
    StartTimeInPast,
    TagExists,
)
from shared.domain.tag import tag_id_for
from shared.identity import Caller
from shared.integration.events import domain_event_id, to_integration_event
from shared.integration.names import EVENTS_STREAM
from tests.unit.scenarios import START, schedule


def test_scheduling_returns_the_event_and_its_global_position(board: Board) -> None:
    caller = Caller(uuid4(), "bob")

    first = schedule(board, caller)
    second = schedule(board, caller, title="B")

    assert (first.position, second.position) == (1, 2)
    assert board.get_event(first.aggregate.id).organizer_username == "bob"


def test_an_unknown_event_is_not_found(board: Board) -> None:
    with pytest.raises(EventNotFound):
        board.get_event(uuid4())


def test_an_update_uses_the_clock_and_reports_the_new_position(
    board: Board, clock: ManualClock
) -> None:
    caller = Caller(uuid4(), "bob")
    saved = schedule(board, caller)
    clock.advance(60)

    updated = board.update_event(saved.aggregate.id, caller=caller, changes={"seats": 3})

    assert updated.position == 2
    assert updated.aggregate.seats == 3
    assert updated.aggregate.updated_at == START + timedelta(seconds=60)


def test_a_no_op_update_stores_nothing_and_reports_position_zero(board: Board) -> None:
    caller = Caller(uuid4(), "bob")
    saved = schedule(board, caller)

    assert board.update_event(saved.aggregate.id, caller=caller, changes={"seats": 1}).position == 0


def test_the_integration_event_is_the_public_contract_of_a_domain_event(board: Board) -> None:
    caller_id = uuid4()
    saved = schedule(board, Caller(caller_id, "eve"), tags=["x"])
    [domain_event] = board.repository.event_store.get(saved.aggregate.id)

    integration = to_integration_event(domain_event)
    message = integration.to_message(position=42)

    assert integration.stream == EVENTS_STREAM
    assert integration.key == str(saved.aggregate.id)
    assert message == {
        "id": str(domain_event_id(saved.aggregate.id, 1)),
        "type": "event.scheduled",
        "schema": 1,
        "aggregate_type": "event",
        "aggregate_id": str(saved.aggregate.id),
        "version": 1,
        "position": 42,
        "occurred_at": "2026-12-01T12:00:00Z",
        "data": {
            "title": "A",
            "description": "d",
            "start_time": "2026-12-01T15:00:00Z",
            "timezone": "UTC",
            "location": "Омск",
            "seats": 1,
            "tags": ["x"],
            "organizer_id": str(caller_id),
            "organizer_username": "eve",
        },
    }


ORGANIZER = Caller(uuid4(), "organizer")
STAFF = Caller(uuid4(), "root", is_staff=True)


def test_new_tags_are_created_with_the_event_and_existing_ones_keep_their_spelling(
    board: Board,
) -> None:
    board.create_tag("Python")

    saved = schedule(board, ORGANIZER, tags=["PYTHON", "Джаз", "джаз"])

    assert saved.aggregate.tags == ("Python", "Джаз")
    assert board.repository.get(tag_id_for("джаз")).name == "Джаз"
    events = [n.topic.partition(":")[2] for n in board.recorder.select_notifications(1, 10)]
    assert events == ["Tag.Created", "Event.Scheduled", "Tag.Created"]


def test_a_tag_is_unique_whatever_its_letter_case(board: Board) -> None:
    created = board.create_tag("Рок")

    with pytest.raises(TagExists):
        board.create_tag("РОК")
    assert (created.aggregate, created.position) == ("Рок", 1)


def test_a_refused_event_creates_none_of_its_new_tags(board: Board) -> None:
    with pytest.raises(StartTimeInPast):
        schedule(board, ORGANIZER, start_time=START, tags=["новый"])

    assert board.recorder.max_notification_id() is None


def test_tags_given_in_a_change_are_spelled_as_they_exist(board: Board) -> None:
    board.create_tag("Jazz")
    event_id = schedule(board, ORGANIZER).aggregate.id

    changed = board.update_event(event_id, caller=ORGANIZER, changes={"tags": ["jazz", "blues"]})

    assert changed.aggregate.tags == ("Jazz", "blues")


def test_a_refused_change_creates_none_of_its_new_tags(board: Board, clock: ManualClock) -> None:
    event_id = schedule(board, ORGANIZER).aggregate.id
    before = board.recorder.max_notification_id()
    clock.advance(3601)

    with pytest.raises(EditWindowClosed):
        board.update_event(event_id, caller=ORGANIZER, changes={"tags": ["поздний"]})

    assert board.recorder.max_notification_id() == before


def test_cancelling_through_a_change_of_status(board: Board, clock: ManualClock) -> None:
    event_id = schedule(board, ORGANIZER).aggregate.id
    clock.advance(7200)

    cancelled = board.update_event(event_id, caller=ORGANIZER, changes={}, status="cancelled")

    assert (cancelled.aggregate.status, cancelled.position) == ("cancelled", 2)
    with pytest.raises(InvalidStatusTransition):
        board.update_event(event_id, caller=ORGANIZER, changes={}, status="cancelled")


def test_a_deleted_event_is_not_found_by_any_command(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id

    board.delete_event(event_id, caller=ORGANIZER)

    for command in (
        lambda: board.book_seat(event_id, caller=ORGANIZER),
        lambda: board.update_event(event_id, caller=ORGANIZER, changes={"title": "x"}),
        lambda: board.delete_event(event_id, caller=ORGANIZER),
        lambda: board.finish_event(event_id),
    ):
        with pytest.raises(EventNotFound):
            command()


def test_an_unknown_or_foreign_aggregate_is_no_event(board: Board) -> None:
    tag = board.create_tag("не событие")

    with pytest.raises(EventNotFound):
        board.book_seat(tag_id_for(tag.aggregate), caller=ORGANIZER)
    with pytest.raises(EventNotFound):
        board.book_seat(uuid4(), caller=ORGANIZER)


def test_deleting_after_the_window_is_refused_to_the_organizer(
    board: Board, clock: ManualClock
) -> None:
    event_id = schedule(board, ORGANIZER).aggregate.id
    clock.advance(61 * 60)

    with pytest.raises(DeleteWindowClosed):
        board.delete_event(event_id, caller=ORGANIZER)
    assert board.delete_event(event_id, caller=STAFF).position == 2


def test_the_sweep_finishes_an_event_that_started(board: Board, clock: ManualClock) -> None:
    event_id = schedule(board, ORGANIZER).aggregate.id

    with pytest.raises(InvalidStatusTransition):
        board.finish_event(event_id)
    clock.advance(3 * 3600)
    finished = board.finish_event(event_id)

    assert finished.aggregate.status == "finished"


def test_the_history_lists_the_events_domain_events_as_integration_events(
    board: Board, clock: ManualClock
) -> None:
    event_id = schedule(board, ORGANIZER, seats=2).aggregate.id
    other = schedule(board, ORGANIZER)
    guest = Caller(uuid4(), "guest")
    board.book_seat(event_id, caller=guest)
    clock.advance(60)
    board.update_event(event_id, caller=ORGANIZER, changes={"title": "B"})

    history = board.event_history(event_id, caller=ORGANIZER)

    assert [(h.position, h.version, h.type) for h in history] == [
        (1, 1, "event.scheduled"),
        (other.position + 1, 2, "booking.created"),
        (other.position + 2, 3, "event.updated"),
    ]
    assert history[1].data["user_id"] == str(guest.id)
    assert history[1].data["username"] == "guest"
    assert history[2].data == {
        "changes": {"title": "B"},
        "previous": {"title": "A"},
        "by_user_id": str(ORGANIZER.id),
    }
    assert history[2].occurred_at == START + timedelta(seconds=60)


def test_the_history_is_for_the_organizer_and_staff_and_once_deleted_for_staff_only(
    board: Board,
) -> None:
    event_id = schedule(board, ORGANIZER).aggregate.id

    with pytest.raises(NotOrganizer):
        board.event_history(event_id, caller=Caller(uuid4(), "stranger"))
    board.delete_event(event_id, caller=ORGANIZER)
    with pytest.raises(EventNotFound):
        board.event_history(event_id, caller=ORGANIZER)
    assert [h.type for h in board.event_history(event_id, caller=STAFF)] == [
        "event.scheduled",
        "event.deleted",
    ]
