"""A worker moves a watermark on the relay's word alone only when no batch will move it:
a batch that began to fill after the notice takes the relay's head in with its writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from projections.live import LiveProjector
from projections.read_models.app import create_app
from projections.runtime import relay_watch
from projections.runtime.feed import Batches
from projections.runtime.relay_watch import RelayWatch
from shared.outbox.progress import PublishedNotice
from shared.settings import Settings


class CountingProjector(LiveProjector):
    """A projector whose watermark moves are counted instead of written."""

    def __init__(self) -> None:
        super().__init__(cast(Any, None), cast(Any, type("P", (), {"awaited": True})()))
        self.advances = 0

    async def advance(self) -> int | None:
        self.advances += 1
        return None


class ListedStream:
    """The part of a faust stream `Batches` uses: events as they come, and acks."""

    def __init__(self) -> None:
        self.enable_acks = True
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.acked: list[str] = []

    async def events(self) -> AsyncIterator[str]:
        while True:
            yield await self.queue.get()

    async def ack(self, event: str) -> None:
        self.acked.append(event)


def watch_over(projector: LiveProjector, tmp_path: Path) -> RelayWatch:
    settings = Settings(
        data_dir=str(tmp_path),
        database_url="postgresql://postgres:@/postgres?host=/nonexistent",
        kafka_bootstrap_servers="127.0.0.1:1",
    )
    return RelayWatch(create_app(settings), settings, cast(Any, None), [projector])


def notice() -> str:
    return PublishedNotice(head=7, ends={"users": {0: 3}}).encode()


async def test_a_notice_no_batch_follows_moves_the_watermark_on_its_own(tmp_path: Path) -> None:
    projector = CountingProjector()
    watch = watch_over(projector, tmp_path)
    mover = asyncio.create_task(watch.advance_when_told())
    try:
        watch._told(notice())
        await asyncio.sleep(relay_watch.ADVANCE_AFTER_SECONDS * 3)
    finally:
        mover.cancel()

    assert projector.advances == 1


async def test_a_notice_whose_messages_began_a_batch_leaves_the_move_to_that_batch(
    tmp_path: Path,
) -> None:
    projector = CountingProjector()
    watch = watch_over(projector, tmp_path)
    stream = ListedStream()
    applied: list[list[str]] = []

    async def apply(events: list[Any]) -> None:
        applied.append(events)

    batches = Batches(cast(Any, stream), apply, 10, 0.2, began=projector.batch_begins)
    feeding = asyncio.create_task(batches.run())
    mover = asyncio.create_task(watch.advance_when_told())
    try:
        watch._told(notice())
        await stream.queue.put("first of the notice")
        await asyncio.sleep(relay_watch.ADVANCE_AFTER_SECONDS * 3)
        moved_while_filling = projector.advances
        await asyncio.sleep(0.3)
    finally:
        mover.cancel()
        feeding.cancel()

    assert moved_while_filling == 0
    assert applied == [["first of the notice"]]
    assert stream.acked == ["first of the notice"]
