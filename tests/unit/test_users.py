"""Users on the write side: registration uniqueness, passwords, staff, deactivation."""

from __future__ import annotations

import pytest

from shared.application.board import Board
from shared.clock import ManualClock
from shared.domain.errors import EmailTaken, InvalidCredentials, InvalidField, UsernameTaken
from shared.domain.user import User
from shared.integration.events import to_integration_event
from shared.settings import Settings

FAST_HASHING = Settings(password_hash_time_cost=1, password_hash_memory_kib=1024)


@pytest.fixture
def board() -> Board:
    return Board(FAST_HASHING, ManualClock(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_a_registered_user_can_authenticate(board: Board) -> None:
    saved = board.register_user(username="Alice", email="alice@example.com", password="s3cret-pw")

    user = board.authenticate("alice", "s3cret-pw")

    assert user.id == saved.aggregate.id
    assert (user.username, user.is_staff, user.is_active) == ("Alice", False, True)


def test_a_username_is_taken_whatever_its_letter_case(board: Board) -> None:
    board.register_user(username="Боб", email="", password="s3cret-pw")

    with pytest.raises(UsernameTaken):
        board.register_user(username="БОБ", email="", password="s3cret-pw")


def test_an_email_is_taken_whatever_its_letter_case(board: Board) -> None:
    board.register_user(username="carol", email="Carol@Example.com", password="s3cret-pw")

    with pytest.raises(EmailTaken):
        board.register_user(username="carol2", email="carol@example.COM", password="s3cret-pw")
    board.authenticate("carol", "s3cret-pw")
    with pytest.raises(InvalidCredentials):
        board.authenticate("carol2", "s3cret-pw")


@pytest.mark.parametrize(
    ("password", "why"),
    [("short1", "8"), ("12345678901", "цифр"), ("DaveTheUser", "имен")],
)
def test_weak_passwords_are_refused(board: Board, password: str, why: str) -> None:
    with pytest.raises(InvalidField) as refused:
        board.register_user(username="davetheuser", email="", password=password)

    assert refused.value.field == "password"
    assert why in refused.value.detail


@pytest.mark.parametrize("username", ["ab", "x" * 151, "with space", "semi;colon", "émoji🙂"])
def test_a_username_outside_the_rules_is_refused(board: Board, username: str) -> None:
    with pytest.raises(InvalidField) as refused:
        board.register_user(username=username, email="", password="s3cret-pw")

    assert refused.value.field == "username"


@pytest.mark.parametrize("username", ["abc", "x" * 150, "Ёжик_2.0", "a.b@c+d-e_f"])
def test_letters_digits_and_the_allowed_signs_make_a_username(board: Board, username: str) -> None:
    saved = board.register_user(username=username, email="", password="s3cret-pw")

    assert saved.aggregate.username == username


@pytest.mark.parametrize(
    "email",
    [
        "plain",
        "a@b",
        "a b@example.com",
        "a@@example.com",
        # Separators of address lists and of the header: each would make two recipients.
        "a,b@example.com",
        "a;b@example.com",
        "a<b@example.com>@example.com",
        '"a"@example.com',
    ],
)
def test_an_invalid_email_is_refused(board: Board, email: str) -> None:
    with pytest.raises(InvalidField) as refused:
        board.register_user(username="harry", email=email, password="s3cret-pw")

    assert refused.value.field == "email"


def test_a_wrong_password_and_an_unknown_user_fail_alike(board: Board) -> None:
    board.register_user(username="erin", email="", password="s3cret-pw")

    with pytest.raises(InvalidCredentials) as wrong_password:
        board.authenticate("erin", "not-the-password")
    with pytest.raises(InvalidCredentials) as unknown_user:
        board.authenticate("nobody", "s3cret-pw")

    assert wrong_password.value.code == unknown_user.value.code == "invalid_credentials"


def test_a_deactivated_user_cannot_authenticate(board: Board) -> None:
    saved = board.register_user(username="frank", email="", password="s3cret-pw")

    board.deactivate_user(saved.aggregate.id)

    with pytest.raises(InvalidCredentials):
        board.authenticate("frank", "s3cret-pw")


def test_creating_the_superuser_twice_leaves_one_staff_user_with_the_new_password(
    board: Board,
) -> None:
    first = board.create_superuser(username="admin", email="a@example.com", password="first-pw1")
    second = board.create_superuser(username="admin", email="a@example.com", password="second-pw2")

    assert first.aggregate.id == second.aggregate.id
    assert board.authenticate("admin", "second-pw2").is_staff
    with pytest.raises(InvalidCredentials):
        board.authenticate("admin", "first-pw1")


def test_running_createsuperuser_again_with_the_same_password_changes_nothing(
    board: Board,
) -> None:
    board.create_superuser(username="admin", email="", password="first-pw1")

    again = board.create_superuser(username="admin", email="", password="first-pw1")

    assert again.position == 0


def test_password_hashes_never_leave_the_event_store(board: Board) -> None:
    saved = board.register_user(username="gina", email="g@example.com", password="s3cret-pw")
    stored = board.repository.event_store.get(saved.aggregate.id)

    messages = [to_integration_event(e) for e in stored]

    assert [m.type for m in messages if m] == ["user.registered"]
    assert all("password_hash" not in m.data for m in messages if m)
    assert isinstance(board.get_user(saved.aggregate.id), User)


def test_a_registration_reports_the_position_of_its_last_public_event(board: Board) -> None:
    saved = board.register_user(username="erin", email="erin@example.com", password="s3cret-pw")

    stored = list(board.notification_log.select(start=1, limit=10))
    # The e-mail claim is stored after the user but never published, so nobody could wait for it.
    assert [n.topic.rsplit(".", 1)[-1] for n in stored] == ["Registered", "Claimed"]
    assert saved.position == stored[0].id
