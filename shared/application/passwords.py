"""Password rules and Argon2id hashing, a few at a time."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from shared.domain.errors import InvalidField
from shared.settings import Settings

MIN_PASSWORD_LENGTH = 8
# Hashing reads the whole password: a bound keeps a megabyte of "password" from costing
# every login attempt that much.
MAX_PASSWORD_LENGTH = 1024


class PasswordsBusy(Exception):
    """Every turn to hash a password is taken: come back in a moment."""


def check_password_strength(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidField("password", "Пароль должен содержать не меньше 8 символов.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidField("password", "Пароль должен содержать не больше 1024 символов.")
    if password.isdigit():
        raise InvalidField("password", "Пароль не может состоять только из цифр.")
    if password.casefold() == username.casefold():
        raise InvalidField("password", "Пароль не может совпадать с именем пользователя.")


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class PasswordHasher:
    """Argon2id, at most `password_hash_concurrency` hashes at once (one per core).

    Each hash takes its memory cost (64 MiB) and a core for about 100 ms, and anyone may ask
    for one (log in, register): unbounded, 40 concurrent logins took 2.5 GiB and both cores.
    Beyond the bound a caller waits `password_hash_wait_seconds` for a turn and is then
    refused with `PasswordsBusy`, quickly, rather than queued behind the flood.
    """

    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.password_hash_time_cost,
                    memory_cost=settings.password_hash_memory_kib,
                ),
            )
        )
        self._turns = threading.BoundedSemaphore(settings.password_hash_concurrency or _cores())
        self._wait_seconds = settings.password_hash_wait_seconds

    @contextmanager
    def _turn(self) -> Iterator[None]:
        if not self._turns.acquire(timeout=self._wait_seconds):
            raise PasswordsBusy
        try:
            yield
        finally:
            self._turns.release()

    @cached_property
    def _decoy(self) -> str:
        """Checked against when the user does not exist, so both failures take as long.
        Made on first use: processes that never check a password (the workers) never pay
        for it."""
        return self._hash.hash("decoy-password-never-matches")

    def hash(self, password: str) -> str:
        with self._turn():
            return self._hash.hash(password)

    def verify(self, password: str, password_hash: str | None) -> bool:
        with self._turn():
            if password_hash is None:
                self._hash.verify(password, self._decoy)
                return False
            return self._hash.verify(password, password_hash)
