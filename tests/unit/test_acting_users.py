"""Who acted: staff actions record the acting user, older stored events load without one,
and staff cannot lock themselves out."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from shared.application.board import Board
from shared.clock import ManualClock
from shared.domain.errors import InvalidCredentials, OwnAccessProtected
from shared.domain.event import Event, EventDetails
from shared.domain.user import User
from shared.identity import Caller
from shared.integration.events import to_integration_event
from shared.settings import Settings

FAST_HASHING = Settings(password_hash_time_cost=1, password_hash_memory_kib=1024)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def board(clock: ManualClock) -> Board:
    return Board(FAST_HASHING, clock, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def _staff_and_user(board: Board) -> tuple[UUID, UUID]:
    staff = board.register_user(username="staff", email="", password="s3cret-pw", is_staff=True)
    user = board.register_user(username="member", email="", password="s3cret-pw")
    return staff.aggregate.id, user.aggregate.id


def _stored_as_version_1(board: Board, domain_event: Any) -> Any:
    """The domain event as a release before `by_user_id` stored it, loaded again."""
    stored = board.mapper.to_stored_event(domain_event)
    state = board.mapper.transcoder.decode(stored.state)
    del state["by_user_id"]
    state.pop("class_version", None)
    if isinstance(domain_event, Event.Updated):
        state["class_version"] = 2
    old = replace(stored, state=board.mapper.transcoder.encode(state))
    return board.mapper.to_domain_event(old)


def test_a_deactivation_records_the_staff_user_and_a_reactivation_undoes_it(board: Board) -> None:
    staff_id, user_id = _staff_and_user(board)

    board.deactivate_user(user_id, by_user_id=staff_id)
    with pytest.raises(InvalidCredentials):
        board.authenticate("member", "s3cret-pw")
    board.reactivate_user(user_id, by_user_id=staff_id)

    assert board.authenticate("member", "s3cret-pw").id == user_id
    history = list(board.repository.event_store.get(user_id))
    kinds = [(type(e).__name__, getattr(e, "by_user_id", "-")) for e in history]
    assert kinds[-2:] == [("Deactivated", staff_id), ("Reactivated", staff_id)]
    message = to_integration_event(history[-1])
    assert message is not None
    assert (message.type, message.data) == ("user.reactivated", {"by_user_id": str(staff_id)})


def test_staff_cannot_deactivate_themselves_or_revoke_their_own_rights(board: Board) -> None:
    staff_id, _ = _staff_and_user(board)

    with pytest.raises(OwnAccessProtected):
        board.deactivate_user(staff_id, by_user_id=staff_id)
    with pytest.raises(OwnAccessProtected):
        board.set_staff(staff_id, is_staff=False, by_user_id=staff_id)

    user = board.get_user(staff_id)
    assert (user.is_staff, user.is_active) == (True, True)


def test_another_staff_user_may_revoke_staff_rights(board: Board) -> None:
    staff_id, user_id = _staff_and_user(board)
    board.set_staff(user_id, is_staff=True, by_user_id=staff_id)

    board.set_staff(staff_id, is_staff=False, by_user_id=user_id)

    assert board.get_user(staff_id).is_staff is False


def test_user_rights_events_stored_before_the_actor_was_recorded_load_with_none(
    board: Board,
) -> None:
    staff_id, user_id = _staff_and_user(board)
    board.set_staff(user_id, is_staff=True, by_user_id=staff_id)
    board.set_staff(user_id, is_staff=False, by_user_id=staff_id)
    board.deactivate_user(user_id, by_user_id=staff_id)

    stored = [e for e in board.repository.event_store.get(user_id) if hasattr(e, "by_user_id")]

    assert [type(e) for e in stored] == [User.StaffGranted, User.StaffRevoked, User.Deactivated]
    assert [_stored_as_version_1(board, e).by_user_id for e in stored] == [None, None, None]


def test_event_changes_record_the_staff_user_and_old_ones_load_with_none(
    board: Board, clock: ManualClock
) -> None:
    staff_id, organizer_id = _staff_and_user(board)
    organizer = Caller(organizer_id, "member")
    staff = Caller(staff_id, "staff", is_staff=True)
    details = EventDetails(
        title="Лекция",
        description="О событиях",
        start_time=clock.now() + timedelta(hours=2),
        timezone="Europe/Moscow",
        location="Москва",
        seats=10,
        tags=[],
    )
    event_id = board.schedule_event(details, caller=organizer).aggregate.id
    clock.advance(timedelta(days=1).total_seconds())

    board.update_event(event_id, caller=staff, changes={"title": "Лекция 2"})
    board.finish_event(event_id, by_user_id=staff_id)

    stored = list(board.repository.event_store.get(event_id))
    updated, finished = stored[-2], stored[-1]
    assert isinstance(updated, Event.Updated)
    assert isinstance(finished, Event.Finished)
    assert (updated.by_user_id, finished.by_user_id) == (staff_id, staff_id)
    assert _stored_as_version_1(board, updated).by_user_id is None
    assert _stored_as_version_1(board, updated).previous == {"title": "Лекция"}
    assert _stored_as_version_1(board, finished).by_user_id is None
    history = board.event_history(event_id, caller=staff)
    assert history[-1].data == {"by_user_id": str(staff_id)}
    assert history[-2].data["by_user_id"] == str(staff_id)
