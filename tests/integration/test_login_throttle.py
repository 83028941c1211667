"""Login throttling kept in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from psycopg_pool import ConnectionPool

from command_api.throttle import Attempt, LoginThrottle, TooManyAttempts
from shared.clock import ManualClock


@pytest.fixture
def pool(database_url: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(database_url, min_size=1, max_size=8, open=True) as opened:
        yield opened


def admits(throttle: LoginThrottle, username: str, address: str) -> bool:
    """Whether the throttle lets a login attempt by `username` from `address` through (an
    attempt it admits counts, as a failed one would, until it is taken back)."""
    try:
        throttle.take_back(throttle.attempt(username, address))
    except TooManyAttempts:
        return False
    return True


def test_ten_failures_for_one_username_lock_it_for_fifteen_minutes(pool: ConnectionPool) -> None:
    clock = ManualClock()
    throttle = LoginThrottle(pool, clock)
    for _ in range(10):
        throttle.attempt("Alice", "10.0.0.1")
        clock.advance(1)

    with pytest.raises(TooManyAttempts) as refused:
        throttle.attempt("ALICE", "10.0.0.2")
    assert 0 < refused.value.retry_after_seconds <= 15 * 60
    assert admits(throttle, "bob", "10.0.0.2")

    clock.advance(15 * 60)
    assert admits(throttle, "alice", "10.0.0.2")


def test_a_hundred_failures_from_one_address_lock_the_address(pool: ConnectionPool) -> None:
    clock = ManualClock()
    throttle = LoginThrottle(pool, clock)
    for n in range(100):
        throttle.attempt(f"user{n}", "10.0.0.9")

    assert not admits(throttle, "someone-new", "10.0.0.9")
    assert admits(throttle, "someone-new", "10.0.0.10")


def test_the_lock_holds_for_another_process_with_its_own_throttle(
    database_url: str, pool: ConnectionPool
) -> None:
    clock = ManualClock()
    for _ in range(10):
        LoginThrottle(pool, clock).attempt("carol", "10.0.0.1")

    with (
        ConnectionPool(database_url, min_size=1, max_size=1, open=True) as other_pool,
        pytest.raises(TooManyAttempts),
    ):
        LoginThrottle(other_pool, clock).attempt("carol", "10.0.0.3")


def test_a_successful_login_forgives_the_usernames_failures(pool: ConnectionPool) -> None:
    clock = ManualClock()
    throttle = LoginThrottle(pool, clock)
    for _ in range(9):
        throttle.attempt("dave", "10.0.0.1")

    throttle.succeeded(throttle.attempt("Dave", "10.0.0.1"))
    clock.advance(timedelta(seconds=1).total_seconds())
    throttle.attempt("dave", "10.0.0.1")

    assert admits(throttle, "dave", "10.0.0.1")


def test_a_success_is_no_failure_of_the_address_but_keeps_its_earlier_ones(
    pool: ConnectionPool,
) -> None:
    clock = ManualClock()
    throttle = LoginThrottle(pool, clock)
    for n in range(99):
        throttle.attempt(f"guess{n}", "10.0.0.7")

    for _ in range(3):
        throttle.succeeded(throttle.attempt("erin", "10.0.0.7"))

    assert admits(throttle, "frank", "10.0.0.7")
    throttle.attempt("frank", "10.0.0.7")
    assert not admits(throttle, "gina", "10.0.0.7")


def test_parallel_attempts_are_counted_one_after_the_other(pool: ConnectionPool) -> None:
    throttle = LoginThrottle(pool, ManualClock())

    def try_once(_: int) -> Attempt | None:
        try:
            return throttle.attempt("hank", "10.0.0.8")
        except TooManyAttempts:
            return None

    with ThreadPoolExecutor(max_workers=8) as threads:
        admitted = [a for a in threads.map(try_once, range(30)) if a is not None]

    assert len(admitted) == 10
