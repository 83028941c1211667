"""The live stream of a user's notifications, without asking the database per connection.

One listener per process holds the only `LISTEN` connection: the transaction that makes
notifications visible notifies `NOTIFICATIONS_CHANNEL` with each recipient (a trigger of
the read side, migration 0009), and the hub reads that user's new notifications once, for
every open stream of the user, and hands each stream what it has not had. An idle stream
costs a timer, for the heartbeat, and asks the database nothing. The cursor is a
notification's `seq`, the order in which notifications became visible, so a stream neither
skips nor repeats one, and a client resuming with `Last-Event-ID` (a notification id) gets
what came after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, Iterable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from shared.auth.access_store import AccessStore
from shared.infra.listening import Listening, follow_channel
from shared.infra.tasks import cancelled
from shared.integration.names import NOTIFICATIONS_CHANNEL
from shared.read_model.views import notifications as views

logger = logging.getLogger(__name__)

# Notifications read per query; a longer backlog takes more than one.
BATCH = 100
# Events a stream may hold unsent: a client that falls this far behind is hung up on, and
# resumes with `Last-Event-ID` instead of growing the process's memory.
INBOX_LIMIT = 10 * BATCH
HEARTBEAT = b": ping\n\n"
_ENCODER = msgspec.json.Encoder()


@dataclass(eq=False)
class Inbox:
    """What the hub has read for one stream and the stream has not sent yet."""

    cursor: int
    pending: deque[bytes] = field(default_factory=deque)
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False

    def offer(self, seq: int, event: bytes) -> None:
        if seq <= self.cursor or self.overflowed:
            return
        self.cursor = seq
        if len(self.pending) >= INBOX_LIMIT:
            self.overflowed = True
        else:
            self.pending.append(event)
        self.woken.set()


@dataclass(eq=False)
class _Recipient:
    """One user's open streams and the hub's read of their notifications."""

    inboxes: set[Inbox] = field(default_factory=set)
    reading: asyncio.Task[None] | None = None
    # Set when a notice comes while a read runs: what it announced may be past that read.
    again: bool = False


class StreamHub:
    """The open streams of this process by user, the one listener that tells which users
    have new notifications, and the reads that fetch them once for all of a user's streams."""

    def __init__(self, database_url: str, engine: AsyncEngine) -> None:
        self._database_url = database_url
        self._engine = engine
        self._recipients: dict[UUID, _Recipient] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def open_streams(self) -> int:
        return sum(len(r.inboxes) for r in self._recipients.values())

    def subscribe(self, user_id: UUID, cursor: int) -> Inbox:
        """An inbox that receives every notification of the user's after `cursor`."""
        inbox = Inbox(cursor)
        self._recipients.setdefault(user_id, _Recipient()).inboxes.add(inbox)
        # A notice sent before the inbox was here is not heard again: read once now.
        self._read(user_id)
        return inbox

    def unsubscribe(self, user_id: UUID, inbox: Inbox) -> None:
        recipient = self._recipients.get(user_id)
        if recipient is None:
            return
        recipient.inboxes.discard(inbox)
        if not recipient.inboxes and recipient.reading is None:
            del self._recipients[user_id]

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="notification-listener")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
        for recipient in list(self._recipients.values()):
            await cancelled(recipient.reading)

    async def _listen(self) -> None:
        await follow_channel(
            self._database_url,
            NOTIFICATIONS_CHANNEL,
            lambda payload: self._wake(_user_ids(payload)),
            what="notification listener",
            caught_up=self._wake_everyone,
        )

    async def _wake_everyone(self, _conn: Listening) -> None:
        # Whatever became visible while nobody listened.
        self._wake(list(self._recipients))

    def _wake(self, user_ids: Iterable[UUID]) -> None:
        for user_id in user_ids:
            if user_id in self._recipients:
                self._read(user_id)

    def _read(self, user_id: UUID) -> None:
        recipient = self._recipients[user_id]
        if recipient.reading is not None:
            recipient.again = True
            return
        recipient.reading = asyncio.create_task(
            self._read_until_current(user_id, recipient), name="notification-read"
        )

    async def _read_until_current(self, user_id: UUID, recipient: _Recipient) -> None:
        try:
            while recipient.inboxes:
                recipient.again = False
                after = min(inbox.cursor for inbox in recipient.inboxes)
                async with self._engine.connect() as conn:
                    batch = await views.notifications_after(conn, user_id, after, limit=BATCH)
                # An inbox behind `after` came during the query: the read after this one
                # serves it, as a batch given to it would leave a gap.
                served = [inbox for inbox in recipient.inboxes if inbox.cursor >= after]
                for seq, shown in batch:
                    event = _event(shown)
                    for inbox in served:
                        inbox.offer(seq, event)
                if len(batch) < BATCH and not recipient.again:
                    break
        except Exception:
            # The streams stay open; the user's next notice, or a reconnect, reads again.
            logger.exception("reading the notifications of %s failed", user_id)
        finally:
            recipient.reading = None
            if not recipient.inboxes and self._recipients.get(user_id) is recipient:
                del self._recipients[user_id]


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
    """One client's stream: subscribed, with its cursor, before its answer starts, so
    whatever becomes visible once the client has the answer's headers is sent to it."""

    hub: StreamHub
    access: AccessStore
    user_id: UUID
    heartbeat_seconds: float
    inbox: Inbox

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
        async with engine.connect() as conn:
            cursor = None
            if resume_after is not None:
                cursor = await views.seq_of(conn, user_id, resume_after)
            if cursor is None:
                cursor = await views.last_seq(conn, user_id)
        return cls(hub, access, user_id, heartbeat_seconds, hub.subscribe(user_id, cursor))

    async def events(self) -> AsyncGenerator[bytes]:
        """Each notification after the cursor as it becomes visible; a comment when nothing
        was sent for `heartbeat_seconds`. Ends once the user may no longer call, or when
        the client fell too far behind."""
        inbox = self.inbox
        while True:
            inbox.woken.clear()
            while inbox.pending:
                yield inbox.pending.popleft()
            if inbox.overflowed:
                return
            try:
                async with asyncio.timeout(self.heartbeat_seconds):
                    await inbox.woken.wait()
            except TimeoutError:
                yield HEARTBEAT
            allowed = await self.access.get(self.user_id)
            if allowed is None or not allowed.is_active:
                return

    def close(self) -> None:
        self.hub.unsubscribe(self.user_id, self.inbox)


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
