"""Delivering notifications: by e-mail to a real SMTP server, again later when it fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import default
from email.utils import getaddresses
from typing import Any
from uuid import uuid4

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from board.embedded import free_port
from projections.notifier.channels import Outgoing, SmtpChannel, SmtpServer
from shared.identity import Caller
from shared.notifications import BOOKING
from shared.read_model.schema import notification_deliveries
from tests.integration.notifier_world import LEASE_SECONDS, NotifierWorld
from tests.integration.outbox_feed import OutboxFeed

pytestmark = pytest.mark.integration

SENDER = "Event Board <noreply@board.test>"
NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


class Mailbox:
    """What a local SMTP server received: (recipients, message) per e-mail."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=default))
        )
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, Mailbox]]:
    # aiosmtpd logs each session's end at INFO from its own thread, at times after pytest
    # has closed the stream it captured the test's logs to ("--- Logging error ---").
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield f"smtp://127.0.0.1:{controller.port}", mailbox
    controller.stop()


def registered_and_booked(world: NotifierWorld, username: str) -> None:
    """A user registered with the address `<username>@example.com`, booked on a new event."""
    user = world.board.register_user(
        username=username, email=f"{username}@example.com", password="s3cret-pw"
    ).aggregate
    world.book(world.schedule(starts_in=timedelta(days=2)), Caller(user.id, username))


async def pending(world: NotifierWorld) -> list[dict[str, Any]]:
    async with world.engine.connect() as conn:
        rows = await conn.execute(select(notification_deliveries))
        return [dict(row._mapping) for row in rows]


async def test_an_email_reaches_the_recipient_with_the_text_and_the_notification_id(
    world: NotifierWorld, smtp_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = smtp_server
    registered_and_booked(world, "anna")
    await world.feed.step()
    deliveries = world.deliveries(SmtpChannel(SmtpServer.from_url(url), SENDER))

    await deliveries.deliver_due()

    [booking] = await world.notifications()
    [(recipients, email)] = mailbox.received
    assert recipients == ["anna@example.com"]
    assert email["To"] == "anna@example.com"
    assert email["From"] == SENDER
    assert email["Subject"] == "Афиша мероприятий: Забронировано"
    assert email["Message-ID"] == f"<{booking['id']}@board.test>"
    body = email.get_body()
    assert body is not None
    assert body.get_content().strip() == booking["message"]
    assert await pending(world) == []


async def test_an_address_with_a_comma_stored_before_the_rules_reaches_one_recipient(
    smtp_server: tuple[str, Mailbox],
) -> None:
    url, mailbox = smtp_server
    channel = SmtpChannel(SmtpServer.from_url(url), SENDER)
    notification = Outgoing(uuid4(), uuid4(), BOOKING, uuid4(), "Текст", NOW, "a,b@example.com")

    await channel.send(notification)

    [(recipients, email)] = mailbox.received
    assert recipients == ['"a,b"@example.com']
    assert getaddresses(email.get_all("To", [])) == [("", '"a,b"@example.com')]


async def test_an_email_to_a_user_the_notifier_has_not_seen_yet_goes_out_once_it_has(
    world: NotifierWorld, smtp_server: tuple[str, Mailbox]
) -> None:
    url, mailbox = smtp_server
    registered_and_booked(world, "boris")
    notifier, users = world.projectors
    await OutboxFeed(world.engine, [notifier]).step()
    deliveries = world.deliveries(SmtpChannel(SmtpServer.from_url(url), SENDER))

    await deliveries.deliver_due()
    [waiting] = await pending(world)
    await OutboxFeed(world.engine, [users]).step()
    world.clock.advance(1)
    await deliveries.deliver_due()

    assert waiting["attempts"] == 1
    assert [recipients for recipients, _ in mailbox.received] == [["boris@example.com"]]
    assert await pending(world) == []


async def test_a_failing_delivery_is_retried_later_and_later_while_the_others_go_out(
    world: NotifierWorld,
) -> None:
    anna, boris, vera = (Caller(uuid4(), name) for name in ("anna", "boris", "vera"))
    event_id = world.schedule(starts_in=timedelta(days=2))
    world.book(event_id, anna, boris, vera)
    await world.feed.step()
    world.channel.failing.add(boris.id)
    deliveries = world.deliveries()

    await deliveries.deliver_due()
    delivered_first = {sent.user_id for sent in world.channel.sent}
    pauses = []
    for _ in range(3):
        [retry] = await pending(world)
        pauses.append((retry["due_at"] - world.clock.now()).total_seconds())
        world.clock.set(retry["due_at"] - timedelta(milliseconds=1))
        assert await deliveries.deliver_due() == 0
        world.clock.set(retry["due_at"])
        await deliveries.deliver_due()
    world.channel.failing.clear()
    [retry] = await pending(world)
    world.clock.set(retry["due_at"])
    await deliveries.deliver_due()

    assert delivered_first == {anna.id, vera.id}
    assert pauses == [1.0, 2.0, 4.0]
    assert retry["attempts"] == 4
    assert "ConnectionError: the mail server hung up" in retry["last_error"]
    assert [sent.user_id for sent in world.channel.sent][-1] == boris.id
    assert await pending(world) == []


async def test_a_batch_being_sent_is_not_claimed_again_however_slow_its_sends(
    world: NotifierWorld,
) -> None:
    anna = Caller(uuid4(), "anna")
    world.book(world.schedule(starts_in=timedelta(days=2)), anna)
    await world.feed.step()
    sending = asyncio.Event()
    release = asyncio.Event()

    class Stuck:
        async def send(self, notification: Outgoing) -> None:
            sending.set()
            await release.wait()

    lease = 0.3
    slow = asyncio.create_task(world.deliveries(Stuck(), lease_seconds=lease).deliver_due())
    await sending.wait()
    # Twice the lease passes on the clock, a renewal between the two halves.
    world.clock.advance(0.9 * lease)
    await asyncio.sleep(lease)
    world.clock.advance(0.9 * lease)
    claimed_meanwhile = await world.deliveries(lease_seconds=lease).deliver_due()
    release.set()
    await slow

    assert claimed_meanwhile == 0
    assert world.channel.sent == []


async def test_a_batch_whose_sender_died_is_due_again_after_one_lease(
    world: NotifierWorld,
) -> None:
    anna = Caller(uuid4(), "anna")
    world.book(world.schedule(starts_in=timedelta(days=2)), anna)
    await world.feed.step()
    sending = asyncio.Event()

    class Dying:
        async def send(self, notification: Outgoing) -> None:
            sending.set()
            await asyncio.Event().wait()

    dead = asyncio.create_task(world.deliveries(Dying()).deliver_due())
    await sending.wait()
    dead.cancel()
    world.clock.advance(LEASE_SECONDS - 0.001)
    claimed_early = await world.deliveries().deliver_due()
    world.clock.advance(0.001)
    claimed_after = await world.deliveries().deliver_due()

    assert (claimed_early, claimed_after) == (0, 1)
    assert [sent.user_id for sent in world.channel.sent] == [anna.id]
