"""Event lifecycle, bookings, ratings, tags, history and idempotency keys over HTTP: the
whole board in one process, the read models fed live from the outbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from httpx import Response

from shared.settings import Settings
from tests.integration.conftest import BoardApi
from tests.tokens import known_bearer

pytestmark = pytest.mark.integration

ORGANIZER = (uuid4(), "organizer")
STAFF = (uuid4(), "root")


class Users:
    """Tokens of made-up users: the commands take the caller from the token."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def headers(self, user: tuple[UUID, str], *, staff: bool = False) -> dict[str, str]:
        return known_bearer(self.settings, *user, staff)

    def guest(self) -> dict[str, str]:
        return self.headers((uuid4(), f"guest-{uuid4().hex[:6]}"))


@pytest.fixture
def users(settings: Settings) -> Users:
    return Users(settings)


async def create_event(api: BoardApi, users: Users, **overrides: Any) -> str:
    body = {
        "title": "Лекция",
        "description": "О событиях",
        "start_time": (api.clock.now() + timedelta(hours=3)).isoformat(),
        "location": "Казань",
        "seats": 2,
        **overrides,
    }
    response = await api.http.post("/api/events/", json=body, headers=users.headers(ORGANIZER))
    assert response.status_code == 201, response.text
    event_id: str = response.json()["id"]
    return event_id


async def read_detail(api: BoardApi, event_id: str, after: Response) -> Response:
    """The query API's detail once it reflects the write answered by `after`."""
    position = after.headers["X-Event-Position"]
    return await api.http.get(f"/api/events/{event_id}/", headers={"X-Min-Position": position})


def code(response: Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


async def test_a_booking_is_answered_and_shows_in_the_read_model(
    board_api: BoardApi, users: Users
) -> None:
    event_id = await create_event(board_api, users)
    guest = users.guest()

    booked = await board_api.http.post(f"/api/events/{event_id}/book/", headers=guest)

    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert set(body) == {"booking_id", "event_id", "booked_at", "message"}
    assert body["event_id"] == event_id
    assert body["booked_at"] == board_api.clock.now().isoformat().replace("+00:00", "Z")
    position = booked.headers["X-Event-Position"]
    detail = await board_api.http.get(
        f"/api/events/{event_id}/", headers={"X-Min-Position": position, **guest}
    )
    assert (detail.json()["booked_count"], detail.json()["free_seats"]) == (1, 1)
    assert detail.json()["is_booked"] is True


async def test_booking_refusals_carry_their_codes(board_api: BoardApi, users: Users) -> None:
    event_id = await create_event(board_api, users, seats=1)
    guest = users.guest()
    await board_api.http.post(f"/api/events/{event_id}/book/", headers=guest)
    book = f"/api/events/{event_id}/book/"

    assert code(await board_api.http.post(book, headers=guest)) == (400, "no_free_seats")
    assert code(await board_api.http.post(book)) == (401, "not_authenticated")
    for unknown in (str(uuid4()), "not-a-uuid"):
        missing = await board_api.http.post(f"/api/events/{unknown}/book/", headers=guest)
        assert code(missing) == (404, "event_not_found")
    roomy = await create_event(board_api, users, seats=5)
    await board_api.http.post(f"/api/events/{roomy}/book/", headers=guest)
    again = await board_api.http.post(f"/api/events/{roomy}/book/", headers=guest)
    assert code(again) == (400, "already_booked")
    board_api.clock.advance(3 * 3600)
    started = await board_api.http.post(f"/api/events/{roomy}/book/", headers=users.guest())
    assert code(started) == (400, "event_not_bookable")


async def test_a_cancelled_booking_can_be_made_again(board_api: BoardApi, users: Users) -> None:
    event_id = await create_event(board_api, users)
    guest = users.guest()
    cancel = f"/api/events/{event_id}/cancel_booking/"

    assert code(await board_api.http.post(cancel, headers=guest)) == (400, "not_booked")
    await board_api.http.post(f"/api/events/{event_id}/book/", headers=guest)
    cancelled = await board_api.http.post(cancel, headers=guest)
    again = await board_api.http.post(f"/api/events/{event_id}/book/", headers=guest)

    assert cancelled.status_code == 200
    assert cancelled.json() == {"status": "cancelled", "event_id": event_id}
    assert again.status_code == 201
    board_api.clock.advance(3 * 3600)
    assert code(await board_api.http.post(cancel, headers=guest)) == (
        400,
        "event_already_started",
    )


@pytest.mark.parametrize("score", [0, 6, "abc", 4.5, None])
async def test_a_score_outside_1_to_5_is_a_validation_error(
    board_api: BoardApi, users: Users, score: object
) -> None:
    response = await board_api.http.post(
        f"/api/events/{uuid4()}/rate/", json={"score": score}, headers=users.guest()
    )

    assert code(response) == (400, "validation_error")
    assert list(response.json()["errors"]) == ["score"]


async def test_a_participant_rates_once_and_then_replaces_the_score(
    board_api: BoardApi, users: Users
) -> None:
    event_id = await create_event(board_api, users)
    guest, stranger = users.guest(), users.guest()
    await board_api.http.post(f"/api/events/{event_id}/book/", headers=guest)
    rate = f"/api/events/{event_id}/rate/"

    early = await board_api.http.post(rate, json={"score": 5}, headers=guest)
    board_api.clock.advance(3 * 3600)
    first = await board_api.http.post(rate, json={"score": 5}, headers=guest)
    second = await board_api.http.post(rate, json={"score": 2}, headers=guest)
    outsider = await board_api.http.post(rate, json={"score": 4}, headers=stranger)

    assert code(early) == (400, "event_not_past")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["score"] == 2
    assert set(second.json()) == {"event_id", "score", "rated_at"}
    assert code(outsider) == (400, "not_a_participant")
    detail = (await read_detail(board_api, event_id, second)).json()
    assert (detail["avg_rating"], detail["rating_count"]) == (2.0, 1)


async def test_the_organizer_cancels_the_event_once(board_api: BoardApi, users: Users) -> None:
    event_id = await create_event(board_api, users)
    board_api.clock.advance(2 * 3600)
    path = f"/api/events/{event_id}/"

    cancelled = await board_api.http.patch(
        path, json={"status": "cancelled"}, headers=users.headers(ORGANIZER)
    )
    twice = await board_api.http.patch(
        path, json={"status": "cancelled"}, headers=users.headers(ORGANIZER)
    )

    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["status_display"]) == (
        "cancelled",
        "Отменено",
    )
    assert code(twice) == (400, "invalid_status_transition")
    assert (await read_detail(board_api, event_id, cancelled)).json()["status"] == "cancelled"


async def test_seats_cannot_drop_below_the_bookings(board_api: BoardApi, users: Users) -> None:
    event_id = await create_event(board_api, users, seats=3)
    for _ in range(2):
        await board_api.http.post(f"/api/events/{event_id}/book/", headers=users.guest())

    response = await board_api.http.patch(
        f"/api/events/{event_id}/", json={"seats": 1}, headers=users.headers(ORGANIZER)
    )

    assert code(response) == (400, "seats_below_booked")


async def test_a_deleted_event_disappears_and_its_history_stays_for_staff(
    board_api: BoardApi, users: Users
) -> None:
    event_id = await create_event(board_api, users)
    await create_event(board_api, users, title="Остаётся")
    path = f"/api/events/{event_id}/"
    stranger = await board_api.http.delete(path, headers=users.guest())

    deleted = await board_api.http.delete(path, headers=users.headers(ORGANIZER))

    assert code(stranger) == (403, "not_organizer")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert code(await read_detail(board_api, event_id, deleted)) == (404, "event_not_found")
    listing = await board_api.http.get("/api/events/")
    assert [e["title"] for e in listing.json()["results"]] == ["Остаётся"]
    history = f"/api/events/{event_id}/history/"
    assert code(await board_api.http.get(history, headers=users.headers(ORGANIZER))) == (
        404,
        "event_not_found",
    )
    kept = await board_api.http.get(history, headers=users.headers(STAFF, staff=True))
    assert [entry["type"] for entry in kept.json()] == ["event.scheduled", "event.deleted"]


async def test_deleting_after_the_edit_window_is_refused(board_api: BoardApi, users: Users) -> None:
    event_id = await create_event(board_api, users)
    board_api.clock.advance(3601)

    late = await board_api.http.delete(f"/api/events/{event_id}/", headers=users.headers(ORGANIZER))

    assert code(late) == (403, "delete_window_closed")


async def test_the_history_lists_integration_events_for_the_organizer_only(
    board_api: BoardApi, users: Users
) -> None:
    event_id = await create_event(board_api, users)
    booked = await board_api.http.post(f"/api/events/{event_id}/book/", headers=users.guest())
    path = f"/api/events/{event_id}/history/"

    history = await board_api.http.get(path, headers=users.headers(ORGANIZER))
    stranger = await board_api.http.get(path, headers=users.guest())

    assert history.status_code == 200, history.text
    entries = history.json()
    assert [(e["version"], e["type"]) for e in entries] == [
        (1, "event.scheduled"),
        (2, "booking.created"),
    ]
    assert entries[1]["position"] == int(booked.headers["X-Event-Position"])
    assert set(entries[1]) == {"position", "version", "type", "occurred_at", "data"}
    assert set(entries[1]["data"]) == {"booking_id", "user_id", "username", "source"}
    assert code(stranger) == (403, "not_organizer")


async def test_tags_are_unique_whatever_their_case_and_events_use_their_spelling(
    board_api: BoardApi, users: Users
) -> None:
    created = await board_api.http.post(
        "/api/tags/", json={"name": "  Python "}, headers=users.guest()
    )
    taken = await board_api.http.post("/api/tags/", json={"name": "PYTHON"}, headers=users.guest())
    bad = await board_api.http.post("/api/tags/", json={"name": "a,b"}, headers=users.guest())
    event_id = await create_event(board_api, users, tags=["python", "новый"])
    history = await board_api.http.get(
        f"/api/events/{event_id}/history/", headers=users.headers(ORGANIZER)
    )

    assert (created.status_code, created.json()) == (201, {"name": "Python"})
    assert code(taken) == (400, "tag_exists")
    assert code(bad) == (400, "validation_error")
    assert history.json()[0]["data"]["tags"] == ["Python", "новый"]


async def test_an_event_created_again_with_its_key_gets_the_first_answer_and_its_location(
    board_api: BoardApi, users: Users
) -> None:
    body = {
        "title": "Лекция",
        "description": "О событиях",
        "start_time": (board_api.clock.now() + timedelta(hours=3)).isoformat(),
        "location": "Казань",
    }
    keyed = {**users.headers(ORGANIZER), "Idempotency-Key": "create-once"}

    first = await board_api.http.post("/api/events/", json=body, headers=keyed)
    again = await board_api.http.post("/api/events/", json=body, headers=keyed)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert first.headers["Location"] == f"/api/events/{first.json()['id']}/"


@pytest.mark.parametrize("key", [b"k\x00", "ключ".encode(), b"k\tk", b"k\x7f"])
@pytest.mark.parametrize("action", ["book", "cancel_booking"])
async def test_a_key_of_anything_but_printable_ascii_is_a_validation_error(
    board_api: BoardApi, users: Users, key: bytes, action: str
) -> None:
    # A NUL reached the key's text column: PostgreSQL refuses it, and the write answered 500.
    event_id = await create_event(board_api, users, seats=5)
    keyed = [*users.guest().items(), ("Idempotency-Key", key)]

    response = await board_api.http.post(f"/api/events/{event_id}/{action}/", headers=keyed)

    assert code(response) == (400, "validation_error")
    assert list(response.json()["errors"]) == ["Idempotency-Key"]


async def test_a_write_sent_again_with_its_key_gets_the_first_answer(
    board_api: BoardApi, users: Users
) -> None:
    event_id = await create_event(board_api, users, seats=5)
    guest = users.guest()
    keyed = {**guest, "Idempotency-Key": "book-once"}
    path = f"/api/events/{event_id}/book/"

    first = await board_api.http.post(path, headers=keyed)
    again = await board_api.http.post(path, headers=keyed)
    other_body = await board_api.http.post(path, headers=keyed, json={"seats": 1})
    too_long = await board_api.http.post(path, headers={**guest, "Idempotency-Key": "k" * 256})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["X-Event-Position"] == first.headers["X-Event-Position"]
    assert code(other_body) == (422, "idempotency_key_reused")
    assert code(too_long) == (400, "validation_error")
    detail = (await read_detail(board_api, event_id, first)).json()
    assert detail["booked_count"] == 1
