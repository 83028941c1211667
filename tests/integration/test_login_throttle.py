"""Login throttling kept in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from psycopg_pool import ConnectionPool

from command_api.throttle import LoginThrottle, TooManyAttempts
from shared.clock import ManualClock


@pytest.fixture
def pool(database_url: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(database_url, min_size=1, max_size=2, open=True) as opened:
        yield opened


def admits(throttle: LoginThrottle, username: str, address: str) -> bool:
    """Whether the throttle lets a login attempt by `username` from `address` through."""
    try:
        throttle.check(username, address)
    except TooManyAttempts:
        return False
    return True


def test_ten_failures_for_one_username_lock_it_for_fifteen_minutes(pool: ConnectionPool) -> None:
    clock = ManualClock()
    throttle = LoginThrottle(pool, clock)
    for _ in range(10):
        assert admits(throttle, "Alice", "10.0.0.1")
        throttle.record_failure("Alice", "10.0.0.1")
        clock.advance(1)

    with pytest.raises(TooManyAttempts) as refused:
        throttle.check("ALICE", "10.0.0.2")
    assert 0 < refused.value.retry_after_seconds <= 15 * 60
    assert admits(throttle, "bob", "10.0.0.2")

    clock.advance(15 * 60)
    assert admits(throttle, "alice", "10.0.0.2")


def test_a_hundred_failures_from_one_address_lock_the_address(pool: ConnectionPool) -> None:
    clock = ManualClock()
    throttle = LoginThrottle(pool, clock)
    for n in range(100):
        throttle.record_failure(f"user{n}", "10.0.0.9")

    assert not admits(throttle, "someone-new", "10.0.0.9")
    assert admits(throttle, "someone-new", "10.0.0.10")


def test_the_lock_holds_for_another_process_with_its_own_throttle(
    database_url: str, pool: ConnectionPool
) -> None:
    clock = ManualClock()
    for _ in range(10):
        LoginThrottle(pool, clock).record_failure("carol", "10.0.0.1")

    with (
        ConnectionPool(database_url, min_size=1, max_size=1, open=True) as other_pool,
        pytest.raises(TooManyAttempts),
    ):
        LoginThrottle(other_pool, clock).check("carol", "10.0.0.3")


def test_a_successful_login_forgives_the_usernames_failures(pool: ConnectionPool) -> None:
    clock = ManualClock()
    throttle = LoginThrottle(pool, clock)
    for _ in range(9):
        throttle.record_failure("dave", "10.0.0.1")

    throttle.record_success("Dave")
    clock.advance(timedelta(seconds=1).total_seconds())
    throttle.record_failure("dave", "10.0.0.1")

    assert admits(throttle, "dave", "10.0.0.1")
