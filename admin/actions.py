"""Staff actions: each a confirmation page on GET and the change on POST, through the same
`Board` commands as the API with a staff caller, so participants get the same notifications
and the event's history records who acted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqladmin import BaseView, expose
from sqladmin.flash import flash
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.auth import staff_of
from admin.csrf import has_valid_token
from admin.services import services_of
from admin.times import from_local_input, local_input, local_time
from command_api.schemas import EventChange
from shared.application.board import Board
from shared.domain.errors import DomainError, EventNotFound, UserNotFound
from shared.domain.event import CANCELLED, Event
from shared.domain.user import User
from shared.identity import Caller

EXPIRED_FORM = "Форма устарела: откройте страницу заново."
EDIT_FIELDS = {
    "title": "Название",
    "description": "Описание",
    "start_time": "Начало (в часовом поясе мероприятия)",
    "timezone": "Часовой пояс",
    "location": "Город",
    "seats": "Мест",
    "tags": "Теги (через запятую)",
}

Act = Callable[[Board, Caller, UUID], object]

EVENT_ACTIONS: dict[str, tuple[str, str, Act]] = {
    "cancel": (
        "Отменить мероприятие",
        "Участники получат уведомление об отмене.",
        lambda board, staff, id_: board.update_event(
            id_, caller=staff, changes={}, status=CANCELLED
        ),
    ),
    "finish": (
        "Завершить мероприятие",
        "Завершить можно мероприятие, которое уже началось.",
        lambda board, staff, id_: board.finish_event(id_, by_user_id=staff.id),
    ),
    "delete": (
        "Удалить мероприятие",
        "Мероприятие исчезнет из API, участники получат уведомление об отмене.",
        lambda board, staff, id_: board.delete_event(id_, caller=staff),
    ),
}
USER_ACTIONS: dict[str, tuple[str, str, Act]] = {
    "deactivate": (
        "Отключить пользователя",
        "Его токены и вход перестанут работать сразу.",
        lambda board, staff, id_: board.deactivate_user(id_, by_user_id=staff.id),
    ),
    "reactivate": (
        "Включить пользователя",
        "Он снова сможет входить.",
        lambda board, staff, id_: board.reactivate_user(id_, by_user_id=staff.id),
    ),
    "grant_staff": (
        "Сделать администратором",
        "Он сможет управлять любыми мероприятиями и входить сюда.",
        lambda board, staff, id_: board.set_staff(id_, is_staff=True, by_user_id=staff.id),
    ),
    "revoke_staff": (
        "Снять права администратора",
        "Он останется обычным пользователем.",
        lambda board, staff, id_: board.set_staff(id_, is_staff=False, by_user_id=staff.id),
    ),
}


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def edit_values(event: Event) -> dict[str, str]:
    """The edit form's fields as the event has them now."""
    return {
        "title": event.title,
        "description": event.description,
        "start_time": local_input(event.start_time, event.timezone),
        "timezone": event.timezone,
        "location": event.location,
        "seats": str(event.seats),
        "tags": ", ".join(event.tags),
    }


def edit_changes(initial: dict[str, str], sent: dict[str, str]) -> dict[str, Any]:
    """The fields the form changed, validated as the API validates a PATCH."""
    changed = {name: sent[name] for name in EDIT_FIELDS if sent.get(name, "") != initial[name]}
    body: dict[str, Any] = dict(changed)
    if "start_time" in changed or "timezone" in changed:
        try:
            moment = from_local_input(sent["start_time"], sent.get("timezone", ""))
        except (ValueError, KeyError):
            body["start_time"] = sent.get("start_time", "")
        else:
            body["start_time"] = moment.isoformat()
    if "seats" in body:
        body["seats"] = int(body["seats"]) if body["seats"].strip().isdigit() else body["seats"]
    if "tags" in body:
        body["tags"] = [name.strip() for name in body["tags"].split(",") if name.strip()]
    return EventChange.model_validate(body).field_changes()


def _errors(error: ValidationError) -> list[str]:
    return [
        f"{EDIT_FIELDS.get(str(e['loc'][0]), str(e['loc'][0]))}: {e['msg']}"
        if e["loc"]
        else e["msg"]
        for e in error.errors()
    ]


class StaffActions(BaseView):
    name = "Действия"

    def is_visible(self, request: Request) -> bool:
        return False

    @expose("/actions/events/{id}/{action}", methods=["GET", "POST"], identity="event-action")
    async def event_action(self, request: Request) -> Response:
        event_id, action = _uuid(request.path_params["id"]), request.path_params["action"]
        board = services_of(request).board_of()
        event = await _found(board.get_event, event_id, EventNotFound)
        if event is None or event.deleted or (action not in EVENT_ACTIONS and action != "edit"):
            return await self._page(
                request, "Не найдено", errors=["Мероприятие не найдено."], status=404
            )
        about = f"«{event.title}», {local_time(event.start_time, event.timezone)}, {event.location}"
        back = f"/admin/events/details/{event.id}"
        if action == "edit":
            return await self._edit(request, board, event, about, back)
        title, warning, act = EVENT_ACTIONS[action]
        return await self._confirm(request, board, event.id, act, title, about, warning, back)

    @expose("/actions/users/{id}/{action}", methods=["GET", "POST"], identity="user-action")
    async def user_action(self, request: Request) -> Response:
        user_id, action = _uuid(request.path_params["id"]), request.path_params["action"]
        board = services_of(request).board_of()
        user: User | None = await _found(board.get_user, user_id, UserNotFound)
        if user is None or action not in USER_ACTIONS:
            return await self._page(
                request, "Не найдено", errors=["Пользователь не найден."], status=404
            )
        title, warning, act = USER_ACTIONS[action]
        about = f"{user.username} ({user.email or 'без e-mail'})"
        back = f"/admin/users/details/{user.id}"
        return await self._confirm(request, board, user.id, act, title, about, warning, back)

    async def _confirm(
        self,
        request: Request,
        board: Board,
        target: UUID,
        act: Act,
        title: str,
        about: str,
        warning: str,
        back: str,
    ) -> Response:
        page: dict[str, Any] = {"title": title, "about": about, "warning": warning, "back": back}
        if request.method == "GET":
            return await self._page(request, **page)
        if not await has_valid_token(request):
            return await self._page(request, **page, errors=[EXPIRED_FORM], status=403)
        try:
            await run_in_threadpool(act, board, staff_of(request), target)
        except DomainError as error:
            return await self._page(request, **page, errors=[error.detail], status=400)
        return _done(request, f"{title}: готово ({about}).", back)

    async def _edit(
        self, request: Request, board: Board, event: Event, about: str, back: str
    ) -> Response:
        initial = edit_values(event)
        page: dict[str, Any] = {
            "title": "Изменить мероприятие",
            "about": about,
            "warning": "Участники узнают о переносе времени или места.",
            "back": back,
            "fields": EDIT_FIELDS,
            "values": initial,
        }
        if request.method == "GET":
            return await self._page(request, **page)
        if not await has_valid_token(request):
            return await self._page(request, **page, errors=[EXPIRED_FORM], status=403)
        form = await request.form()
        sent = {name: str(form.get(name, "")) for name in EDIT_FIELDS}
        page["values"] = sent
        try:
            changes = edit_changes(initial, sent)
            await run_in_threadpool(
                lambda: board.update_event(event.id, caller=staff_of(request), changes=changes)
            )
        except ValidationError as error:
            return await self._page(request, **page, errors=_errors(error), status=400)
        except DomainError as error:
            return await self._page(request, **page, errors=[error.detail], status=400)
        return _done(request, f"Мероприятие изменено ({about}).", back)

    async def _page(
        self, request: Request, title: str, status: int = 200, **context: Any
    ) -> Response:
        return await self.templates.TemplateResponse(
            request, "board/action.html", {"title": title, **context}, status_code=status
        )


async def _found(get: Callable[[UUID], Any], id_: UUID | None, missing: type[DomainError]) -> Any:
    if id_ is None:
        return None
    try:
        return await run_in_threadpool(get, id_)
    except missing:
        return None


def _done(request: Request, message: str, back: str) -> Response:
    # The lists read the read models, which follow the write within moments.
    flash(request, f"{message} Списки обновятся, как только проекции его учтут.", "success")
    return RedirectResponse(back, status_code=303)
