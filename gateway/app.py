"""Composition root of the gateway: both APIs, the operations endpoints and the staff admin
(`/admin/`) on one base URL.

Dispatch happens in-process (no proxy hop): a request goes straight to the API that
serves its path and method; reads and writes of the same path go to different APIs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import command_api.app
import query_api.app
from admin.site import AdminSite
from gateway.dispatch import RouteTable, endpoints_of, head_as_get
from gateway.docs import docs_routes, merge_openapi
from gateway.header_limit import HeaderLimit, document_header_limit
from gateway.metrics import UNMATCHED, Metrics
from gateway.readiness import ReadinessProbe
from shared.application.board import Board
from shared.application.commits import Committer
from shared.auth.access_store import AccessStore
from shared.http.body_limit import BodyLimit
from shared.http.errors import framework_error_response, http_exception_handler
from shared.infra.heap import freeze_startup_heap
from shared.integration.names import READ_PROJECTIONS
from shared.settings import Settings


class Gateway:
    def __init__(
        self, table: RouteTable, operations: Starlette, metrics: Metrics, own_paths: frozenset[str]
    ) -> None:
        self._table = table
        self._operations = operations
        self._metrics = metrics
        self._own_paths = own_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # The lifespan, which starts both APIs.
            await self._operations(scope, receive, send)
            return
        resolution = self._table.resolve(scope["method"], scope["path"])
        endpoint = resolution.endpoint
        target: ASGIApp
        if endpoint is not None:
            route = endpoint.template
            target = (
                endpoint.app if scope["method"] != "HEAD" else partial(head_as_get, endpoint.app)
            )
        elif resolution.allowed:
            route = UNMATCHED
            target = framework_error_response(405, {"Allow": ", ".join(sorted(resolution.allowed))})
        else:
            route = scope["path"] if scope["path"] in self._own_paths else UNMATCHED
            target = self._operations
        await self._metrics.observe(target, route, scope, receive, send)


def operations_routes(readiness_probe: ReadinessProbe, metrics: Metrics) -> list[Route]:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        readiness = await readiness_probe.check()
        if readiness.ready:
            return JSONResponse({"status": "ready", "checks": readiness.checks})
        return JSONResponse(
            {
                "detail": "Сервис не готов принимать запросы.",
                "code": "not_ready",
                "checks": readiness.checks,
            },
            status_code=503,
        )

    async def metrics_page(_request: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]


def _committer_of(command_app: FastAPI) -> Committer | None:
    # The command app opens its board when it starts; /metrics may be asked before.
    board: Board | None = getattr(command_app.state, "board", None)
    return None if board is None else board.commits


def create_app(
    settings: Settings,
    command_app: FastAPI | None = None,
    query_app: FastAPI | None = None,
    access: AccessStore | None = None,
) -> ASGIApp:
    """Both APIs, sharing one store of the users' rights (so the command API's own saves
    are forgotten for the reads too), and the operations endpoints."""
    access = access or AccessStore(settings)
    command_app = command_app or command_api.app.create_app(settings, access=access)
    query_app = query_app or query_api.app.create_app(settings, access=access)
    apis: Sequence[FastAPI] = (query_app, command_app)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(access.running())
            await stack.enter_async_context(admin.running())
            for api in apis:
                await stack.enter_async_context(api.router.lifespan_context(api))
            freeze_startup_heap()
            yield

    # The admin's actions go through the command API's own board.
    admin = AdminSite(settings, lambda: command_app.state.board)
    metrics = Metrics()
    metrics.watch_commits(lambda: _committer_of(command_app))
    routes = [
        *docs_routes(document_header_limit(merge_openapi([api.openapi() for api in apis]))),
        # The query API's pool: what it reads from is what readiness is about.
        *operations_routes(
            ReadinessProbe(settings, READ_PROJECTIONS, lambda: query_app.state.engine), metrics
        ),
    ]
    operations = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_exception_handler},
    )
    admin.mount_on(operations)
    table = RouteTable([endpoint for api in apis for endpoint in endpoints_of(api)])
    own_paths = frozenset(route.path for route in routes if isinstance(route, Route))
    gateway = Gateway(table, operations, metrics, own_paths)
    return HeaderLimit(BodyLimit(gateway, settings.max_request_body_bytes))
