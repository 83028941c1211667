"""The `User` aggregate and the claim that keeps e-mail addresses unique.

Both have ids derived from the case-folded name, so a second registration of the
same username or e-mail is a second aggregate with an id that already exists: the
event store's uniqueness refuses it, even when two registrations race.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared.domain.actors import upcast_no_actor
from shared.domain.errors import InvalidField, OwnAccessProtected

USERNAME_LENGTH = (3, 150)
MAX_EMAIL_LENGTH = 254
# Letters (any script), digits and `.@+-_`, as the original's usernames.
_USERNAME = re.compile(r"[\w.@+-]+")
# Deliberately loose: one `@`, no spaces, a dot in the domain; delivery is the real check.
# No separators of address lists or of the header's syntax: "a,b@example.com" would reach
# "a" and "b@example.com".
_ADDRESS_TEXT = r"[^@\s,;:<>()\[\]\"\\]+"
_EMAIL = re.compile(rf"{_ADDRESS_TEXT}@{_ADDRESS_TEXT}\.{_ADDRESS_TEXT}")


def check_username(username: str) -> None:
    shortest, longest = USERNAME_LENGTH
    if not shortest <= len(username) <= longest:
        raise InvalidField("username", "Имя пользователя должно содержать от 3 до 150 символов.")
    if not _USERNAME.fullmatch(username):
        raise InvalidField(
            "username", "Имя пользователя может содержать только буквы, цифры и символы .@+-_"
        )


def check_email(email: str) -> None:
    """An e-mail address is optional; an empty one is no address."""
    if email and (len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email)):
        raise InvalidField("email", "Введите правильный адрес электронной почты.")


def user_id_for(username: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"eventboard:user:{username.casefold()}")


def email_claim_id_for(email: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"eventboard:email:{email.casefold()}")


class User(Aggregate):
    INTEGRATION_NAME: ClassVar[str] = "user"

    class Registered(Aggregate.Created):
        username: str
        email: str
        password_hash: str
        is_staff: bool
        occurred_at: datetime

    class PasswordChanged(Aggregate.Event):
        password_hash: str
        occurred_at: datetime

    class StaffGranted(Aggregate.Event):
        """`by_user_id` is the staff user who acted; None for the board itself
        (`createsuperuser`)."""

        class_version = 2
        by_user_id: UUID | None
        occurred_at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            upcast_no_actor(state)

    class StaffRevoked(Aggregate.Event):
        class_version = 2
        by_user_id: UUID | None
        occurred_at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            upcast_no_actor(state)

    class Deactivated(Aggregate.Event):
        class_version = 2
        by_user_id: UUID | None
        occurred_at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            upcast_no_actor(state)

    class Reactivated(Aggregate.Event):
        by_user_id: UUID | None
        occurred_at: datetime

    def __init__(
        self,
        username: str,
        email: str,
        password_hash: str,
        is_staff: bool,
        occurred_at: datetime,
    ) -> None:
        self.username = username
        self.email = email
        self.password_hash = password_hash
        self.is_staff = is_staff
        self.is_active = True
        self.date_joined = occurred_at

    @classmethod
    def register(
        cls, *, username: str, email: str, password_hash: str, is_staff: bool, now: datetime
    ) -> User:
        return cls._create(
            cls.Registered,
            id=user_id_for(username),
            username=username,
            email=email,
            password_hash=password_hash,
            is_staff=is_staff,
            occurred_at=now,
        )

    @event(PasswordChanged)
    def change_password(self, password_hash: str, occurred_at: datetime) -> None:
        self.password_hash = password_hash

    def grant_staff(self, now: datetime, *, by_user_id: UUID | None = None) -> None:
        if not self.is_staff:
            self._grant_staff(by_user_id=by_user_id, occurred_at=now)

    @event(StaffGranted)
    def _grant_staff(self, by_user_id: UUID | None, occurred_at: datetime) -> None:
        self.is_staff = True

    def revoke_staff(self, now: datetime, *, by_user_id: UUID | None = None) -> None:
        self._check_not_own(by_user_id)
        if self.is_staff:
            self._revoke_staff(by_user_id=by_user_id, occurred_at=now)

    @event(StaffRevoked)
    def _revoke_staff(self, by_user_id: UUID | None, occurred_at: datetime) -> None:
        self.is_staff = False

    def deactivate(self, now: datetime, *, by_user_id: UUID | None = None) -> None:
        self._check_not_own(by_user_id)
        if self.is_active:
            self._deactivate(by_user_id=by_user_id, occurred_at=now)

    @event(Deactivated)
    def _deactivate(self, by_user_id: UUID | None, occurred_at: datetime) -> None:
        self.is_active = False

    def reactivate(self, now: datetime, *, by_user_id: UUID | None = None) -> None:
        if not self.is_active:
            self._reactivate(by_user_id=by_user_id, occurred_at=now)

    @event(Reactivated)
    def _reactivate(self, by_user_id: UUID | None, occurred_at: datetime) -> None:
        self.is_active = True

    def _check_not_own(self, by_user_id: UUID | None) -> None:
        # Staff locking themselves out could leave the board with no staff user at all.
        if by_user_id == self.id:
            raise OwnAccessProtected


class EmailClaim(Aggregate):
    """Exists once per case-folded e-mail address; saved with the user who claims it."""

    INTEGRATION_NAME: ClassVar[str] = "email_claim"

    class Claimed(Aggregate.Created):
        user_id: UUID
        occurred_at: datetime

    def __init__(self, user_id: UUID, occurred_at: datetime) -> None:
        self.user_id = user_id

    @classmethod
    def claim(cls, *, email: str, user_id: UUID, now: datetime) -> EmailClaim:
        return cls._create(
            cls.Claimed, id=email_claim_id_for(email), user_id=user_id, occurred_at=now
        )
