"""The write API over HTTP, against the real event store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import jwt
import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient, Response

from command_api.app import create_app
from shared.auth.tokens import issue_access_token
from shared.clock import ManualClock
from shared.settings import Settings
from tests.tokens import known_bearer

pytestmark = pytest.mark.integration

ORGANIZER = (uuid4(), "alice")
STRANGER = (uuid4(), "mallory")
STAFF = (uuid4(), "root")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"edit_window_seconds": 60})


@pytest.fixture
async def client(app_settings: Settings, clock: ManualClock) -> AsyncIterator[AsyncClient]:
    app = create_app(app_settings, clock=clock)
    async with (
        LifespanManager(app) as manager,
        AsyncClient(transport=ASGITransport(app=manager.app), base_url="http://test") as client,
    ):
        yield client


def bearer(settings: Settings, user: tuple[UUID, str], is_staff: bool = False) -> dict[str, str]:
    return known_bearer(settings, *user, is_staff)


def new_event(clock: ManualClock, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Концерт",
        "description": "Живая музыка",
        "start_time": (clock.now() + timedelta(days=2)).isoformat(),
        "location": "Москва",
        "tags": ["музыка", " джаз "],
    }
    body.update(overrides)
    return body


async def create(
    client: AsyncClient, settings: Settings, clock: ManualClock, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/events/", json=new_event(clock, **overrides), headers=bearer(settings, ORGANIZER)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def change(
    client: AsyncClient,
    settings: Settings,
    event_id: str,
    body: dict[str, Any],
    user: tuple[UUID, str] = ORGANIZER,
    *,
    staff: bool = False,
) -> Response:
    """PATCH the event as `user` (the organizer unless said otherwise)."""
    return await client.patch(
        f"/api/events/{event_id}/", json=body, headers=bearer(settings, user, staff)
    )


async def test_creating_an_event_answers_the_detail_its_location_and_position(
    client: AsyncClient, app_settings: Settings, clock: ManualClock
) -> None:
    start = datetime(2030, 5, 1, 21, 0, tzinfo=UTC)
    body = new_event(
        clock,
        start_time="2030-05-02T00:00:00+03:00",
        status="finished",
        organizer={"id": str(uuid4()), "username": "someone"},
    )

    response = await client.post("/api/events/", json=body, headers=bearer(app_settings, ORGANIZER))

    assert response.status_code == 201
    event = response.json()
    assert response.headers["Location"] == f"/api/events/{event['id']}/"
    assert int(response.headers["X-Event-Position"]) >= 1
    created_at = clock.now().isoformat().replace("+00:00", "Z")
    assert event == {
        "id": event["id"],
        "title": "Концерт",
        "description": "Живая музыка",
        "start_time": start.isoformat().replace("+00:00", "Z"),
        "timezone": "Europe/Moscow",
        "location": "Москва",
        "seats": 100,
        "status": "upcoming",
        "status_display": "Ожидается",
        "organizer": {"id": str(ORGANIZER[0]), "username": "alice"},
        "tags": ["музыка", "джаз"],
        "booked_count": 0,
        "free_seats": 100,
        "avg_rating": None,
        "rating_count": 0,
        "created_at": created_at,
        "updated_at": created_at,
        "is_booked": False,
        "my_rating": None,
        "waitlist_length": 0,
        "my_waitlist_position": None,
    }


async def test_each_write_reports_a_later_position(
    client: AsyncClient, app_settings: Settings, clock: ManualClock
) -> None:
    headers = bearer(app_settings, ORGANIZER)
    first = await client.post("/api/events/", json=new_event(clock), headers=headers)
    second = await client.post("/api/events/", json=new_event(clock), headers=headers)

    assert int(second.headers["X-Event-Position"]) > int(first.headers["X-Event-Position"])


async def test_a_start_time_in_the_past_is_refused(
    client: AsyncClient, app_settings: Settings, clock: ManualClock
) -> None:
    body = new_event(clock, start_time=(clock.now() - timedelta(minutes=1)).isoformat())

    response = await client.post("/api/events/", json=body, headers=bearer(app_settings, ORGANIZER))

    assert response.status_code == 400
    assert response.json()["code"] == "start_time_in_past"


async def test_the_organizer_changes_fields_within_the_edit_window(
    client: AsyncClient, app_settings: Settings, clock: ManualClock
) -> None:
    event = await create(client, app_settings, clock)
    clock.advance(30)

    response = await change(
        client, app_settings, event["id"], {"title": "Новый концерт", "seats": 5, "tags": ["рок"]}
    )

    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["title"], changed["seats"], changed["free_seats"], changed["tags"]) == (
        "Новый концерт",
        5,
        5,
        ["рок"],
    )
    assert changed["updated_at"] > changed["created_at"]
    assert int(response.headers["X-Event-Position"]) > 1


async def test_someone_else_may_not_change_the_event(
    client: AsyncClient, app_settings: Settings, clock: ManualClock
) -> None:
    event = await create(client, app_settings, clock)

    response = await change(client, app_settings, event["id"], {"title": "Моё"}, STRANGER)

    assert response.status_code == 403
    assert response.json()["code"] == "not_organizer"


async def test_staff_may_change_the_event_after_the_edit_window(
    client: AsyncClient, app_settings: Settings, clock: ManualClock
) -> None:
    event = await create(client, app_settings, clock)
    clock.advance(120)

    response = await change(
        client, app_settings, event["id"], {"location": "Казань"}, STAFF, staff=True
    )

    assert response.status_code == 200
    assert response.json()["location"] == "Казань"


@pytest.mark.parametrize("event_id", [str(uuid4()), "not-a-uuid"])
async def test_changing_an_unknown_event_is_not_found(
    client: AsyncClient, app_settings: Settings, event_id: str
) -> None:
    response = await change(client, app_settings, event_id, {"title": "x"})

    assert response.status_code == 404
    assert response.json()["code"] == "event_not_found"


async def test_changes_after_the_edit_window_are_refused(
    client: AsyncClient, app_settings: Settings, clock: ManualClock
) -> None:
    event = await create(client, app_settings, clock)
    clock.advance(61)

    response = await change(client, app_settings, event["id"], {"title": "Поздно"})

    assert response.status_code == 403
    assert response.json()["code"] == "edit_window_closed"


async def test_a_status_change_is_an_invalid_transition_for_now(
    client: AsyncClient, app_settings: Settings, clock: ManualClock
) -> None:
    event = await create(client, app_settings, clock)

    response = await change(client, app_settings, event["id"], {"status": "finished"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_status_transition"


async def test_a_null_field_in_a_change_is_a_validation_error(
    client: AsyncClient, app_settings: Settings, clock: ManualClock
) -> None:
    event = await create(client, app_settings, clock)

    response = await change(client, app_settings, event["id"], {"title": None})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["title"]


async def test_writing_without_a_token_is_not_authenticated(
    client: AsyncClient, clock: ManualClock
) -> None:
    response = await client.post("/api/events/", json=new_event(clock))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_a_start_time_without_an_offset_is_a_validation_error(
    client: AsyncClient, app_settings: Settings, clock: ManualClock
) -> None:
    body = new_event(clock, start_time="2030-05-01T21:00:00")

    response = await client.post("/api/events/", json=body, headers=bearer(app_settings, ORGANIZER))

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "validation_error"
    assert list(error["errors"]) == ["start_time"]
    assert isinstance(error["detail"], str)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Кон\x00церт"),
        ("description", "\x00"),
        ("location", "Москва\x00"),
        ("tags", ["джаз", "ро\x00к"]),
        ("title", "\ud800"),
        ("start_time", "9999-12-31T23:00:00-14:00"),
    ],
)
async def test_a_value_the_database_cannot_hold_is_a_validation_error_of_its_field(
    client: AsyncClient, app_settings: Settings, clock: ManualClock, field: str, value: Any
) -> None:
    # PostgreSQL stores no NUL in text, UTF-8 no lone surrogate, and neither a year past
    # 9999: accepted, such an event could never reach the read model.
    body = json.dumps(new_event(clock, **{field: value})).encode()
    headers = {**bearer(app_settings, ORGANIZER), "Content-Type": "application/json"}

    response = await client.post("/api/events/", content=body, headers=headers)

    assert response.status_code == 400, response.text
    assert list(response.json()["errors"]) == [field]
    assert "X-Event-Position" not in response.headers


async def test_malformed_json_is_a_validation_error(
    client: AsyncClient, app_settings: Settings
) -> None:
    response = await client.post(
        "/api/events/",
        content=b'{"title": "x",',
        headers={**bearer(app_settings, ORGANIZER), "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "non_field_errors" in response.json()["errors"]


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "sub": str(ORGANIZER[0]),
        "username": ORGANIZER[1],
        "is_staff": False,
        "type": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    return claims


def _bad_tokens(settings: Settings) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "garbage": "not-a-jwt",
        "expired": issue_access_token(settings, *ORGANIZER, False, now=now - timedelta(hours=1)),
        "alg none": jwt.encode(_claims(), None, algorithm="none"),
        "wrong secret": jwt.encode(_claims(), "x" * 40, algorithm="HS256"),
        "refresh type": jwt.encode(_claims(type="refresh"), settings.secret_key, algorithm="HS256"),
        "tampered": issue_access_token(settings, *ORGANIZER, False)[:-2] + "AA",
    }


@pytest.mark.parametrize(
    "kind", ["garbage", "expired", "alg none", "wrong secret", "refresh type", "tampered"]
)
async def test_a_bad_token_is_refused(
    client: AsyncClient, app_settings: Settings, clock: ManualClock, kind: str
) -> None:
    token = _bad_tokens(app_settings)[kind]

    response = await client.post(
        "/api/events/", json=new_event(clock), headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
