"""`board createsuperuser` against a real event store: idempotent, and silent about passwords."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from board.cli import main
from shared.application.board import Board
from shared.domain.errors import InvalidCredentials
from shared.infra.database import event_store_env
from shared.settings import EVENT_STORE_SCHEMA, Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for variable, value in {
        "DATABASE_URL": settings.database_url,
        "BOARD_ENV": settings.env,
        "BOARD_SECRET_KEY": settings.secret_key,
        "BOARD_PASSWORD_HASH_TIME_COST": str(settings.password_hash_time_cost),
        "BOARD_PASSWORD_HASH_MEMORY_KIB": str(settings.password_hash_memory_kib),
    }.items():
        monkeypatch.setenv(variable, value)
    for variable in (
        "BOARD_SUPERUSER_USERNAME",
        "BOARD_SUPERUSER_EMAIL",
        "BOARD_SUPERUSER_PASSWORD",
    ):
        monkeypatch.delenv(variable, raising=False)
    return settings


@pytest.fixture
def board(environment: Settings) -> Iterator[Board]:
    board = Board(environment, env=event_store_env(environment))
    yield board
    board.close()


def staff_users(settings: Settings) -> list[tuple[bool, bool]]:
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(f"SELECT is_staff, is_active FROM {EVENT_STORE_SCHEMA}.user_access")
        return list(rows.fetchall())


def test_running_createsuperuser_twice_leaves_one_staff_user_with_the_last_password(
    environment: Settings, board: Board, capsys: pytest.CaptureFixture[str]
) -> None:
    first = ["--username", "admin", "--email", "admin@example.com", "--password", "first-s3cret"]
    second = ["--username", "Admin", "--password", "second-s3cret"]

    assert main(["createsuperuser", *first]) == 0
    assert main(["createsuperuser", *second]) == 0

    assert staff_users(environment) == [(True, True)]
    assert board.authenticate("admin", "second-s3cret").is_staff
    with pytest.raises(InvalidCredentials):
        board.authenticate("admin", "first-s3cret")
    printed = capsys.readouterr()
    assert "superuser admin" in printed.err
    assert "s3cret" not in printed.out + printed.err


def test_createsuperuser_takes_what_the_flags_leave_out_from_the_environment(
    environment: Settings,
    board: Board,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BOARD_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("BOARD_SUPERUSER_PASSWORD", "env-s3cret-pw")

    assert main(["createsuperuser", "--email", "root@example.com"]) == 0

    user = board.authenticate("root", "env-s3cret-pw")
    assert (user.is_staff, user.email) == (True, "root@example.com")
    assert "env-s3cret-pw" not in "".join(capsys.readouterr())


def test_createsuperuser_without_a_password_changes_nothing(
    environment: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["createsuperuser", "--username", "admin"]) == 2

    assert staff_users(environment) == []
    assert "BOARD_SUPERUSER_PASSWORD" in capsys.readouterr().err


def test_a_weak_password_is_refused_without_being_shown(
    environment: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["createsuperuser", "--username", "admin", "--password", "12345678"]) == 1

    assert staff_users(environment) == []
    printed = capsys.readouterr().err
    assert "цифр" in printed
    assert "12345678" not in printed
