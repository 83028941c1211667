"""The APIs keep what they read of a user's rights, and never past a change of them."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID, uuid4

import psycopg
import pytest
from httpx import Response

from shared.application.board import Board
from shared.auth.tokens import issue_access_token
from shared.infra.database import event_store_env
from shared.integration.names import ACCESS_CHANNEL
from shared.settings import Settings
from tests.integration.conftest import Account, BoardApi

pytestmark = pytest.mark.integration

ME = "/api/users/me/"
LISTING = "/api/events/"
# A notification crosses from one process to another in well under this.
NOTICE_SECONDS = 2.0


def drop_access_row(settings: Settings, user_id: str, *, notify: bool) -> None:
    """Delete the user's access row behind the APIs' back, telling them or not."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM event_store.user_access WHERE user_id = %s", (user_id,))
        if notify:
            conn.execute("SELECT pg_notify(%s, %s)", (ACCESS_CHANNEL, user_id))


async def statuses_until_refused(board_api: BoardApi, account: Account) -> list[int]:
    """The statuses of the account's reads, one after another, until one is refused."""
    seen: list[int] = []
    deadline = time.monotonic() + NOTICE_SECONDS
    while time.monotonic() < deadline:
        answer: Response = await board_api.http.get(LISTING, headers=account.headers)
        seen.append(answer.status_code)
        if answer.status_code == 401:
            break
        await asyncio.sleep(0.005)
    return seen


async def test_rights_once_read_are_kept_until_the_write_side_says_they_changed(
    board_api: BoardApi, settings: Settings
) -> None:
    account = await board_api.account("kept")
    assert (await board_api.http.get(ME, headers=account.headers)).status_code == 200

    drop_access_row(settings, account.id, notify=False)
    kept = await board_api.http.get(LISTING, headers=account.headers)
    drop_access_row(settings, account.id, notify=True)

    assert kept.status_code == 200, "the rights were read again: nothing is kept"
    assert (await statuses_until_refused(board_api, account))[-1] == 401


async def test_a_deactivation_here_holds_on_the_very_next_request_read_or_write(
    board_api: BoardApi,
) -> None:
    account = await board_api.account("next")
    for path in (ME, LISTING):
        assert (await board_api.http.get(path, headers=account.headers)).status_code == 200

    board_api.board.deactivate_user(UUID(account.id))

    read = await board_api.http.get(LISTING, headers=account.headers)
    write = await board_api.http.post("/api/tags/", json={"name": "x"}, headers=account.headers)
    assert [read.status_code, write.status_code] == [401, 401]


async def test_a_deactivation_by_another_process_holds_once_its_notice_arrives(
    board_api: BoardApi, settings: Settings
) -> None:
    account = await board_api.account("elsewhere")
    assert (await board_api.http.get(ME, headers=account.headers)).status_code == 200
    other = Board(settings, env=event_store_env(settings))
    try:
        other.deactivate_user(UUID(account.id))
    finally:
        other.close()

    seen = await statuses_until_refused(board_api, account)
    after = [(await board_api.http.get(ME, headers=account.headers)).status_code for _ in range(5)]

    assert seen[-1] == 401
    assert after == [401] * 5


async def test_a_well_signed_token_of_a_user_the_write_side_does_not_know_is_refused(
    board_api: BoardApi, settings: Settings
) -> None:
    token = issue_access_token(settings, uuid4(), "ghost", is_staff=True)
    unknown = {"Authorization": f"Bearer {token}"}

    for path in (LISTING, ME):
        answer = await board_api.http.get(path, headers=unknown)
        assert (answer.status_code, answer.json()["code"]) == (401, "token_not_valid")
    created = await board_api.http.post("/api/tags/", json={"name": "staff"}, headers=unknown)
    assert (created.status_code, created.json()["code"]) == (401, "token_not_valid")
