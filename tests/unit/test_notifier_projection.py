"""The notifier's projection in memory: which messages notify whom, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from projections.folding import ChildWrite, Put, Remove, Row, fold
from projections.notifier.fanout import segments
from projections.notifier.projection import NOTIFIER
from shared.domain.event import Event
from shared.integration.envelope import Envelope
from shared.notifications import caused_key, notification_id
from shared.read_model.schema import notifications, notifier_fanouts, notifier_participants
from tests.builders import event_details
from tests.envelopes import Outbox

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
START = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
ORGANIZER, ANNA, BORIS = uuid4(), uuid4(), uuid4()


def concert() -> Event:
    return Event.schedule(
        event_details(START), organizer_id=ORGANIZER, organizer_username="org", now=NOW
    )


def folded_writes(rows: dict[UUID, Row], envelopes: list[Envelope]) -> list[ChildWrite]:
    folded = fold(NOTIFIER, rows, set(), envelopes)
    assert folded.parked == []
    return folded.writes


def notified(writes: list[ChildWrite]) -> list[tuple[UUID, str, str]]:
    return [
        (w.values["user_id"], w.values["type"], w.values["message"])
        for w in writes
        if isinstance(w, Put) and w.table == notifications.name
    ]


def test_a_booking_notifies_its_user_once_with_the_events_place_and_local_time() -> None:
    outbox, event = Outbox(), concert()
    event.book(user_id=ANNA, username="anna", now=NOW)
    envelopes = outbox.messages(event)
    rows: dict[UUID, Row] = {}

    first = folded_writes(rows, envelopes)
    again = folded_writes(rows, envelopes)

    assert notified(first) == [
        (
            ANNA,
            "booking",
            'Вы успешно забронировали место на событие "Концерт". '
            "Место проведения — Москва, начало — 01.12.2026 21:00.",
        )
    ]
    [put] = [w for w in first if isinstance(w, Put) and w.table == notifications.name]
    booked = envelopes[-1]
    key = caused_key(booked.id, ANNA, "booking")
    assert put.values["key"] == key
    assert put.values["id"] == notification_id(key)
    assert again == []


def test_booking_cancelling_and_booking_again_notify_three_times() -> None:
    outbox, event = Outbox(), concert()
    event.book(user_id=ANNA, username="anna", now=NOW)
    event.cancel_booking(user_id=ANNA, now=NOW)
    event.book(user_id=ANNA, username="anna", now=NOW)

    writes = folded_writes({}, outbox.messages(event))

    assert [kind for _, kind, _ in notified(writes)] == ["booking", "cancel", "booking"]
    assert Remove(notifier_participants.name, {"event_id": event.id, "user_id": ANNA}) in writes


def test_cancelling_deleting_and_moving_an_event_are_notices_to_its_participants() -> None:
    outbox, event = Outbox(), concert()
    event.update(
        changes={"start_time": START + timedelta(days=1), "location": "Казань"},
        by_user_id=ORGANIZER,
        by_staff=False,
        now=NOW,
        edit_window_seconds=3600,
    )
    event.update(
        changes={},
        status="cancelled",
        by_user_id=ORGANIZER,
        by_staff=False,
        now=NOW,
        edit_window_seconds=3600,
    )
    event.delete(by_user_id=ORGANIZER, by_staff=False, now=NOW, edit_window_seconds=3600)

    writes = folded_writes({}, outbox.messages(event))

    notices = [w.values for w in writes if isinstance(w, Put) and w.table == notifier_fanouts.name]
    # Deleting an event that is cancelled already tells no one anything new.
    assert [(n["type"], n["event_id"]) for n in notices] == [
        ("event_changed", event.id),
        ("event_cancelled", event.id),
    ]
    assert "Казань (было: Москва)" in notices[0]["message"]
    assert "02.12.2026 21:00 (было: 01.12.2026 21:00)" in notices[0]["message"]


def test_a_new_title_or_description_is_no_notice() -> None:
    outbox, event = Outbox(), concert()
    event.update(
        changes={"title": "Большой концерт", "description": "Ещё громче"},
        by_user_id=ORGANIZER,
        by_staff=False,
        now=NOW,
        edit_window_seconds=3600,
    )

    assert folded_writes({}, outbox.messages(event)) == []


def test_a_batch_is_cut_before_a_booking_that_follows_a_notice_of_its_event() -> None:
    outbox, moved, other = Outbox(), concert(), concert()
    moved.book(user_id=ANNA, username="anna", now=NOW)
    moved.update(
        changes={"location": "Казань"},
        by_user_id=ORGANIZER,
        by_staff=False,
        now=NOW,
        edit_window_seconds=3600,
    )
    other.book(user_id=BORIS, username="boris", now=NOW)
    envelopes = outbox.messages(moved, other)
    moved.book(user_id=BORIS, username="boris", now=NOW)
    envelopes += outbox.messages(moved)

    cut = list(segments(envelopes))

    assert [[e.type for e in segment] for segment in cut] == [
        [
            "event.scheduled",
            "booking.created",
            "event.updated",
            "event.scheduled",
            "booking.created",
        ],
        ["booking.created"],
    ]
