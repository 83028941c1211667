"""The board's commands on users: registration, credentials, staff rights (part of `Board`).

Users' commands save one by one, on a fresh copy of the user, and run again when another
writer won the race; they are rare next to the event commands, which the committer groups.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from shared.application.commits import MAX_CONFLICT_RETRIES, Saved
from shared.application.passwords import PasswordHasher, check_password_strength
from shared.application.stored import StoredAggregates
from shared.clock import Clock
from shared.domain.errors import (
    ConcurrentModification,
    DomainError,
    EmailTaken,
    InvalidCredentials,
    UsernameTaken,
    UserNotFound,
)
from shared.domain.user import (
    EmailClaim,
    User,
    check_email,
    check_username,
    email_claim_id_for,
    user_id_for,
)

logger = logging.getLogger(__name__)

A = TypeVar("A", bound=Aggregate)


class UserCommands(StoredAggregates):
    """Mixed into `Board`, which provides these attributes."""

    clock: Clock
    passwords: PasswordHasher

    def register_user(
        self, *, username: str, email: str, password: str, is_staff: bool = False
    ) -> Saved[User]:
        """Register a new user; the username and the e-mail are unique case-insensitively."""
        check_username(username)
        check_email(email)
        check_password_strength(password, username)
        now = self.clock.now()
        user = User.register(
            username=username,
            email=email,
            password_hash=self.passwords.hash(password),
            is_staff=is_staff,
            now=now,
        )
        claim = EmailClaim.claim(email=email, user_id=user.id, now=now) if email else None
        try:
            return Saved(user, self._save(user, claim))
        except IntegrityError:
            # Creating an aggregate with an id that exists is a taken name, not a race to retry.
            if self._exists(user.id):
                raise UsernameTaken from None
            if email and self._exists(email_claim_id_for(email)):
                raise EmailTaken from None
            raise

    def authenticate(self, username: str, password: str) -> User:
        """The active user with these credentials; one answer for every kind of failure."""
        try:
            user = self.get_user(user_id_for(username))
        except UserNotFound:
            user = None
        if not self.passwords.verify(password, user.password_hash if user else None):
            raise InvalidCredentials
        if user is None or not user.is_active:
            raise InvalidCredentials
        return user

    def get_user(self, user_id: UUID) -> User:
        return self._get(user_id, User, UserNotFound)

    def create_superuser(self, *, username: str, email: str, password: str) -> Saved[User]:
        """Create a staff user, or make the existing one staff with this password (idempotent)."""
        try:
            self.get_user(user_id_for(username))
        except UserNotFound:
            try:
                return self.register_user(
                    username=username, email=email, password=password, is_staff=True
                )
            except UsernameTaken:
                pass  # registered concurrently: fall through and update it

        def command(user: User) -> None:
            now = self.clock.now()
            if not self.passwords.verify(password, user.password_hash):
                check_password_strength(password, username)
                user.change_password(self.passwords.hash(password), occurred_at=now)
            user.grant_staff(now)

        return self._retrying(user_id_for(username), User, UserNotFound, command)

    def set_staff(
        self, user_id: UUID, *, is_staff: bool, by_user_id: UUID | None = None
    ) -> Saved[User]:
        """Grant or revoke staff rights; `by_user_id` is the staff user acting (who may not
        revoke their own)."""

        def command(user: User) -> None:
            if is_staff:
                user.grant_staff(self.clock.now(), by_user_id=by_user_id)
            else:
                user.revoke_staff(self.clock.now(), by_user_id=by_user_id)

        return self._retrying(user_id, User, UserNotFound, command)

    def deactivate_user(self, user_id: UUID, *, by_user_id: UUID | None = None) -> Saved[User]:
        """Refuse the user's sign-ins and tokens from the commit on; never the acting user's."""
        return self._retrying(
            user_id,
            User,
            UserNotFound,
            lambda user: user.deactivate(self.clock.now(), by_user_id=by_user_id),
        )

    def reactivate_user(self, user_id: UUID, *, by_user_id: UUID | None = None) -> Saved[User]:
        return self._retrying(
            user_id,
            User,
            UserNotFound,
            lambda user: user.reactivate(self.clock.now(), by_user_id=by_user_id),
        )

    def _retrying(
        self,
        aggregate_id: UUID,
        kind: type[A],
        missing: type[DomainError],
        command: Callable[[A], None],
    ) -> Saved[A]:
        """Run a command on a fresh copy of the aggregate, again if another writer won the race."""
        for attempt in range(1, MAX_CONFLICT_RETRIES + 1):
            found = self._get(aggregate_id, kind, missing)
            command(found)
            try:
                return Saved(found, self._save(found))
            except IntegrityError:
                logger.info("version conflict on %s, attempt %d", aggregate_id, attempt)
        raise ConcurrentModification
