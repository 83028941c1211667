"""Delivering notifications through a channel: at least once, retried with back-off.

Pending deliveries are rows in `notification_deliveries`. A batch of due rows is claimed
(`FOR UPDATE SKIP LOCKED`, then leased by moving `due_at` on, so no other process takes
them while they are being sent and a process that dies mid-send leaves them due again),
sent concurrently, each within a timeout, and then either deleted or given its next
attempt later. The lease is short and renewed while the batch is being sent: a slow batch
is never claimed twice, and a dead process's batch is due again within one lease. A
recipient whose delivery keeps failing waits on their own row only: other users'
notifications go past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.notifier.channels import Channel, Outgoing
from shared.clock import Clock
from shared.read_model.schema import notification_deliveries, notifications, notifier_users

logger = logging.getLogger(__name__)

BATCH = 200
CONCURRENT_SENDS = 16
SEND_TIMEOUT_SECONDS = 30.0
MAX_RETRY_SECONDS = 300.0
# With nothing pending, deliveries wait to be woken by new notifications for this long.
IDLE_SECONDS = 86400.0

_deliveries, _notifications, _users = notification_deliveries, notifications, notifier_users
# What a delivery needs of its notification and recipient: the fields of `Outgoing`.
_OUTGOING = (
    *(_notifications.c[f] for f in ("id", "user_id", "type", "event_id", "message", "created_at")),
    _users.c.email,
)


@dataclass(frozen=True)
class Claimed:
    """A delivery this process is sending, and how many attempts failed before."""

    outgoing: Outgoing
    attempts: int


def retry_delay(first_seconds: float, failures: int) -> timedelta:
    """The pause before the next attempt after `failures` failed ones: doubling, capped."""
    # The exponent is bounded too: a week of failures must not overflow a float.
    doubled = first_seconds * 2 ** min(failures - 1, 32)
    return timedelta(seconds=min(doubled, MAX_RETRY_SECONDS))


class Deliveries:
    def __init__(
        self,
        engine: AsyncEngine,
        channel: Channel,
        clock: Clock,
        retry_seconds: float,
        lease_seconds: float,
    ) -> None:
        self._engine = engine
        self._channel = channel
        self._clock = clock
        self._retry_seconds = retry_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._sends = asyncio.Semaphore(CONCURRENT_SENDS)
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """New notifications may be due: look now rather than at the next poll."""
        self._woken.set()

    async def run(self, poll_seconds: float) -> None:
        """Deliver until cancelled: when woken (new notifications), when the next pending
        delivery falls due (a retry, a lapsed lease), and at least every `poll_seconds`."""
        while True:
            self._woken.clear()
            try:
                claimed = await self.deliver_due()
                pause = poll_seconds if claimed < BATCH else 0.0
                if pause:
                    pause = min(pause, await self._seconds_until_due())
            except Exception:
                logger.exception("deliveries: could not reach the database; trying again")
                pause = poll_seconds
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._woken.wait()

    async def _seconds_until_due(self) -> float:
        """How long until the next pending delivery is due (a day when none is pending)."""
        async with self._engine.connect() as conn:
            due: datetime | None = await conn.scalar(select(func.min(_deliveries.c.due_at)))
        if due is None:
            return IDLE_SECONDS
        return max(0.0, (due - self._clock.now()).total_seconds())

    async def deliver_due(self) -> int:
        """Send one batch of due notifications; return how many it claimed."""
        claimed = await self._claim()
        if claimed:
            renewing = asyncio.create_task(self._renew_lease(claimed))
            try:
                failures = await asyncio.gather(*(self._attempt(c) for c in claimed))
            finally:
                renewing.cancel()
            await self._settle(claimed, failures)
        return len(claimed)

    async def _renew_lease(self, claimed: Sequence[Claimed]) -> None:
        """Keep the batch leased while it is being sent, however slow its sends."""
        ids = [c.outgoing.id for c in claimed]
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(
                        update(_deliveries)
                        .where(_deliveries.c.notification_id.in_(ids))
                        .values(due_at=self._clock.now() + self._lease)
                    )
            except Exception:
                logger.exception("deliveries: could not renew a batch's lease; trying again")

    async def _claim(self) -> list[Claimed]:
        now = self._clock.now()
        async with self._engine.begin() as conn:
            rows = await conn.execute(
                select(_deliveries.c.attempts, *_OUTGOING)
                .join(_notifications, _notifications.c.id == _deliveries.c.notification_id)
                .outerjoin(_users, _users.c.id == _notifications.c.user_id)
                .where(_deliveries.c.due_at <= now)
                .order_by(_deliveries.c.due_at)
                .limit(BATCH)
                .with_for_update(of=_deliveries, skip_locked=True)
            )
            claimed = [
                Claimed(
                    Outgoing(**{column.name: row._mapping[column] for column in _OUTGOING}),
                    row.attempts,
                )
                for row in rows
            ]
            if claimed:
                await conn.execute(
                    update(_deliveries)
                    .where(_deliveries.c.notification_id.in_([c.outgoing.id for c in claimed]))
                    .values(due_at=now + self._lease)
                )
        return claimed

    async def _attempt(self, claimed: Claimed) -> str | None:
        """Send one; the error it failed with, or None once delivered."""
        try:
            async with self._sends, asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await self._channel.send(claimed.outgoing)
        except Exception as error:
            described = f"{type(error).__name__}: {error}"
            logger.warning(
                "notification %s not delivered (attempt %d): %s",
                claimed.outgoing.id,
                claimed.attempts + 1,
                described,
            )
            return described
        return None

    async def _settle(self, claimed: Sequence[Claimed], failures: Sequence[str | None]) -> None:
        now = self._clock.now()
        delivered = [c.outgoing.id for c, error in zip(claimed, failures, strict=True) if not error]
        retries = [
            {
                "id": c.outgoing.id,
                "attempts": c.attempts + 1,
                "due": now + retry_delay(self._retry_seconds, c.attempts + 1),
                "error": error,
            }
            for c, error in zip(claimed, failures, strict=True)
            if error
        ]
        async with self._engine.begin() as conn:
            if delivered:
                await conn.execute(
                    delete(_deliveries).where(_deliveries.c.notification_id.in_(delivered))
                )
            if retries:
                await conn.execute(
                    update(_deliveries)
                    .where(_deliveries.c.notification_id == bindparam("id"))
                    .values(
                        attempts=bindparam("attempts"),
                        due_at=bindparam("due"),
                        last_error=bindparam("error"),
                    ),
                    retries,
                )
