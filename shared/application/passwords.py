"""Password rules and Argon2id hashing."""

from __future__ import annotations

from functools import cached_property

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from shared.domain.errors import InvalidField
from shared.settings import Settings

MIN_PASSWORD_LENGTH = 8
# Hashing reads the whole password: a bound keeps a megabyte of "password" from costing
# every login attempt that much.
MAX_PASSWORD_LENGTH = 1024


def check_password_strength(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidField("password", "Пароль должен содержать не меньше 8 символов.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidField("password", "Пароль должен содержать не больше 1024 символов.")
    if password.isdigit():
        raise InvalidField("password", "Пароль не может состоять только из цифр.")
    if password.casefold() == username.casefold():
        raise InvalidField("password", "Пароль не может совпадать с именем пользователя.")


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.password_hash_time_cost,
                    memory_cost=settings.password_hash_memory_kib,
                ),
            )
        )

    @cached_property
    def _decoy(self) -> str:
        """Checked against when the user does not exist, so both failures take as long.
        Made on first use: processes that never check a password (the workers) never pay
        for it."""
        return self._hash.hash("decoy-password-never-matches")

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str | None) -> bool:
        if password_hash is None:
            self._hash.verify(password, self._decoy)
            return False
        return self._hash.verify(password, password_hash)
