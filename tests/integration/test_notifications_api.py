"""Notification endpoints over HTTP: the whole board in one process, the notifier fed live."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
from httpx import Response

from projections.read_models.replay import replay
from shared.settings import Settings
from tests.integration.conftest import Account, BoardApi

pytestmark = pytest.mark.integration


async def create_event(api: BoardApi, organizer: Account, **overrides: Any) -> str:
    event_id: str = (await api.create_event(organizer, **overrides)).json()["id"]
    return event_id


async def notifications_of(
    api: BoardApi, user: Account, after: Response | None = None, **params: Any
) -> Response:
    headers = dict(user.headers)
    if after is not None:
        headers["X-Min-Position"] = after.headers["X-Event-Position"]
    return await api.http.get("/api/notifications/", params=params, headers=headers)


async def test_a_booking_is_in_the_users_notifications_once_the_notifier_caught_up(
    board_api: BoardApi,
) -> None:
    organizer, anna = await board_api.account("organizer"), await board_api.account("anna")
    event_id = await create_event(board_api, organizer)

    booked = await board_api.http.post(f"/api/events/{event_id}/book/", headers=anna.headers)
    listed = await notifications_of(board_api, anna, after=booked)

    assert listed.status_code == 200, listed.text
    [notification] = listed.json()["results"]
    assert notification == {
        "id": notification["id"],
        "type": "booking",
        "type_display": "Забронировано",
        "message": 'Вы успешно забронировали место на событие "Лекция". '
        "Место проведения — Казань, начало — 01.12.2030 21:00.",
        "event_id": event_id,
        "created_at": booked.json()["booked_at"],
        "read": False,
    }
    assert listed.json()["count"] == 1
    nobody_else = await notifications_of(board_api, organizer, after=booked)
    assert nobody_else.json()["results"] == []


async def test_notifications_are_listed_newest_first_and_marked_read_by_their_owner(
    board_api: BoardApi,
) -> None:
    organizer, anna = await board_api.account("organizer"), await board_api.account("anna")
    boris = await board_api.account("boris")
    first = await create_event(board_api, organizer)
    second = await create_event(board_api, organizer)
    await board_api.http.post(f"/api/events/{first}/book/", headers=anna.headers)
    board_api.clock.advance(1)
    await board_api.http.post(f"/api/events/{first}/cancel_booking/", headers=anna.headers)
    board_api.clock.advance(1)
    last = await board_api.http.post(f"/api/events/{second}/book/", headers=anna.headers)

    listed = (await notifications_of(board_api, anna, after=last)).json()["results"]
    cancel_id = listed[1]["id"]
    marked = await board_api.http.post(
        f"/api/notifications/{cancel_id}/read/", headers=anna.headers
    )
    again = await board_api.http.post(f"/api/notifications/{cancel_id}/read/", headers=anna.headers)
    unread = (await notifications_of(board_api, anna, unread="true")).json()
    read = (await notifications_of(board_api, anna, unread="false")).json()
    detail = await board_api.http.get(f"/api/notifications/{cancel_id}/", headers=anna.headers)
    foreign = await board_api.http.get(f"/api/notifications/{cancel_id}/", headers=boris.headers)
    foreign_mark = await board_api.http.post(
        f"/api/notifications/{cancel_id}/read/", headers=boris.headers
    )

    assert [(n["type"], n["event_id"]) for n in listed] == [
        ("booking", second),
        ("cancel", first),
        ("booking", first),
    ]
    assert (marked.status_code, marked.json()["read"]) == (200, True)
    assert again.json() == marked.json()
    assert [n["id"] for n in unread["results"]] == [listed[0]["id"], listed[2]["id"]]
    assert (read["count"], read["results"][0]["id"]) == (1, cancel_id)
    assert detail.json() == marked.json()
    assert detail.json()["type_display"] == "Бронирование отменено"
    for refused in (foreign, foreign_mark):
        assert (refused.status_code, refused.json()["code"]) == (404, "notification_not_found")


async def test_unknown_and_malformed_ids_are_not_found_and_strangers_are_refused(
    board_api: BoardApi,
) -> None:
    anna = await board_api.account("anna")

    unknown = await board_api.http.get(f"/api/notifications/{uuid4()}/", headers=anna.headers)
    malformed = await board_api.http.post("/api/notifications/nope/read/", headers=anna.headers)
    anonymous = await board_api.http.get("/api/notifications/")
    bad_filter = await notifications_of(board_api, anna, unread="maybe")

    assert (unknown.status_code, unknown.json()["code"]) == (404, "notification_not_found")
    assert (malformed.status_code, malformed.json()["code"]) == (404, "notification_not_found")
    assert anonymous.status_code == 401
    assert (bad_filter.status_code, bad_filter.json()["code"]) == (400, "validation_error")
    assert "unread" in bad_filter.json()["errors"]


async def test_a_rebuild_of_the_read_models_keeps_notifications_and_read_marks(
    board_api: BoardApi, settings: Settings
) -> None:
    organizer, anna = await board_api.account("organizer"), await board_api.account("anna")
    event_id = await create_event(board_api, organizer)
    booked = await board_api.http.post(f"/api/events/{event_id}/book/", headers=anna.headers)
    [notification] = (await notifications_of(board_api, anna, after=booked)).json()["results"]
    await board_api.http.post(
        f"/api/notifications/{notification['id']}/read/", headers=anna.headers
    )

    await asyncio.to_thread(replay, settings, False)

    listed = (await notifications_of(board_api, anna)).json()["results"]
    assert listed == [{**notification, "read": True}]


@pytest.mark.parametrize(
    "path", ["/api/notifications/", f"/api/notifications/{uuid4()}/", "/api/users/me/"]
)
@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_a_caller_without_a_valid_token_is_refused_before_any_wait_for_a_position(
    board_api: BoardApi, path: str, token: str | None
) -> None:
    headers = {"X-Min-Position": str(10**9)}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"

    started = asyncio.get_running_loop().time()
    refused = await board_api.http.get(path, headers=headers)
    took = asyncio.get_running_loop().time() - started

    assert refused.status_code == 401
    assert refused.json()["code"] == ("not_authenticated" if token is None else "token_not_valid")
    assert took < 1.0
