"""The live stream of a user's notifications, without asking the database per connection.

One listener per process holds the only `LISTEN` connection: the transaction that makes
notifications visible notifies `NOTIFICATIONS_CHANNEL` with each recipient (a trigger of
the read side, migration 0009), and the listener wakes that user's open streams. A woken
stream reads the user's notifications after its cursor, one query, and sends them; an
idle one costs a timer, for the heartbeat. The cursor is a notification's `seq`, the order
in which notifications became visible, so a stream neither skips nor repeats one, and a
client resuming with `Last-Event-ID` (a notification id) gets what came after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable, Iterator
from dataclasses import dataclass
from uuid import UUID

import msgspec
import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from shared.auth.access_store import AccessStore
from shared.infra.tasks import cancelled
from shared.integration.names import NOTIFICATIONS_CHANNEL
from shared.read_model.views import notifications as views

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
# Notifications read per query; a longer backlog takes more than one.
BATCH = 100
HEARTBEAT = b": ping\n\n"
_ENCODER = msgspec.json.Encoder()


class StreamHub:
    """The open streams of this process by user, and the one listener that wakes them."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._streams: dict[UUID, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def open_streams(self) -> int:
        return sum(len(streams) for streams in self._streams.values())

    def subscribe(self, user_id: UUID) -> asyncio.Event:
        """A signal set whenever the user may have new notifications, until unsubscribed."""
        woken = asyncio.Event()
        self._streams.setdefault(user_id, set()).add(woken)
        return woken

    def unsubscribe(self, user_id: UUID, woken: asyncio.Event) -> None:
        streams = self._streams.get(user_id, set())
        streams.discard(woken)
        if not streams:
            self._streams.pop(user_id, None)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notification-listener")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._database_url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {NOTIFICATIONS_CHANNEL}")
                    # Whatever became visible while nobody listened.
                    self._wake(list(self._streams))
                    async for notify in conn.notifies():
                        self._wake(_user_ids(notify.payload))
            except (psycopg.Error, OSError) as error:
                logger.warning("notification listener lost its connection: %s", error)
            await asyncio.sleep(RECONNECT_SECONDS)

    def _wake(self, user_ids: Iterable[UUID]) -> None:
        for user_id in user_ids:
            for woken in self._streams.get(user_id, ()):
                woken.set()


def _user_ids(payload: str) -> Iterator[UUID]:
    try:
        yield UUID(payload)
    except ValueError:
        logger.warning("ignoring a malformed notification notice %r", payload)


def last_event_id(header: str | None) -> UUID | None:
    try:
        return None if header is None else UUID(header.strip())
    except ValueError:
        return None


@dataclass
class NotificationStream:
    """One client's stream: subscribed, and its cursor taken, before its answer starts, so
    whatever becomes visible once the client has the answer's headers is sent to it."""

    engine: AsyncEngine
    hub: StreamHub
    access: AccessStore
    user_id: UUID
    heartbeat_seconds: float
    woken: asyncio.Event
    cursor: int

    @classmethod
    async def open(
        cls,
        engine: AsyncEngine,
        hub: StreamHub,
        access: AccessStore,
        user_id: UUID,
        resume_after: UUID | None,
        heartbeat_seconds: float,
    ) -> NotificationStream:
        """After `resume_after` (a notification id of the user's), else from now on."""
        woken = hub.subscribe(user_id)
        try:
            async with engine.connect() as conn:
                cursor = None
                if resume_after is not None:
                    cursor = await views.seq_of(conn, user_id, resume_after)
                if cursor is None:
                    cursor = await views.last_seq(conn, user_id)
        except BaseException:
            hub.unsubscribe(user_id, woken)
            raise
        return cls(engine, hub, access, user_id, heartbeat_seconds, woken, cursor)

    async def events(self) -> AsyncGenerator[bytes]:
        """Each notification after the cursor as it becomes visible; a comment when nothing
        was sent for `heartbeat_seconds`. Ends once the user may no longer call."""
        while True:
            self.woken.clear()
            async with self.engine.connect() as conn:
                batch = await views.notifications_after(
                    conn, self.user_id, self.cursor, limit=BATCH
                )
            for seq, shown in batch:
                yield _event(shown)
                self.cursor = seq
            if len(batch) == BATCH:
                continue
            try:
                async with asyncio.timeout(self.heartbeat_seconds):
                    await self.woken.wait()
            except TimeoutError:
                yield HEARTBEAT
            allowed = await self.access.get(self.user_id)
            if allowed is None or not allowed.is_active:
                return

    def close(self) -> None:
        self.hub.unsubscribe(self.user_id, self.woken)


def _event(shown: dict[str, object]) -> bytes:
    return b"id: %s\nevent: notification\ndata: %s\n\n" % (
        str(shown["id"]).encode(),
        _ENCODER.encode(shown),
    )


class EventStreamResponse(StreamingResponse):
    """`text/event-stream`, never cached or buffered by a proxy; its events are closed when
    the answer ends, the client's disconnect included, so the stream leaves its hub then."""

    media_type = "text/event-stream"

    def __init__(self, stream: NotificationStream) -> None:
        self._events = stream.events()
        self._stream = stream
        super().__init__(
            self._events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._events.aclose()
            self._stream.close()
