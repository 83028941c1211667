"""The staff admin at /admin/: sign-in, CSRF, lists over the read models, and actions that go
through the command side (recorded with the acting staff user, notifying participants)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
import pytest
from httpx import AsyncClient, Response
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError

from admin.auth import NOT_STAFF
from admin.site import read_only_engine
from shared.read_model.migrate import upgrade
from shared.read_model.schema import users
from shared.settings import Settings
from tests.integration.conftest import PASSWORD, Account, BoardApi

pytestmark = pytest.mark.integration

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text[:500]
    return found[1]


async def sign_in(http: AsyncClient, username: str, password: str = PASSWORD) -> Response:
    token = csrf_of(await http.get("/admin/login"))
    return await http.post(
        "/admin/login", data={"username": username, "password": password, "csrf_token": token}
    )


def rows(page: Response) -> str:
    """The list's table body: not the flashed messages above it."""
    return page.text.split("<tbody", 1)[-1].split("</tbody>", 1)[0]


async def act(http: AsyncClient, path: str, **fields: str) -> Response:
    """Open an action's confirmation page and confirm it."""
    page = await http.get(path)
    assert page.status_code == 200, page.text[:500]
    return await http.post(path, data={"csrf_token": csrf_of(page), **fields})


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.05)


async def new_event(board_api: BoardApi, organizer: Account, title: str) -> dict[str, Any]:
    created = await board_api.http.post(
        "/api/events/",
        json={
            "title": title,
            "description": "Подробности",
            "start_time": (board_api.clock.now() + timedelta(days=2)).isoformat(),
            "location": "Казань",
            "timezone": "Asia/Yekaterinburg",
            "tags": ["лекции"],
        },
        headers=organizer.headers,
    )
    assert created.status_code == 201, created.text
    event: dict[str, Any] = created.json()
    return event


@pytest.fixture
async def staff(board_api: BoardApi) -> Account:
    account = await board_api.account("admin-staff", staff=True)
    signed_in = await sign_in(board_api.http, account.username)
    assert signed_in.status_code == 302, signed_in.text
    return account


async def test_staff_sign_in_sets_a_strict_admin_only_cookie(board_api: BoardApi) -> None:
    await board_api.account("boss", staff=True)

    signed_in = await sign_in(board_api.http, "boss")
    home = await board_api.http.get("/admin/")

    assert signed_in.status_code == 302
    cookie = signed_in.headers["set-cookie"].lower()
    assert "board_admin=" in cookie
    assert "samesite=strict" in cookie
    assert "path=/admin" in cookie
    assert "httponly" in cookie
    assert home.status_code == 200
    assert "Мероприятия" in home.text


async def test_a_user_who_is_not_staff_is_refused_with_a_message(board_api: BoardApi) -> None:
    await board_api.account("plain")

    refused = await sign_in(board_api.http, "plain")
    home = await board_api.http.get("/admin/")

    assert refused.status_code == 403
    assert NOT_STAFF in refused.text
    assert home.status_code == 302
    assert home.headers["location"].endswith("/admin/login")


async def test_a_deactivated_staff_user_gets_the_wrong_password_answer(
    board_api: BoardApi,
) -> None:
    account = await board_api.account("gone", staff=True)
    board_api.board.deactivate_user(UUID(account.id))

    deactivated = await sign_in(board_api.http, "gone")
    wrong = await sign_in(board_api.http, "nobody-at-all")

    assert deactivated.status_code == wrong.status_code == 400
    assert "Неверное имя пользователя или пароль." in deactivated.text
    assert deactivated.text.count("Неверное") == wrong.text.count("Неверное")


async def test_a_sign_in_without_the_form_token_is_refused(board_api: BoardApi) -> None:
    await board_api.account("forged", staff=True)

    refused = await board_api.http.post(
        "/admin/login", data={"username": "forged", "password": PASSWORD}
    )

    assert refused.status_code == 403
    assert (await board_api.http.get("/admin/")).status_code == 302


async def test_a_write_from_a_foreign_origin_is_refused(
    board_api: BoardApi, staff: Account
) -> None:
    user = await board_api.account("target")
    path = f"/admin/actions/users/{user.id}/deactivate"
    token = csrf_of(await board_api.http.get(path))

    refused = await board_api.http.post(
        path, data={"csrf_token": token}, headers={"Origin": "http://evil.example"}
    )
    without_token = await board_api.http.post(path, data={"csrf_token": "forged"})

    assert refused.status_code == 403
    assert without_token.status_code == 403
    assert board_api.board.get_user(UUID(user.id)).is_active


async def test_sign_in_is_throttled_like_the_api_login(board_api: BoardApi) -> None:
    await board_api.account("hammered", staff=True)
    for _ in range(10):
        assert (await sign_in(board_api.http, "hammered", "wrong-password")).status_code == 400

    throttled = await sign_in(board_api.http, "hammered")
    api_login = await board_api.log_in("hammered")

    assert throttled.status_code == 429
    assert "Слишком много неудачных попыток" in throttled.text
    assert api_login.status_code == 429


async def test_cancelling_an_event_records_the_staff_user_and_notifies_participants(
    board_api: BoardApi, staff: Account
) -> None:
    organizer = await board_api.account("organizer")
    guest = await board_api.account("guest")
    event = await new_event(board_api, organizer, "Лекция об эволюции")
    booked = await board_api.http.post(f"/api/events/{event['id']}/book/", headers=guest.headers)
    assert booked.status_code == 201

    cancelled = await act(board_api.http, f"/admin/actions/events/{event['id']}/cancel")

    assert cancelled.status_code == 303
    history = await board_api.http.get(
        f"/api/events/{event['id']}/history/", headers=organizer.headers
    )
    last = history.json()[-1]
    assert (last["type"], last["data"]["by_user_id"]) == ("event.cancelled", staff.id)

    async def told() -> bool:
        page = await board_api.http.get("/api/notifications/", headers=guest.headers)
        return any(n["type"] == "event_cancelled" for n in page.json()["results"])

    await eventually(told)


async def test_editing_an_event_needs_no_edit_window_and_records_the_staff_user(
    board_api: BoardApi, staff: Account
) -> None:
    organizer = await board_api.account("organizer")
    event = await new_event(board_api, organizer, "Старое название")
    board_api.clock.advance(24 * 3600)
    path = f"/admin/actions/events/{event['id']}/edit"
    page = await board_api.http.get(path)
    values = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))

    edited = await board_api.http.post(
        path,
        data={
            **values,
            "title": "Новое название",
            "description": "Подробности",
            "csrf_token": csrf_of(page),
        },
    )

    local_start = datetime.fromisoformat(event["start_time"]).astimezone(
        ZoneInfo("Asia/Yekaterinburg")
    )
    assert values["start_time"] == f"{local_start:%Y-%m-%dT%H:%M}"
    assert edited.status_code == 303, edited.text[:2000]
    history = await board_api.http.get(
        f"/api/events/{event['id']}/history/", headers=organizer.headers
    )
    last = history.json()[-1]
    assert last["type"] == "event.updated"
    assert last["data"]["changes"] == {"title": "Новое название"}
    assert last["data"]["by_user_id"] == staff.id


async def test_an_invalid_edit_is_shown_and_changes_nothing(
    board_api: BoardApi, staff: Account
) -> None:
    organizer = await board_api.account("organizer")
    event = await new_event(board_api, organizer, "Название")

    refused = await act(
        board_api.http, f"/admin/actions/events/{event['id']}/edit", title="", seats="0"
    )

    assert refused.status_code == 400
    assert "Название" in refused.text
    assert "Мест" in refused.text
    assert board_api.board.get_event(UUID(event["id"])).title == "Название"


async def test_finishing_and_deleting_go_through_the_commands(
    board_api: BoardApi, staff: Account
) -> None:
    organizer = await board_api.account("organizer")
    early = await new_event(board_api, organizer, "Ещё не началось")
    started = await new_event(board_api, organizer, "Уже началось")

    too_early = await act(board_api.http, f"/admin/actions/events/{early['id']}/finish")
    board_api.clock.advance(3 * 24 * 3600)
    finished = await act(board_api.http, f"/admin/actions/events/{started['id']}/finish")
    deleted = await act(board_api.http, f"/admin/actions/events/{early['id']}/delete")

    assert too_early.status_code == 400
    assert "Недопустимая смена статуса" in too_early.text
    assert finished.status_code == deleted.status_code == 303
    assert board_api.board.get_event(UUID(started["id"])).status == "finished"
    assert board_api.board.get_event(UUID(early["id"])).deleted
    gone = await board_api.http.get(f"/admin/actions/events/{early['id']}/cancel")
    assert gone.status_code == 404


async def test_a_deactivated_user_is_refused_by_the_api_and_can_be_reactivated(
    board_api: BoardApi, staff: Account
) -> None:
    user = await board_api.account("member")

    deactivated = await act(board_api.http, f"/admin/actions/users/{user.id}/deactivate")
    refused = await board_api.http.get("/api/users/me/", headers=user.headers)
    reactivated = await act(board_api.http, f"/admin/actions/users/{user.id}/reactivate")
    back = await board_api.log_in("member")

    assert deactivated.status_code == reactivated.status_code == 303
    assert refused.status_code == 401
    assert back.status_code == 200


async def test_staff_rights_are_granted_and_revoked_but_never_ones_own(
    board_api: BoardApi, staff: Account
) -> None:
    user = await board_api.account("helper")

    granted = await act(board_api.http, f"/admin/actions/users/{user.id}/grant_staff")
    assert board_api.board.get_user(UUID(user.id)).is_staff
    revoked = await act(board_api.http, f"/admin/actions/users/{user.id}/revoke_staff")
    own = await act(board_api.http, f"/admin/actions/users/{staff.id}/revoke_staff")
    own_deactivation = await act(board_api.http, f"/admin/actions/users/{staff.id}/deactivate")

    assert granted.status_code == revoked.status_code == 303
    assert not board_api.board.get_user(UUID(user.id)).is_staff
    assert own.status_code == own_deactivation.status_code == 400
    assert "Нельзя отключить свою учётную запись" in own.text
    assert board_api.board.get_user(UUID(staff.id)).is_staff


async def test_staff_demoted_elsewhere_are_signed_out_at_their_next_click(
    board_api: BoardApi, staff: Account
) -> None:
    assert (await board_api.http.get("/admin/events/list")).status_code == 200

    board_api.board.set_staff(UUID(staff.id), is_staff=False)
    next_click = await board_api.http.get("/admin/events/list")

    assert next_click.status_code == 302
    assert next_click.headers["location"].endswith("/admin/login")


async def test_the_lists_search_filter_and_show_times_in_the_events_zone(
    board_api: BoardApi, staff: Account
) -> None:
    organizer = await board_api.account("organizer")
    wanted = await new_event(board_api, organizer, "Вечер джаза")
    other = await new_event(board_api, organizer, "Шахматный турнир")
    await act(board_api.http, f"/admin/actions/events/{other['id']}/cancel")

    async def listed() -> bool:
        page = await board_api.http.get("/admin/events/list", params={"status": "cancelled"})
        return "Шахматный турнир" in rows(page)

    await eventually(listed)
    found = await board_api.http.get("/admin/events/list", params={"search": "джаз"})
    upcoming = await board_api.http.get("/admin/events/list", params={"status": "upcoming"})
    detail = await board_api.http.get(f"/admin/events/details/{wanted['id']}")

    assert "Вечер джаза" in rows(found)
    assert "Шахматный турнир" not in rows(found)
    assert "Вечер джаза" in rows(upcoming)
    assert "Шахматный турнир" not in rows(upcoming)
    assert "(Asia/Yekaterinburg)" in detail.text
    assert f"/admin/actions/events/{wanted['id']}/cancel" in detail.text
    for path, params in [
        ("/admin/users/list", {"search": "organizer", "is_staff": "false"}),
        ("/admin/bookings/list", {}),
        ("/admin/ratings/list", {"score": "5"}),
        ("/admin/tags/list", {"search": "лекц"}),
        ("/admin/notifications/list", {"type": "event_cancelled", "sort": "created_at"}),
    ]:
        page = await board_api.http.get(path, params=params)
        assert page.status_code == 200, (path, page.text[:500])
    users_page = await board_api.http.get(
        "/admin/users/list", params={"search": "organizer", "is_staff": "true"}
    )
    assert "organizer" not in rows(users_page)
    tags_page = await board_api.http.get("/admin/tags/list", params={"search": "лекц"})
    assert "лекции" in rows(tags_page)


async def test_the_librarys_own_create_edit_and_delete_pages_are_refused(
    board_api: BoardApi, staff: Account
) -> None:
    organizer = await board_api.account("organizer")
    event = await new_event(board_api, organizer, "Неприкосновенное")
    token = csrf_of(await board_api.http.get("/admin/operations"))

    answers = [
        await board_api.http.get("/admin/events/create"),
        await board_api.http.post("/admin/events/create", data={"csrf_token": token}),
        await board_api.http.get(f"/admin/events/edit/{event['id']}"),
        await board_api.http.delete("/admin/events/delete", params={"pks": event["id"]}),
        await board_api.http.get("/admin/events/export/csv"),
    ]

    assert [a.status_code for a in answers] == [403, 403, 403, 403, 403]
    assert board_api.board.get_event(UUID(event["id"])).title == "Неприкосновенное"


async def test_the_admin_cannot_write_to_the_read_models(settings: Settings) -> None:
    upgrade(settings.database_url)
    engine = read_only_engine(settings)
    try:
        with pytest.raises(DBAPIError, match="read-only transaction"):
            async with engine.begin() as conn:
                await conn.execute(
                    insert(users).values(
                        id=UUID(int=1),
                        version=1,
                        position=1,
                        username="x",
                        email="",
                        is_staff=True,
                        is_active=True,
                        date_joined=datetime.now(UTC),
                    )
                )
    finally:
        await engine.dispose()


async def test_the_operations_page_shows_parked_messages_and_retries_them(
    board_api: BoardApi, staff: Account, settings: Settings
) -> None:
    organizer = await board_api.account("organizer")
    event = await new_event(board_api, organizer, "Отложенное")
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        # A booking the notifier could not place (its event unknown to it) sits parked.
        await conn.execute(
            "INSERT INTO read_model.parked_messages"
            " (projection, position, aggregate_id, payload, error, parked_at)"
            " VALUES ('notifier', 100000, %s, %s, 'ValueError: boom', now())",
            (UUID(event["id"]), b'{"not": "an envelope"}'),
        )

    page = await board_api.http.get("/admin/operations")
    retried = await board_api.http.post(
        "/admin/operations/retry", data={"projection": "notifier", "csrf_token": csrf_of(page)}
    )
    after = await board_api.http.get("/admin/operations")

    assert page.status_code == 200
    assert "ValueError: boom" in page.text
    assert "Применить отложенные снова" in page.text
    assert retried.status_code == 303
    assert "notifier: применено 0, снова отложено 1." in after.text


async def test_a_replay_started_from_the_operations_page_shows_its_progress(
    board_api: BoardApi, staff: Account
) -> None:
    organizer = await board_api.account("organizer")
    await new_event(board_api, organizer, "Для пересборки")
    page = await board_api.http.get("/admin/operations")

    started = await board_api.http.post(
        "/admin/operations/replay", data={"csrf_token": csrf_of(page)}
    )

    async def finished() -> bool:
        shown = await board_api.http.get("/admin/operations")
        return "завершилась с кодом" in shown.text

    await eventually(finished, seconds=90)
    shown = (await board_api.http.get("/admin/operations")).text
    assert started.status_code == 303
    assert "завершилась с кодом 0" in shown
    assert re.search(r"events: позиция (\d+) из \1 — готово", shown), shown
    assert re.search(r"users: позиция (\d+) из \1 — готово", shown), shown
    assert "rebuilt from" in shown
