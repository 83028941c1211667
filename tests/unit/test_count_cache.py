"""The listing's count cache: one count per filter set for a moment, never older than asked."""

from __future__ import annotations

import asyncio

import pytest

from query_api.counts import CountCache
from query_api.watermarks import WatermarkWatcher
from shared.integration.names import EVENTS_PROJECTION


class Counting:
    """A count that answers `value` after `delay`, and remembers how often it ran."""

    def __init__(self, value: int = 7, delay: float = 0.0) -> None:
        self.value = value
        self.delay = delay
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return self.value


def watcher_at(position: int) -> WatermarkWatcher:
    # Never started: only the positions it was told about.
    watcher = WatermarkWatcher("postgresql://unused")
    watcher._advance(EVENTS_PROJECTION, position)
    return watcher


async def test_the_same_filters_are_counted_once_within_the_period() -> None:
    cache, counting = CountCache(60, watcher_at(5)), Counting()

    first = await cache.count("city=Казань", 0, counting)
    counting.value = 8
    second = await cache.count("city=Казань", 0, counting)

    assert (first, second, counting.calls) == (7, 7, 1)


async def test_other_filters_are_counted_apart() -> None:
    cache, counting = CountCache(60, watcher_at(5)), Counting()

    await cache.count("city=Казань", 0, counting)
    await cache.count("city=Москва", 0, counting)

    assert counting.calls == 2


async def test_concurrent_requests_share_one_count() -> None:
    cache, counting = CountCache(60, watcher_at(5)), Counting(delay=0.05)

    counts = await asyncio.gather(*(cache.count("search=концерт", 0, counting) for _ in range(20)))

    assert counts == [7] * 20
    assert counting.calls == 1


async def test_a_request_asking_for_a_later_position_counts_again() -> None:
    watcher = watcher_at(5)
    cache, counting = CountCache(60, watcher), Counting()
    await cache.count("all", 5, counting)
    watcher._advance(EVENTS_PROJECTION, 9)
    counting.value = 8

    assert await cache.count("all", 5, counting) == 7
    assert await cache.count("all", 9, counting) == 8
    assert await cache.count("all", 9, counting) == 8
    assert counting.calls == 2


async def test_a_count_is_taken_again_once_the_period_is_over() -> None:
    cache, counting = CountCache(0.05, watcher_at(5)), Counting()
    await cache.count("all", 0, counting)
    await asyncio.sleep(0.1)
    counting.value = 8

    assert await cache.count("all", 0, counting) == 8


async def test_a_period_of_zero_counts_every_time() -> None:
    cache, counting = CountCache(0, watcher_at(5)), Counting()

    await cache.count("all", 0, counting)
    await cache.count("all", 0, counting)

    assert counting.calls == 2


async def test_a_failed_count_is_not_kept() -> None:
    cache = CountCache(60, watcher_at(5))

    async def failing() -> int:
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        await cache.count("all", 0, failing)

    assert await cache.count("all", 0, Counting()) == 7


async def test_a_request_that_goes_away_leaves_the_count_to_the_others() -> None:
    cache, counting = CountCache(60, watcher_at(5)), Counting(delay=0.05)
    leaving = asyncio.ensure_future(cache.count("all", 0, counting))
    staying = asyncio.ensure_future(cache.count("all", 0, counting))
    await asyncio.sleep(0.01)

    leaving.cancel()

    assert await staying == 7
    assert counting.calls == 1
