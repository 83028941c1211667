"""The gateway: one base URL for both APIs, their merged docs, and the operations endpoints."""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

from board.embedded import free_port
from gateway.app import create_app
from shared.read_model.migrate import upgrade
from shared.settings import Settings
from tests.tokens import known_token

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway_settings(settings: Settings) -> Settings:
    upgrade(settings.database_url)
    return settings


async def serve(settings: Settings) -> AsyncIterator[AsyncClient]:
    app = create_app(settings)
    async with (
        LifespanManager(app) as manager,
        AsyncClient(transport=ASGITransport(app=manager.app), base_url="http://test") as client,
    ):
        yield client


@pytest.fixture
async def client(gateway_settings: Settings) -> AsyncIterator[AsyncClient]:
    async for client in serve(gateway_settings):
        yield client


async def create_event(client: AsyncClient, settings: Settings) -> dict[str, Any]:
    token = known_token(settings, uuid4(), "alice")
    response = await client.post(
        "/api/events/",
        json={
            "title": "Концерт",
            "description": "Живая музыка",
            "start_time": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            "location": "Москва",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_writes_go_to_the_command_api_and_reads_to_the_query_api(
    client: AsyncClient, gateway_settings: Settings
) -> None:
    event = await create_event(client, gateway_settings)

    listed = await client.get("/api/events/")
    # Nothing projects in this test, so the read model does not know the event yet.
    detail = await client.get(f"/api/events/{event['id']}/")

    assert listed.status_code == 200
    assert listed.json()["count"] == 0
    assert detail.status_code == 404
    assert detail.json()["code"] == "event_not_found"


async def test_the_same_path_is_read_by_get_and_changed_by_patch(
    client: AsyncClient, gateway_settings: Settings
) -> None:
    event = await create_event(client, gateway_settings)
    token = known_token(gateway_settings, uuid4(), "mallory")

    response = await client.patch(
        f"/api/events/{event['id']}/",
        json={"title": "Чужое"},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 403
    assert response.json()["code"] == "not_organizer"


async def test_head_answers_like_get_without_a_body(client: AsyncClient) -> None:
    response = await client.head("/api/events/")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"


async def test_a_path_without_its_trailing_slash_is_redirected(client: AsyncClient) -> None:
    response = await client.get("/api/events")

    assert response.status_code in (307, 308)
    assert response.headers["location"].endswith("/api/events/")


async def test_the_openapi_document_covers_reads_and_writes(client: AsyncClient) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert set(document["paths"]["/api/events/"]) == {"get", "post"}
    assert set(document["paths"]["/api/events/{event_id}/"]) == {"get", "patch", "delete"}
    assert set(document["paths"]["/api/events/{event_id}/history/"]) == {"get"}
    schemas = document["components"]["schemas"]
    assert {"EventDetail", "EventListItem", "ErrorBody"} <= set(schemas)
    oauth = document["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert oauth["flows"]["password"]["tokenUrl"] == "/api/users/login/"
    # A 422 is a reused Idempotency-Key, documented on every write that takes one, in the
    # error shape; never a validation error.
    for operation in (op for item in document["paths"].values() for op in item.values()):
        keyed = "Idempotency-Key" in {p["name"] for p in operation.get("parameters", [])}
        assert ("422" in operation["responses"]) == keyed
        if keyed:
            content = operation["responses"]["422"]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
            assert "409" in operation["responses"]


@pytest.mark.parametrize("path", ["/swagger/", "/api/swagger/", "/redoc/", "/api/redoc/"])
async def test_the_docs_pages_show_the_merged_document(client: AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


@pytest.mark.parametrize("path", ["/swagger/", "/redoc/"])
async def test_the_docs_pages_load_every_script_and_style_from_this_process(
    client: AsyncClient, path: str
) -> None:
    page = await client.get(path)

    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)

    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert assets
    assert all(asset.startswith("/docs-assets/") for asset in assets), assets
    for asset in assets:
        served = await client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 1000


@pytest.mark.parametrize("path", ["/nowhere", "/api/events/x/y/z/", "/api/"])
async def test_an_unknown_route_is_not_found_in_the_error_shape(
    client: AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.json() == {"detail": "Не найдено.", "code": "not_found"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/api/events/"), ("PUT", "/api/events/"), ("POST", "/healthz")],
)
async def test_a_wrong_method_is_not_allowed_in_the_error_shape(
    client: AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


async def test_a_wrong_method_on_an_api_path_lists_what_both_apis_allow(
    client: AsyncClient,
) -> None:
    response = await client.put("/api/events/")

    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}


async def test_healthz_answers_while_the_process_runs(client: AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_database_and_broker_answer(client: AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert (checks["database"], checks["broker"]) == ("ok", "ok")
    assert checks["projections"]["events"]["status"] == "ok"


async def sessions_opened(conn: psycopg.AsyncConnection[Any]) -> int:
    """Connections ever opened to the test's database (counted as their statistics arrive)."""
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    cursor = await conn.execute(
        "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
    )
    row = await cursor.fetchone()
    assert row is not None
    opened: int = row[0]
    return opened


async def test_a_flood_of_readiness_probes_opens_no_database_connection(
    client: AsyncClient, gateway_settings: Settings
) -> None:
    assert (await client.get("/readyz")).status_code == 200
    async with await psycopg.AsyncConnection.connect(
        gateway_settings.database_url, autocommit=True
    ) as conn:
        before = await sessions_opened(conn)

        flood = await asyncio.gather(*(client.get("/readyz") for _ in range(50)))
        await asyncio.sleep(1.1)
        later = await client.get("/readyz")
        # A connection's end reaches the statistics within a moment.
        await asyncio.sleep(1.5)

        assert {answer.status_code for answer in [*flood, later]} == {200}
        assert await sessions_opened(conn) == before


async def test_readyz_is_not_ready_without_a_broker(gateway_settings: Settings) -> None:
    no_broker = gateway_settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
    )
    async for client in serve(no_broker):
        response = await client.get("/readyz")

        assert response.status_code == 503
        assert response.json()["code"] == "not_ready"
        assert response.json()["checks"]["broker"] == "unreachable"


async def test_readyz_is_not_ready_while_a_projection_lags(gateway_settings: Settings) -> None:
    impatient = gateway_settings.model_copy(update={"readiness_max_lag_seconds": 0.001})
    async for client in serve(impatient):
        await create_event(client, impatient)

        response = await client.get("/readyz")

        assert response.status_code == 503
        assert response.json()["checks"]["projections"]["events"]["status"] == "lagging"


async def test_metrics_count_requests_per_route(client: AsyncClient) -> None:
    await client.get("/api/events/")
    await client.get("/nowhere")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert 'http_requests_total{method="GET",route="/api/events/",status="200"} 1.0' in (
        response.text
    )
    assert 'route="<unmatched>",status="404"' in response.text
    assert "http_request_duration_seconds_bucket" in response.text


async def test_metrics_report_the_write_sides_commit_groups(
    client: AsyncClient, gateway_settings: Settings
) -> None:
    await create_event(client, gateway_settings)
    await create_event(client, gateway_settings)

    page = (await client.get("/metrics")).text

    assert "board_commands_total 2.0" in page
    assert "board_conflict_retries_total 0.0" in page
    assert "board_commands_waiting 0.0" in page


async def test_an_events_history_is_read_from_the_command_api(
    client: AsyncClient, gateway_settings: Settings
) -> None:
    event = await create_event(client, gateway_settings)
    token = known_token(gateway_settings, UUID(event["organizer"]["id"]), "alice")

    response = await client.get(
        f"/api/events/{event['id']}/history/", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200, response.text
    assert [entry["type"] for entry in response.json()] == ["event.scheduled"]


async def test_what_start_up_built_is_left_out_of_garbage_collection(
    gateway_settings: Settings,
) -> None:
    # A full collection of the start-up heap stalls every request in flight for ~80 ms.
    gc.unfreeze()
    app = create_app(gateway_settings)

    async with LifespanManager(app):
        frozen = gc.get_freeze_count()

    assert frozen > 10_000
