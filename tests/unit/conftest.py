"""The Board on the library's in-memory persistence, with a clock the tests move."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.application.board import Board
from shared.clock import ManualClock
from shared.settings import Settings
from tests.unit.scenarios import IN_MEMORY, START


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


# The board hashes a password when it starts; the default cost would dominate these tests.
CHEAP_HASHING = Settings(password_hash_time_cost=1, password_hash_memory_kib=1024)


@pytest.fixture
def board(clock: ManualClock) -> Iterator[Board]:
    board = Board(CHEAP_HASHING, clock, env=IN_MEMORY)
    yield board
    board.close()
