"""Choosing and configuring a delivery channel, and the pauses between attempts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from projections.notifier.channels import (
    DeliveryFailed,
    LogChannel,
    Outgoing,
    SmtpChannel,
    SmtpServer,
    channel_for,
)
from projections.notifier.delivery import MAX_RETRY_SECONDS, retry_delay
from shared.settings import Settings


def outgoing(email: str | None) -> Outgoing:
    return Outgoing(
        id=uuid4(),
        user_id=uuid4(),
        type="reminder",
        event_id=uuid4(),
        message="Напоминаем: скоро начнётся событие.",
        created_at=datetime(2026, 12, 1, 17, 0, tzinfo=UTC),
        email=email,
    )


def test_without_an_smtp_url_notifications_are_log_lines() -> None:
    assert isinstance(channel_for(Settings()), LogChannel)
    assert isinstance(channel_for(Settings(smtp_url="smtp://mail:2525")), SmtpChannel)


def test_the_smtp_url_gives_server_port_credentials_and_tls() -> None:
    assert SmtpServer.from_url("smtps://bot%40board:p%3Ass@mail.example.com") == SmtpServer(
        hostname="mail.example.com",
        port=465,
        username="bot@board",
        password="p:ss",
        use_tls=True,
    )
    assert SmtpServer.from_url("smtp://mail:2525") == SmtpServer("mail", 2525, None, None, False)


@pytest.mark.parametrize("url", ["http://mail:25", "smtp://", "mail.example.com"])
def test_an_smtp_url_of_another_kind_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="BOARD_SMTP_URL"):
        SmtpServer.from_url(url)


async def test_the_log_channel_writes_one_line_naming_the_notification(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notification = outgoing(None)

    with caplog.at_level(logging.INFO, logger="projections.notifier.channels"):
        await LogChannel().send(notification)

    [line] = caplog.messages
    assert f"id={notification.id}" in line
    assert f"user={notification.user_id}" in line
    assert "type=reminder" in line
    assert notification.message in line


async def test_an_email_waits_while_the_address_is_unknown_and_is_skipped_when_there_is_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = SmtpChannel(SmtpServer("127.0.0.1", 1, None, None, False), "board@board.test")

    with pytest.raises(DeliveryFailed):
        await channel.send(outgoing(None))
    with caplog.at_level(logging.INFO, logger="projections.notifier.channels"):
        await channel.send(outgoing(""))

    assert "has no e-mail" in caplog.text


def test_the_pause_before_a_retry_doubles_up_to_a_ceiling() -> None:
    pauses = [retry_delay(1.0, failures) for failures in range(1, 5)]

    assert pauses == [timedelta(seconds=s) for s in (1, 2, 4, 8)]
    assert retry_delay(1.0, 40) == retry_delay(1.0, 5000) == timedelta(seconds=MAX_RETRY_SECONDS)
