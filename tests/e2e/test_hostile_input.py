"""Hostile requests to the running gateway, over real HTTP: each is refused cleanly.

SQL in every listing filter, headers past any sensible size, tampered and misused tokens,
and other users' events, bookings and notifications: a 4xx in the contract's error shape
(or, for what the HTTP server refuses before the app, its own 4xx), never a 5xx, and
nothing changed that the caller may not change.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest

from board.up import Stack
from shared.auth.tokens import issue_refresh_token
from tests.tokens import known_token

pytestmark = pytest.mark.e2e

SQL = [
    "' OR '1'='1",
    "'; DROP TABLE read_model.events; --",
    "1) OR (1=1",
    "%' OR 1=1 --",
    "\\'; SELECT pg_sleep(5); --",
    "' UNION SELECT id, password_hash FROM event_store.users --",
    "$$; SELECT 1; $$",
    "x'::regclass",
]
LISTING_FILTERS = [
    "location",
    "status",
    "start_time",
    "start_after",
    "start_before",
    "tag",
    "tags",
    "free_seats",
    "min_free_seats",
    "avg_rating__gte",
    "avg_rating__lte",
    "organizer",
    "min_organizer_rating",
    "search",
    "ordering",
    "page",
    "page_size",
]


@dataclass(frozen=True)
class Scene:
    """Two users of the running stack: the owner organises an event the other booked."""

    stack: Stack
    owner: dict[str, str]
    other: dict[str, str]
    other_id: str
    event_id: str
    position: str

    def still_there(self, api: httpx.Client) -> dict[str, Any]:
        """The event as its owner left it, read once the setup is reflected."""
        detail = api.get(f"/api/events/{self.event_id}/", headers={"X-Min-Position": self.position})
        assert detail.status_code == 200, detail.text
        body: dict[str, Any] = detail.json()
        assert (body["title"], body["status"], body["booked_count"]) == ("Крепость", "upcoming", 1)
        return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def scene(stack: Stack) -> Iterator[Scene]:
    owner = _bearer(known_token(stack.settings, uuid4(), "hostile-owner"))
    other_id = uuid4()
    other = _bearer(known_token(stack.settings, other_id, "hostile-other"))
    with httpx.Client(base_url=stack.base_url, timeout=30.0, trust_env=False) as api:
        start = datetime.now(UTC) + timedelta(days=3)
        created = api.post(
            "/api/events/",
            headers=owner,
            json={
                "title": "Крепость",
                "description": "Проверка",
                "start_time": start.isoformat(),
                "location": "Казань",
            },
        )
        assert created.status_code == 201, created.text
        event_id = created.json()["id"]
        booked = api.post(f"/api/events/{event_id}/book/", headers=other)
        assert booked.status_code == 201, booked.text
        position = booked.headers["X-Event-Position"]
        yield Scene(stack, owner, other, str(other_id), event_id, position)


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str)


@pytest.mark.parametrize("name", LISTING_FILTERS)
def test_sql_in_any_listing_filter_is_a_value_like_any_other(
    scene: Scene, api: httpx.Client, name: str
) -> None:
    for injected in SQL:
        started = time.monotonic()
        response = api.get("/api/events/", params={name: injected})

        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            # Matched as text: no condition became always true.
            assert response.json()["count"] == 0, (name, injected)
        else:
            assert response.json()["code"] == "validation_error"
        assert time.monotonic() - started < 4, "pg_sleep ran"
    scene.still_there(api)


@pytest.mark.parametrize(("path", "name"), [("/api/notifications/", "unread")])
def test_sql_in_the_notifications_filter_is_a_validation_error(
    scene: Scene, api: httpx.Client, path: str, name: str
) -> None:
    for injected in SQL:
        response = api.get(path, params={name: injected}, headers=scene.other)

        assert_refused(response, 400, "validation_error")


@pytest.mark.parametrize("size", [32 * 1024, 1024 * 1024])
@pytest.mark.parametrize("header", ["X-Padding", "Authorization", "X-Min-Position"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_oversized_header_is_refused_before_any_api_reads_it(
    scene: Scene, api: httpx.Client, header: str, size: int, method: str
) -> None:
    value = ("Bearer " if header == "Authorization" else "") + "9" * size

    response = api.request(method, "/api/events/", headers={**scene.other, header: value})

    assert_refused(response, 431, "request_header_fields_too_large")
    scene.still_there(api)


def test_many_small_headers_weigh_as_one_large_one(scene: Scene, api: httpx.Client) -> None:
    many = [(f"X-Header-{n}", "x" * 64) for n in range(1_000)]

    response = api.get("/api/events/", headers=many)

    assert_refused(response, 431, "request_header_fields_too_large")


def test_headers_a_client_really_sends_are_well_within_the_limit(
    scene: Scene, api: httpx.Client
) -> None:
    usual = {**scene.other, "X-Min-Position": scene.position, "User-Agent": "u" * 2048}

    assert api.get("/api/events/", headers=usual).status_code == 200


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _claims(scene: Scene, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "sub": scene.other_id,
        "username": "hostile-other",
        "is_staff": True,
        "type": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **overrides,
    }


def _tampered_tokens(scene: Scene) -> dict[str, str]:
    secret = scene.stack.settings.secret_key
    sign = lambda claims: jwt.encode(claims, secret, algorithm="HS256")  # noqa: E731
    past = datetime.now(UTC) - timedelta(hours=1)
    valid = scene.other["Authorization"].removeprefix("Bearer ")
    header, payload, signature = valid.split(".")
    raised = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raised["is_staff"] = True
    forged_payload = base64.urlsafe_b64encode(json.dumps(raised).encode()).rstrip(b"=").decode()
    refresh = issue_refresh_token(scene.stack.settings, uuid4(), uuid4())
    return {
        "alg none": _unsigned({**_claims(scene), "iat": 0, "exp": 4_102_444_800}),
        "wrong secret": jwt.encode(_claims(scene), "not-the-secret-" * 4, algorithm="HS256"),
        "HS512 with the secret": jwt.encode(_claims(scene), secret, algorithm="HS512"),
        "unknown user": sign(_claims(scene, sub=str(uuid4()))),
        "expired": sign(_claims(scene, iat=past - timedelta(hours=1), exp=past)),
        "refresh as access": sign({**_claims(scene), "type": "refresh", "jti": str(uuid4())}),
        "a real refresh token": refresh.token,
        "no type": sign({k: v for k, v in _claims(scene).items() if k != "type"}),
        "payload raised to staff": f"{header}.{forged_payload}.{signature}",
        "not a jwt": "definitely.not.a-token",
    }


# Signing HS512 with the board's secret: pyjwt warns the key is short for it, as meant.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/events/"),
        ("GET", "/api/users/me/"),
        ("GET", "/api/notifications/"),
        ("POST", "/api/tags/"),
        ("DELETE", "/api/events/{event_id}/"),
        ("GET", "/api/events/{event_id}/history/"),
    ],
)
def test_a_tampered_or_misused_token_is_refused_everywhere(
    scene: Scene, api: httpx.Client, method: str, path: str
) -> None:
    for name, token in _tampered_tokens(scene).items():
        response = api.request(
            method,
            path.format(event_id=scene.event_id),
            headers=_bearer(token),
            json={"name": "взлом"},
        )

        assert response.status_code == 401, (name, response.text)
        assert response.json()["code"] in ("token_not_valid", "not_authenticated"), name
    scene.still_there(api)


def test_an_access_token_is_no_refresh_token(scene: Scene, api: httpx.Client) -> None:
    access = scene.other["Authorization"].removeprefix("Bearer ")

    response = api.post("/api/users/token/refresh/", json={"refresh": access})

    assert_refused(response, 401, "token_not_valid")


def test_another_users_event_can_be_neither_edited_nor_deleted_nor_its_history_read(
    scene: Scene, api: httpx.Client
) -> None:
    path = f"/api/events/{scene.event_id}/"

    edited = api.patch(path, headers=scene.other, json={"title": "Захвачено"})
    cancelled = api.patch(path, headers=scene.other, json={"status": "cancelled"})
    deleted = api.delete(path, headers=scene.other)
    history = api.get(f"{path}history/", headers=scene.other)

    for refused in (edited, cancelled, deleted, history):
        assert_refused(refused, 403, "not_organizer")
    scene.still_there(api)


def test_another_users_booking_cannot_be_cancelled(scene: Scene, api: httpx.Client) -> None:
    path = f"/api/events/{scene.event_id}/"

    # Cancelling acts on the caller's own booking: the owner holds none.
    refused = api.post(f"{path}cancel_booking/", headers=scene.owner)

    assert_refused(refused, 400, "not_booked")
    detail = api.get(path, headers={**scene.other, "X-Min-Position": scene.position})
    assert (detail.json()["booked_count"], detail.json()["is_booked"]) == (1, True)


def test_another_users_notification_can_be_neither_read_nor_marked(
    scene: Scene, api: httpx.Client
) -> None:
    mine = api.get("/api/notifications/", headers={**scene.other, "X-Min-Position": scene.position})
    assert mine.status_code == 200, mine.text
    [booking] = mine.json()["results"]
    path = f"/api/notifications/{booking['id']}/"

    read = api.get(path, headers=scene.owner)
    marked = api.post(f"{path}read/", headers=scene.owner)
    theirs = api.get("/api/notifications/", headers=scene.owner)

    assert_refused(read, 404, "notification_not_found")
    assert_refused(marked, 404, "notification_not_found")
    assert theirs.json()["count"] == 0
    still = api.get(path, headers=scene.other)
    assert still.json()["read"] is False
