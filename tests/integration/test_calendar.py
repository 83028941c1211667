"""Calendar entries and feeds over HTTP: the whole board in one process, read models fed live."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from httpx import Response
from icalendar import Calendar, Event

from tests.integration.conftest import Account, BoardApi

pytestmark = pytest.mark.integration

MOSCOW = ZoneInfo("Europe/Moscow")


async def create_event(api: BoardApi, organizer: Account, **overrides: Any) -> Response:
    return await api.create_event(
        organizer, description="О событиях, календарях; и прочем", **overrides
    )


def after(write: Response) -> dict[str, str]:
    return {"X-Min-Position": write.headers["X-Event-Position"]}


async def entry_of(api: BoardApi, event_id: str, write: Response) -> tuple[Calendar, Event]:
    response = await api.http.get(f"/api/events/{event_id}/calendar.ics", headers=after(write))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    [entry] = calendar.events
    return calendar, entry


async def test_an_events_entry_is_in_its_own_timezone_and_follows_a_move_and_a_cancellation(
    board_api: BoardApi,
) -> None:
    organizer = await board_api.account("organizer")
    created = await create_event(board_api, organizer)
    event_id = created.json()["id"]

    calendar, entry = await entry_of(board_api, event_id, created)
    assert entry.decoded("dtstart") == datetime(2030, 12, 1, 21, 0, tzinfo=MOSCOW)
    assert str(entry["dtstart"].params["TZID"]) == "Europe/Moscow"
    assert entry.decoded("dtend") - entry.decoded("dtstart") == timedelta(hours=2)
    assert [str(tz["tzid"]) for tz in calendar.timezones] == ["Europe/Moscow"]
    assert (str(entry["status"]), int(entry["sequence"])) == ("CONFIRMED", 0)
    assert str(entry["uid"]) == f"{event_id}@eventboard"
    assert str(entry["summary"]) == "Лекция"
    assert str(entry["description"]) == "О событиях, календарях; и прочем"
    assert str(entry["location"]) == "Казань"
    assert str(entry["url"]) == f"http://test/api/events/{event_id}/"

    moved = await board_api.http.patch(
        f"/api/events/{event_id}/",
        json={"start_time": "2030-12-02T07:30:00Z"},
        headers=organizer.headers,
    )
    assert moved.status_code == 200, moved.text
    _, entry = await entry_of(board_api, event_id, moved)
    assert entry.decoded("dtstart") == datetime(2030, 12, 2, 10, 30, tzinfo=MOSCOW)
    assert (str(entry["status"]), int(entry["sequence"])) == ("CONFIRMED", 1)
    assert str(entry["uid"]) == f"{event_id}@eventboard"

    cancelled = await board_api.http.patch(
        f"/api/events/{event_id}/", json={"status": "cancelled"}, headers=organizer.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    _, entry = await entry_of(board_api, event_id, cancelled)
    assert (str(entry["status"]), int(entry["sequence"])) == ("CANCELLED", 2)
    assert entry.decoded("dtstart") == datetime(2030, 12, 2, 10, 30, tzinfo=MOSCOW)


async def test_an_unknown_malformed_or_deleted_event_has_no_entry(board_api: BoardApi) -> None:
    organizer = await board_api.account("organizer")
    created = await create_event(board_api, organizer)
    event_id = created.json()["id"]
    deleted = await board_api.http.delete(f"/api/events/{event_id}/", headers=organizer.headers)
    assert deleted.status_code == 204, deleted.text

    for asked in (event_id, str(uuid4()), "not-an-id"):
        response = await board_api.http.get(
            f"/api/events/{asked}/calendar.ics", headers=after(deleted)
        )
        assert response.status_code == 404, asked
        assert response.json()["code"] == "event_not_found"


async def feed(api: BoardApi, url: str) -> Calendar:
    response = await api.http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def summaries(calendar: Calendar) -> dict[str, str]:
    return {str(entry["summary"]): str(entry["status"]) for entry in calendar.events}


async def test_the_feed_shows_the_callers_bookings_as_they_change_and_needs_no_token(
    board_api: BoardApi,
) -> None:
    organizer, anna = await board_api.account("organizer"), await board_api.account("anna")
    events = {
        title: (await create_event(board_api, organizer, title=title)).json()["id"]
        for title in ("Лекция", "Концерт", "Выставка")
    }
    for event_id in events.values():
        booked = await board_api.http.post(f"/api/events/{event_id}/book/", headers=anna.headers)
        assert booked.status_code == 201, booked.text
    given = await board_api.http.get("/api/users/me/calendar/", headers=anna.headers)
    assert given.status_code == 200, given.text
    url = given.json()["url"]
    assert url.startswith("http://test/api/calendar/")
    assert url.endswith(".ics")
    await entry_of(board_api, events["Выставка"], booked)
    assert summaries(await feed(board_api, url)) == dict.fromkeys(events, "CONFIRMED")

    unbooked = await board_api.http.post(
        f"/api/events/{events['Лекция']}/cancel_booking/", headers=anna.headers
    )
    cancelled = await board_api.http.patch(
        f"/api/events/{events['Концерт']}/", json={"status": "cancelled"}, headers=organizer.headers
    )
    assert (unbooked.status_code, cancelled.status_code) == (200, 200)
    await entry_of(board_api, events["Концерт"], cancelled)

    assert summaries(await feed(board_api, url)) == {
        "Концерт": "CANCELLED",
        "Выставка": "CONFIRMED",
    }


async def test_a_rotated_feed_url_answers_404_at_once_and_the_new_one_works(
    board_api: BoardApi,
) -> None:
    anna = await board_api.account("anna")
    old = (await board_api.http.get("/api/users/me/calendar/", headers=anna.headers)).json()["url"]
    assert (await board_api.http.get(old)).status_code == 200

    rotated = await board_api.http.post("/api/users/me/calendar/rotate/", headers=anna.headers)

    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["url"]
    assert new != old
    gone = await board_api.http.get(old)
    assert (gone.status_code, gone.json()["code"]) == (404, "calendar_not_found")
    assert (await board_api.http.get(new)).status_code == 200
    given = await board_api.http.get("/api/users/me/calendar/", headers=anna.headers)
    assert given.json()["url"] == new


async def test_a_forged_or_garbled_feed_url_answers_404(board_api: BoardApi) -> None:
    anna = await board_api.account("anna")
    url = (await board_api.http.get("/api/users/me/calendar/", headers=anna.headers)).json()["url"]
    token = url.removeprefix("http://test/api/calendar/").removesuffix(".ics")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]

    for asked in (flipped, "garbage", token[:20]):
        response = await board_api.http.get(f"/api/calendar/{asked}.ics")
        assert response.status_code == 404, asked


async def test_the_feed_url_needs_a_signed_in_caller(board_api: BoardApi) -> None:
    assert (await board_api.http.get("/api/users/me/calendar/")).status_code == 401
    assert (await board_api.http.post("/api/users/me/calendar/rotate/")).status_code == 401
