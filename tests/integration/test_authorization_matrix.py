"""Who may call what: every endpoint in the OpenAPI document, called by an anonymous client,
another user, the owner and a staff user, answers as api.md says."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.integration.conftest import PASSWORD, Account, BoardApi

pytestmark = pytest.mark.integration

PERSONAS = ("anonymous", "other", "owner", "staff")


@dataclass(frozen=True)
class Scene:
    """Three users and an event the owner organises."""

    api: BoardApi
    accounts: dict[str, Account]
    event_id: str
    position: int

    def headers(self, persona: str) -> dict[str, str]:
        account = self.accounts.get(persona)
        # Every read waits for the setup, so a 404 can only mean "not allowed to see".
        return {"X-Min-Position": str(self.position), **(account.headers if account else {})}


@dataclass(frozen=True)
class Call:
    """What one persona sends: the ids the path names, and the body."""

    ids: dict[str, str]
    json: dict[str, Any] | None = None


# Prepares a persona's call; some calls need the persona to have done something first.
Prepare = Callable[[Scene, str], Awaitable[Call]]


def event_body(api: BoardApi, starts_in: timedelta = timedelta(days=3)) -> dict[str, Any]:
    return {
        "title": "Встреча",
        "description": "Обсуждение",
        "start_time": (api.clock.now() + starts_in).isoformat(),
        "location": "Казань",
    }


async def create_event(scene: Scene, starts_in: timedelta = timedelta(days=3)) -> str:
    created = await scene.api.http.post(
        "/api/events/", json=event_body(scene.api, starts_in), headers=scene.headers("owner")
    )
    assert created.status_code == 201, created.text
    event_id: str = created.json()["id"]
    return event_id


async def book(scene: Scene, persona: str, event_id: str) -> int:
    """The position of the booking; 0 for the anonymous persona, who cannot book."""
    if persona not in scene.accounts:
        return 0
    booked = await scene.api.http.post(
        f"/api/events/{event_id}/book/", headers=scene.headers(persona)
    )
    assert booked.status_code == 201, booked.text
    return int(booked.headers["X-Event-Position"])


def the(event_id: str, body: dict[str, Any] | None = None) -> Call:
    return Call({"event_id": event_id}, body)


async def the_event(scene: Scene, _persona: str) -> Call:
    return the(scene.event_id)


async def a_new_event(scene: Scene, _persona: str) -> Call:
    return the(scene.event_id, event_body(scene.api))


async def a_new_title(scene: Scene, _persona: str) -> Call:
    return the(scene.event_id, {"title": f"Новое название {uuid4().hex[:6]}"})


async def a_fresh_event_of_the_owner(scene: Scene, _persona: str) -> Call:
    return the(await create_event(scene))


async def the_event_booked_by_the_caller(scene: Scene, persona: str) -> Call:
    await book(scene, persona, scene.event_id)
    return the(scene.event_id)


async def a_full_event(scene: Scene, persona: str) -> Call:
    """A fresh event whose one seat another persona holds."""
    created = await scene.api.http.post(
        "/api/events/", json={**event_body(scene.api), "seats": 1}, headers=scene.headers("owner")
    )
    assert created.status_code == 201, created.text
    event_id: str = created.json()["id"]
    await book(scene, "other" if persona == "staff" else "staff", event_id)
    return the(event_id)


async def a_full_event_the_caller_waits_for(scene: Scene, persona: str) -> Call:
    call = await a_full_event(scene, persona)
    if persona in scene.accounts:
        joined = await scene.api.http.post(
            f"/api/events/{call.ids['event_id']}/waitlist/", headers=scene.headers(persona)
        )
        assert joined.status_code == 201, joined.text
    return call


async def a_past_event_the_caller_attended(scene: Scene, persona: str) -> Call:
    event_id = await create_event(scene, starts_in=timedelta(minutes=10))
    await book(scene, persona, event_id)
    scene.api.clock.advance(11 * 60)
    return the(event_id, {"score": 5})


async def a_fresh_notification_of_the_owner(scene: Scene, _persona: str) -> Call:
    position = await book(scene, "owner", await create_event(scene))
    listed = await scene.api.http.get(
        "/api/notifications/",
        headers={**scene.headers("owner"), "X-Min-Position": str(position)},
    )
    assert listed.status_code == 200, listed.text
    newest = listed.json()["results"][0]
    return Call({"notification_id": newest["id"]})


async def a_new_tag(scene: Scene, _persona: str) -> Call:
    return the(scene.event_id, {"name": f"тег-{uuid4().hex[:8]}"})


async def a_new_user(scene: Scene, _persona: str) -> Call:
    return the(scene.event_id, {"username": f"user{uuid4().hex[:8]}", "password": PASSWORD})


async def the_owners_credentials(scene: Scene, _persona: str) -> Call:
    return the(scene.event_id, {"username": "owner", "password": PASSWORD})


async def a_fresh_refresh_token_of_the_owner(scene: Scene, _persona: str) -> Call:
    tokens = await scene.api.log_in("owner")
    return the(scene.event_id, {"refresh": tokens.json()["refresh"]})


async def the_owners_feed(scene: Scene, _persona: str) -> Call:
    given = await scene.api.http.get("/api/users/me/calendar/", headers=scene.headers("owner"))
    token = given.json()["url"].rpartition("/")[2].removesuffix(".ics")
    return Call({"token": token})


@dataclass(frozen=True)
class Rule:
    method: str
    path: str
    prepare: Prepare
    # The status each persona gets, in the order of PERSONAS.
    statuses: tuple[int, int, int, int]


# The statuses of PERSONAS (anonymous, other, owner, staff) that many routes share.
EVERYONE = (200, 200, 200, 200)
SIGNED_IN = (401, 200, 200, 200)
SIGNED_IN_CREATES = (401, 201, 201, 201)
OWN_NOTIFICATION = (401, 404, 200, 404)
E, N = "/api/events/{event_id}", "/api/notifications/{notification_id}"

MATRIX = [
    Rule("GET", "/api/events/", the_event, EVERYONE),
    Rule("POST", "/api/events/", a_new_event, SIGNED_IN_CREATES),
    Rule("GET", f"{E}/", the_event, EVERYONE),
    Rule("PATCH", f"{E}/", a_new_title, (401, 403, 200, 200)),
    Rule("DELETE", f"{E}/", a_fresh_event_of_the_owner, (401, 403, 204, 204)),
    Rule("POST", f"{E}/book/", the_event, SIGNED_IN_CREATES),
    Rule("POST", f"{E}/cancel_booking/", the_event_booked_by_the_caller, SIGNED_IN),
    Rule("POST", f"{E}/rate/", a_past_event_the_caller_attended, SIGNED_IN_CREATES),
    Rule("POST", f"{E}/waitlist/", a_full_event, SIGNED_IN_CREATES),
    Rule("DELETE", f"{E}/waitlist/", a_full_event_the_caller_waits_for, (401, 204, 204, 204)),
    Rule("GET", f"{E}/history/", the_event, (401, 403, 200, 200)),
    Rule("GET", "/api/events/my_upcoming_events/", the_event, SIGNED_IN),
    Rule("GET", "/api/tags/", the_event, EVERYONE),
    Rule("POST", "/api/tags/", a_new_tag, SIGNED_IN_CREATES),
    Rule("POST", "/api/users/register/", a_new_user, (201, 201, 201, 201)),
    Rule("POST", "/api/users/login/", the_owners_credentials, EVERYONE),
    Rule("POST", "/api/users/token/refresh/", a_fresh_refresh_token_of_the_owner, EVERYONE),
    Rule("GET", "/api/users/me/", the_event, SIGNED_IN),
    Rule("GET", "/api/notifications/", the_event, SIGNED_IN),
    # Somebody else's notification is not found, for staff too.
    Rule("GET", f"{N}/", a_fresh_notification_of_the_owner, OWN_NOTIFICATION),
    Rule("POST", f"{N}/read/", a_fresh_notification_of_the_owner, OWN_NOTIFICATION),
    Rule("GET", f"{E}/calendar.ics", the_event, EVERYONE),
    Rule("GET", "/api/users/me/calendar/", the_event, SIGNED_IN),
    Rule("POST", "/api/users/me/calendar/rotate/", the_event, SIGNED_IN),
    # The secret URL is the credential: whoever holds it reads the feed.
    Rule("GET", "/api/calendar/{token}.ics", the_owners_feed, EVERYONE),
]
# Endpoints whose answer never ends, so a buffering client cannot call them here; their
# callers are checked where they are tested.
STREAMED = {("GET", "/api/notifications/stream/"): "test_notification_stream.py"}
DENIAL_CODES = {
    401: {"not_authenticated"},
    403: {"not_organizer"},
    404: {"notification_not_found"},
}


@pytest.fixture
async def scene(board_api: BoardApi) -> Scene:
    accounts = {
        "other": await board_api.account("other"),
        "owner": await board_api.account("owner"),
        "staff": await board_api.account("staff", staff=True),
    }
    created = await board_api.http.post(
        "/api/events/", json=event_body(board_api), headers=accounts["owner"].headers
    )
    assert created.status_code == 201, created.text
    return Scene(
        board_api, accounts, created.json()["id"], int(created.headers["X-Event-Position"])
    )


async def test_the_matrix_covers_every_documented_endpoint(board_api: BoardApi) -> None:
    document = (await board_api.http.get("/openapi.json")).json()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }

    assert documented == {(rule.method, rule.path) for rule in MATRIX} | STREAMED.keys()


@pytest.mark.parametrize("rule", MATRIX, ids=lambda rule: f"{rule.method} {rule.path}")
async def test_each_persona_gets_what_api_md_promises(scene: Scene, rule: Rule) -> None:
    answered = {}
    for persona in PERSONAS:
        call = await rule.prepare(scene, persona)
        response = await scene.api.http.request(
            rule.method,
            rule.path.format(**call.ids),
            json=call.json,
            headers=scene.headers(persona),
        )
        answered[persona] = response.status_code
        if response.status_code in DENIAL_CODES:
            assert response.json()["code"] in DENIAL_CODES[response.status_code], response.text

    assert answered == dict(zip(PERSONAS, rule.statuses, strict=True))


async def test_staff_rights_end_for_tokens_issued_while_they_held(scene: Scene) -> None:
    staff = scene.accounts["staff"]
    path = f"/api/events/{scene.event_id}/"
    before = await scene.api.http.patch(path, json={"title": "Правка"}, headers=staff.headers)

    scene.api.board.set_staff(UUID(staff.id), is_staff=False)
    after = await scene.api.http.patch(path, json={"title": "Ещё правка"}, headers=staff.headers)

    assert before.status_code == 200
    assert (after.status_code, after.json()["code"]) == (403, "not_organizer")
