"""The operations page: each projection's position, lag and parked messages; retrying parked
messages; a replay of the read models started from here, with its progress."""

from __future__ import annotations

from typing import Any

from sqladmin import BaseView, expose
from sqladmin.flash import flash
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.csrf import has_valid_token
from admin.replay import ReplayAlreadyRunning
from admin.services import services_of
from admin.times import local_time
from projections.parked import APPLIERS, retry_parked
from shared.read_model.projection_status import read_status
from shared.read_model.schema import parked_messages

PAGE = "/admin/operations"
SHOWN_PARKED = 50
_PARKED = (
    select(
        parked_messages.c.projection,
        parked_messages.c.position,
        parked_messages.c.aggregate_id,
        parked_messages.c.error,
        parked_messages.c.parked_at,
    )
    .order_by(parked_messages.c.projection, parked_messages.c.position)
    .limit(SHOWN_PARKED)
)


class Operations(BaseView):
    name = "Операции"
    icon = "fa-solid fa-gears"

    @expose("/operations/retry", methods=["POST"], identity="operations-retry")
    async def retry(self, request: Request) -> Response:
        if not await has_valid_token(request):
            flash(request, "Форма устарела: откройте страницу заново.", "danger")
            return RedirectResponse(PAGE, status_code=303)
        name = str((await request.form()).get("projection", ""))
        if name not in APPLIERS:
            flash(request, f"Проекции {name!r} нет.", "danger")
            return RedirectResponse(PAGE, status_code=303)
        retried = await retry_parked(services_of(request).settings, name)
        flash(
            request,
            f"{name}: применено {retried.applied}, снова отложено {retried.parked_again}.",
            "success" if not retried.parked_again else "warning",
        )
        return RedirectResponse(PAGE, status_code=303)

    @expose("/operations/replay", methods=["POST"], identity="operations-replay")
    async def replay(self, request: Request) -> Response:
        if not await has_valid_token(request):
            flash(request, "Форма устарела: откройте страницу заново.", "danger")
            return RedirectResponse(PAGE, status_code=303)
        try:
            await services_of(request).replay.start()
        except ReplayAlreadyRunning:
            flash(request, "Пересборка уже идёт.", "warning")
        else:
            flash(request, "Пересборка запущена.", "success")
        return RedirectResponse(PAGE, status_code=303)

    # Registered last: the menu links to the view's last exposed page.
    @expose("/operations", methods=["GET"], identity="operations")
    async def page(self, request: Request) -> Response:
        services = services_of(request)
        report = await run_in_threadpool(read_status, services.settings.database_url)
        async with request.app.state.engine.connect() as conn:
            parked = (await conn.execute(_PARKED)).all()
        context: dict[str, Any] = {
            "title": "Операции",
            "report": report,
            "parked": [{**row._asdict(), "parked_at": local_time(row.parked_at)} for row in parked],
            "retryable": sorted(APPLIERS),
            "replay": services.replay.state,
        }
        return await self.templates.TemplateResponse(request, "board/operations.html", context)
