"""The read API over HTTP, against read-model rows written straight into PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

from board.embedded import free_port
from query_api.app import create_app
from query_api.pagination import Page
from shared.auth.tokens import issue_access_token
from shared.http.events import EventDetail, EventListItem
from shared.settings import Settings
from tests.integration.conftest import NOW, ORGANIZER_ID, AddEvent, raise_watermark
from tests.tokens import known_bearer, known_token

pytestmark = pytest.mark.integration


async def test_an_empty_list_is_an_empty_first_page(read_client: AsyncClient) -> None:
    response = await read_client.get("/api/events/")

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


async def test_the_list_is_paginated_and_leaves_out_descriptions(
    read_client: AsyncClient, add_event: AddEvent
) -> None:
    for hours in (1, 2, 3):
        add_event(start_time=NOW + timedelta(hours=hours), title=f"Событие {hours}")

    first = (await read_client.get("/api/events/", params={"page_size": 2})).json()
    second = (await read_client.get("/api/events/", params={"page_size": 2, "page": 2})).json()

    assert first["count"] == second["count"] == 3
    assert first["next"] == "http://test/api/events/?page_size=2&page=2"
    assert first["previous"] is None
    assert (second["next"], second["previous"]) == (None, "http://test/api/events/?page_size=2")
    titles = [e["title"] for e in first["results"] + second["results"]]
    assert titles == ["Событие 1", "Событие 2", "Событие 3"]
    item = first["results"][0]
    assert "description" not in item
    assert (item["free_seats"], item["status_display"], item["organizer"]["username"]) == (
        7,
        "Ожидается",
        "alice",
    )


async def test_upcoming_events_come_first_soonest_first_then_the_rest_most_recent_first(
    read_client: AsyncClient, add_event: AddEvent
) -> None:
    old = add_event(status="finished", start_time=NOW - timedelta(days=9))
    recent = add_event(status="cancelled", start_time=NOW - timedelta(days=1))
    later = add_event(start_time=NOW + timedelta(days=5))
    soon = add_event(start_time=NOW + timedelta(days=1))

    results = (await read_client.get("/api/events/")).json()["results"]

    assert [r["id"] for r in results] == [str(i) for i in (soon, later, recent, old)]


async def test_a_page_past_the_last_one_is_not_found(
    read_client: AsyncClient, add_event: AddEvent
) -> None:
    add_event()

    response = await read_client.get("/api/events/", params={"page": 2})

    assert response.status_code == 404
    assert response.json()["code"] == "page_not_found"


@pytest.mark.parametrize(
    "params",
    [{"page": "0"}, {"page": "-1"}, {"page": "abc"}, {"page_size": "0"}, {"page_size": "101"}],
)
async def test_bad_page_parameters_are_validation_errors(
    read_client: AsyncClient, params: dict[str, str]
) -> None:
    response = await read_client.get("/api/events/", params=params)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["errors"]) == list(params)


async def test_the_detail_has_every_field(read_client: AsyncClient, add_event: AddEvent) -> None:
    event_id = add_event(avg_rating=4.5, rating_count=2, rating_sum=9)

    response = await read_client.get(f"/api/events/{event_id}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(event_id),
        "title": "Концерт",
        "description": "Живая музыка",
        "start_time": (NOW + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "timezone": "Europe/Moscow",
        "location": "Москва",
        "seats": 10,
        "status": "upcoming",
        "status_display": "Ожидается",
        "organizer": {"id": str(ORGANIZER_ID), "username": "alice"},
        "tags": ["музыка"],
        "booked_count": 3,
        "free_seats": 7,
        "avg_rating": 4.5,
        "rating_count": 2,
        "created_at": NOW.isoformat().replace("+00:00", "Z"),
        "updated_at": NOW.isoformat().replace("+00:00", "Z"),
        "is_booked": False,
        "my_rating": None,
        "waitlist_length": 0,
        "my_waitlist_position": None,
    }


@pytest.mark.parametrize("event_id", [str(uuid4()), "not-a-uuid", "1"])
async def test_an_unknown_or_malformed_id_is_not_found(
    read_client: AsyncClient, event_id: str
) -> None:
    response = await read_client.get(f"/api/events/{event_id}/")

    assert response.status_code == 404
    assert response.json()["code"] == "event_not_found"


async def test_a_bad_token_is_refused_on_a_public_read(read_client: AsyncClient) -> None:
    response = await read_client.get("/api/events/", headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


async def test_a_valid_token_reads_like_anyone(
    read_client: AsyncClient, read_settings: Settings
) -> None:
    token = known_token(read_settings, uuid4(), "bob")

    response = await read_client.get("/api/events/", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200


async def test_a_position_already_reflected_is_answered_at_once(
    read_client: AsyncClient, read_settings: Settings, add_event: AddEvent
) -> None:
    event_id = add_event(position=7)
    await raise_watermark(read_settings, 7, notify=True)

    response = await read_client.get(f"/api/events/{event_id}/", headers={"X-Min-Position": "7"})

    assert response.status_code == 200


@pytest.mark.parametrize("notify", [True, False], ids=["notified", "polled"])
async def test_a_read_waits_for_the_watermark_to_reach_its_position(
    read_client: AsyncClient, read_settings: Settings, add_event: AddEvent, notify: bool
) -> None:
    await raise_watermark(read_settings, 3, notify=True)
    event_id = uuid4()

    async def projection_catches_up() -> None:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(add_event, id=event_id, position=5)
        await raise_watermark(read_settings, 5, notify=notify)

    catching_up = asyncio.create_task(projection_catches_up())
    response = await read_client.get(f"/api/events/{event_id}/", headers={"X-Min-Position": "5"})
    await catching_up

    assert response.status_code == 200
    assert response.json()["id"] == str(event_id)


async def test_a_read_the_projection_never_reaches_is_lagging(
    read_client: AsyncClient, read_settings: Settings
) -> None:
    await raise_watermark(read_settings, 3, notify=True)

    response = await read_client.get("/api/events/", headers={"X-Min-Position": "4"})

    assert response.status_code == 503
    assert response.json()["code"] == "projection_lagging"
    assert int(response.headers["Retry-After"]) >= 1


MALFORMED_POSITIONS = ["abc", "-1", "1.5", str(2**63), "1" * 5_000]


@pytest.mark.parametrize("position", MALFORMED_POSITIONS)
async def test_a_malformed_min_position_is_a_validation_error(
    read_client: AsyncClient, position: str
) -> None:
    response = await read_client.get("/api/events/", headers={"X-Min-Position": position})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["X-Min-Position"]


async def test_a_database_that_cannot_be_reached_is_service_unavailable(
    settings: Settings,
) -> None:
    unreachable = Settings(
        env="test",
        secret_key=settings.secret_key,
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=1",
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
    )
    app = create_app(unreachable)
    async with (
        LifespanManager(app) as manager,
        AsyncClient(transport=ASGITransport(app=manager.app), base_url="http://test") as client,
    ):
        response = await client.get("/api/events/")

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


@pytest.fixture
async def caching_client(read_settings: Settings) -> AsyncIterator[AsyncClient]:
    app = create_app(read_settings.model_copy(update={"listing_cache_seconds": 60.0}))
    async with (
        LifespanManager(app) as manager,
        AsyncClient(transport=ASGITransport(app=manager.app), base_url="http://test") as client,
    ):
        yield client


def signed_in(settings: Settings) -> dict[str, str]:
    return known_bearer(settings, uuid4(), "bob")


async def test_a_listing_reuses_its_count_until_a_read_asks_for_a_later_position(
    caching_client: AsyncClient, read_settings: Settings, add_event: AddEvent
) -> None:
    caller = signed_in(read_settings)
    in_kazan = {"location": "казань"}
    await raise_watermark(read_settings, 3, notify=True)
    add_event(location="Казань")
    before = await caching_client.get("/api/events/", params=in_kazan, headers=caller)
    add_event(location="Казань")
    await raise_watermark(read_settings, 4, notify=True)

    # Another page size is another page, built afresh: only its count is kept.
    kept = await caching_client.get(
        "/api/events/", params={**in_kazan, "page_size": 5}, headers=caller
    )
    other_filter = await caching_client.get("/api/events/", headers=caller)
    asked = await caching_client.get(
        "/api/events/", params=in_kazan, headers={**caller, "X-Min-Position": "4"}
    )

    assert before.json()["count"] == kept.json()["count"] == 1
    assert len(kept.json()["results"]) == 2
    assert other_filter.json()["count"] == 2
    assert asked.json()["count"] == 2


async def test_an_anonymous_page_is_sent_again_until_a_read_asks_for_a_later_position(
    caching_client: AsyncClient, read_settings: Settings, add_event: AddEvent
) -> None:
    await raise_watermark(read_settings, 3, notify=True)
    add_event(title="Первое")
    before = await caching_client.get("/api/events/")
    add_event(title="Второе")
    await raise_watermark(read_settings, 4, notify=True)

    kept = await caching_client.get("/api/events/")
    other_page = await caching_client.get("/api/events/", params={"page_size": 5})
    asked = await caching_client.get("/api/events/", headers={"X-Min-Position": "4"})
    after_asked = await caching_client.get("/api/events/")

    assert kept.status_code == 200
    assert kept.content == before.content
    assert kept.headers["content-type"] == before.headers["content-type"]
    # Built afresh (its count, of the same filters, is the kept one).
    assert len(other_page.json()["results"]) == 2
    assert asked.json()["count"] == 2
    assert after_asked.content == asked.content


async def test_a_signed_in_read_gets_the_kept_page_once_its_token_is_accepted(
    caching_client: AsyncClient, read_settings: Settings, add_event: AddEvent
) -> None:
    add_event()
    kept = await caching_client.get("/api/events/")
    add_event()

    signed = await caching_client.get("/api/events/", headers=signed_in(read_settings))
    other_scheme = await caching_client.get("/api/events/", headers={"Authorization": "Basic x"})

    assert signed.status_code == other_scheme.status_code == 200
    assert signed.content == other_scheme.content == kept.content


@pytest.mark.parametrize("authorization", ["Bearer x", "Bearer ", "bearer x.y.z", "unknown user"])
async def test_a_refused_token_gets_its_401_and_not_the_kept_page(
    caching_client: AsyncClient, read_settings: Settings, add_event: AddEvent, authorization: str
) -> None:
    add_event()
    await caching_client.get("/api/events/")
    if authorization == "unknown user":
        # Well signed, for an id the access table never heard of.
        token = issue_access_token(read_settings, uuid4(), "ghost", is_staff=False)
        authorization = f"Bearer {token}"

    refused = await caching_client.get("/api/events/", headers={"Authorization": authorization})

    assert refused.status_code == 401


async def test_a_malformed_position_is_never_answered_from_the_page_cache(
    caching_client: AsyncClient, add_event: AddEvent
) -> None:
    add_event()
    await caching_client.get("/api/events/")

    bad_position = await caching_client.get("/api/events/", headers={"X-Min-Position": "-1"})

    assert bad_position.status_code == 400


@pytest.mark.parametrize("position", MALFORMED_POSITIONS)
@pytest.mark.parametrize("path", ["/api/events/", "/api/tags/"])
async def test_the_page_cache_leaves_a_malformed_min_position_to_the_api_to_refuse(
    caching_client: AsyncClient, path: str, position: str
) -> None:
    # More than 4 300 digits are no number to Python's `int`: an error, not a 400, if read so.
    response = await caching_client.get(path, headers={"X-Min-Position": position})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["X-Min-Position"]


async def test_the_answers_encoded_straight_from_the_views_are_what_the_models_document(
    read_client: AsyncClient, read_settings: Settings, add_event: AddEvent
) -> None:
    event_id = add_event(avg_rating=Decimal("4.50"), rating_sum=9, rating_count=2)
    headers = known_bearer(read_settings, uuid4(), "bob")

    listing = await read_client.get("/api/events/", headers=headers)
    detail = await read_client.get(f"/api/events/{event_id}/", headers=headers)

    documented_listing = Page[EventListItem].model_validate_json(listing.content)
    documented_detail = EventDetail.model_validate_json(detail.content)
    assert documented_listing.model_dump(mode="json") == listing.json()
    assert documented_detail.model_dump(mode="json") == detail.json()
    assert listing.json()["results"][0]["start_time"].endswith("Z")
