"""Reading the users' access rows (see `shared.auth.access`), as the APIs do per request.

Every authenticated request asks whether its user may still call, and with which rights;
asking PostgreSQL each time cost the gateway more CPU than the rest of a booking's
bookkeeping (measured with py-spy). So each API process keeps what it read, and forgets a
user the moment the write side changes them:

- the recorder notifies `ACCESS_CHANNEL` with the user's id in the transaction that
  changes their row, and a listener here forgets them when it commits;
- a process that saves users itself (the command API) forgets them before it answers
  (`Board.on_access_changed`), so its own next request never sees the old rights;
- while the listener is not connected nothing is kept (a notification could be missed),
  and on (re)connecting everything kept is forgotten;
- a read that began before a notification arrived does not keep what it read.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from uuid import UUID

from sqlalchemy import text

from shared.auth.access import Access
from shared.infra.database import POOL_TIMEOUT_SECONDS, async_engine
from shared.infra.listening import Listening, follow_channel
from shared.infra.tasks import cancelled
from shared.integration.names import ACCESS_CHANNEL
from shared.settings import EVENT_STORE_SCHEMA, Settings

logger = logging.getLogger(__name__)

_SELECT = text(
    f"SELECT is_staff, is_active, position FROM {EVENT_STORE_SCHEMA}.user_access"
    " WHERE user_id = :user_id"
)
# Users kept per process; the least recently asked go first.
MAX_KEPT = 50_000
# A miss holds a connection for one short statement; a burst of misses waits its turn.
POOL_SIZE = 4


class AccessStore:
    """One per process (the gateway hands its own to both APIs), with a small pool of its
    own: a miss is one statement, in autocommit (no BEGIN and ROLLBACK around it)."""

    def __init__(self, settings: Settings) -> None:
        self._engine = async_engine(
            settings.sqlalchemy_url,
            pool_size=POOL_SIZE,
            max_overflow=0,
            pool_timeout=POOL_TIMEOUT_SECONDS,
            isolation_level="AUTOCOMMIT",
        )
        self._database_url = settings.database_url
        self._kept: OrderedDict[UUID, Access] = OrderedDict()
        # Bumped by every forgetting: a read that saw it move keeps nothing.
        self._generation = 0
        self._listening = False
        self._task: asyncio.Task[None] | None = None
        # The command API's committer thread forgets users while requests read.
        self._lock = threading.Lock()

    async def get(self, user_id: UUID) -> Access | None:
        """The user's rights, or None for an id the write side never stored."""
        kept = self._kept.get(user_id)
        if kept is not None:
            self._kept.move_to_end(user_id)
            return kept
        generation = self._generation
        async with self._engine.connect() as conn:
            row = (await conn.execute(_SELECT, {"user_id": user_id})).first()
        if row is None:
            return None
        access = Access(row.is_staff, row.is_active, row.position)
        with self._lock:
            if self._listening and generation == self._generation:
                self._kept[user_id] = access
                if len(self._kept) > MAX_KEPT:
                    self._kept.popitem(last=False)
        return access

    def forget(self, user_ids: Iterable[UUID]) -> None:
        """Forget these users (their rights changed); safe from any thread."""
        with self._lock:
            self._generation += 1
            for user_id in user_ids:
                self._kept.pop(user_id, None)

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="access-listener")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
        await self._engine.dispose()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[AccessStore]:
        self.start()
        try:
            yield self
        finally:
            await self.stop()

    async def _listen(self) -> None:
        await follow_channel(
            self._database_url,
            ACCESS_CHANNEL,
            lambda payload: self.forget([_user_id(payload)]),
            what="access listener",
            caught_up=self._now_listening,
            lost=self._not_listening,
        )

    async def _now_listening(self, _conn: Listening) -> None:
        self._forget_all()
        self._listening = True

    def _not_listening(self) -> None:
        self._listening = False
        self._forget_all()

    def _forget_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._kept.clear()


def _user_id(payload: str) -> UUID:
    try:
        return UUID(payload)
    except ValueError:
        logger.warning("ignoring a malformed access notification %r", payload)
        return UUID(int=0)
