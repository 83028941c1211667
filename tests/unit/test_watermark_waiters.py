"""Requests waiting for a watermark: each is woken when the watermark reaches its own
position, not before, and one that gives up leaves nothing behind."""

from __future__ import annotations

import asyncio

import pytest

from query_api.watermarks import WatermarkWatcher
from shared.integration.names import EVENTS_PROJECTION


class QuietWatcher(WatermarkWatcher):
    """A watcher whose safety-net poll never runs: only `_advance` moves it here."""

    async def _poll_while_waiting(self) -> None:
        return None


async def test_each_waiter_is_woken_once_the_watermark_reaches_its_own_position() -> None:
    watcher = QuietWatcher("postgresql://unused")
    woken: list[int] = []

    async def wait_for(position: int) -> None:
        await watcher.reached(EVENTS_PROJECTION, position)
        woken.append(position)

    waiting = [asyncio.create_task(wait_for(position)) for position in (5, 3, 9)]
    await asyncio.sleep(0)
    watcher._advance(EVENTS_PROJECTION, 4)
    await asyncio.sleep(0)
    after_four = list(woken)
    watcher._advance(EVENTS_PROJECTION, 9)
    await asyncio.gather(*waiting)

    assert after_four == [3]
    assert woken == [3, 5, 9]


async def test_a_waiter_that_gives_up_is_forgotten_and_others_still_wake() -> None:
    watcher = QuietWatcher("postgresql://unused")
    staying = asyncio.create_task(watcher.reached(EVENTS_PROJECTION, 2))

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await watcher.reached(EVENTS_PROJECTION, 7)
    watcher._advance(EVENTS_PROJECTION, 2)
    await staying

    assert watcher._waiters[EVENTS_PROJECTION] == []
    assert watcher._waiting == 0


async def test_a_position_already_reflected_returns_at_once() -> None:
    watcher = QuietWatcher("postgresql://unused")
    watcher._advance(EVENTS_PROJECTION, 10)

    async with asyncio.timeout(0.1):
        await watcher.reached(EVENTS_PROJECTION, 10)

    assert EVENTS_PROJECTION not in watcher._waiters
