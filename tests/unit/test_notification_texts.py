"""Notification texts: Russian, with times in the event's own timezone."""

from __future__ import annotations

from datetime import UTC, datetime

from projections.notifier import texts
from projections.notifier.texts import EventFacts

CONCERT = EventFacts(
    title="Концерт",
    location="Москва",
    start_time=datetime(2026, 12, 1, 18, 0, tzinfo=UTC),
    timezone="Europe/Moscow",
)


def test_a_booking_text_shows_the_start_in_the_events_timezone() -> None:
    assert texts.booked(CONCERT) == (
        'Вы успешно забронировали место на событие "Концерт". '
        "Место проведения — Москва, начало — 01.12.2026 21:00."
    )


def test_the_same_moment_reads_differently_in_another_timezone() -> None:
    in_vladivostok = EventFacts("Концерт", "Владивосток", CONCERT.start_time, "Asia/Vladivostok")

    assert "начало — 02.12.2026 04:00." in texts.reminder(in_vladivostok)


def test_an_unknown_timezone_falls_back_to_utc() -> None:
    nowhere = EventFacts("Концерт", "Москва", CONCERT.start_time, "Mars/Olympus")

    assert "начало — 01.12.2026 18:00." in texts.booking_cancelled(nowhere)


def test_a_local_time_past_the_calendars_end_falls_back_to_utc() -> None:
    last_evening = EventFacts(
        "Концерт", "Москва", datetime(9999, 12, 31, 23, tzinfo=UTC), "Europe/Moscow"
    )

    assert "начало — 31.12.9999 23:00." in texts.booked(last_evening)


def test_a_change_shows_the_old_place_and_time_beside_the_new_ones() -> None:
    moved = EventFacts("Концерт", "Казань", datetime(2026, 12, 2, 16, 0, tzinfo=UTC), "UTC")

    text = texts.event_changed(
        moved,
        {
            "location": "Москва",
            "start_time": "2026-12-01T18:00:00Z",
            "timezone": "Europe/Moscow",
        },
    )

    assert text == (
        'Событие "Концерт" изменено. Место проведения — Казань (было: Москва), '
        "начало — 02.12.2026 16:00 (было: 01.12.2026 21:00)."
    )


def test_a_change_of_place_alone_keeps_the_time_as_it_is() -> None:
    text = texts.event_changed(CONCERT, {"location": "Тверь"})

    assert text.endswith("Москва (было: Тверь), начало — 01.12.2026 21:00.")


def test_a_cancellation_names_when_the_event_was_to_start() -> None:
    assert texts.event_cancelled(CONCERT) == (
        'Событие "Концерт" отменено. Место проведения — Москва, '
        "начало было назначено на 01.12.2026 21:00."
    )
