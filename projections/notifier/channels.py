"""Where delivered notifications go: a log line by default, e-mail over SMTP when configured."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol
from urllib.parse import unquote, urlsplit
from uuid import UUID

import aiosmtplib

from shared.notifications import TYPE_DISPLAY, NotificationType
from shared.settings import Settings

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 10.0
_SMTP_PORTS = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True)
class Outgoing:
    """A notification on its way, with its recipient's address as far as the notifier knows:
    `email` is None while the user is unknown to it, "" when they gave none."""

    id: UUID
    user_id: UUID
    type: NotificationType
    event_id: UUID
    message: str
    created_at: datetime
    email: str | None


class DeliveryFailed(Exception):
    """Not delivered this time; delivery tries again later."""


class Channel(Protocol):
    async def send(self, notification: Outgoing) -> None:
        """Deliver, or raise (any exception) to have it tried again later."""


class LogChannel:
    """One structured log line per notification."""

    async def send(self, notification: Outgoing) -> None:
        logger.info(
            "notification id=%s user=%s type=%s event=%s message=%r",
            notification.id,
            notification.user_id,
            notification.type,
            notification.event_id,
            notification.message,
        )


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """`smtp://[user:password@]host[:port]`, or `smtps://` for TLS from the start."""
        parts = urlsplit(url)
        if parts.scheme not in _SMTP_PORTS or not parts.hostname:
            raise ValueError("BOARD_SMTP_URL must look like smtp://user:password@host:port")
        return cls(
            hostname=parts.hostname,
            port=parts.port or _SMTP_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps",
        )


class SmtpChannel:
    """E-mail to the recipient's address; the notification id is the Message-ID."""

    def __init__(self, server: SmtpServer, sender: str) -> None:
        self._server = server
        self._sender = sender
        self._domain = parseaddr(sender)[1].rpartition("@")[2] or "eventboard.local"

    async def send(self, notification: Outgoing) -> None:
        if notification.email is None:
            raise DeliveryFailed(f"no address of user {notification.user_id} yet")
        if not notification.email:
            logger.info(
                "notification %s: user %s has no e-mail", notification.id, notification.user_id
            )
            return
        message = self.message(notification)
        await aiosmtplib.send(
            message,
            # One recipient, as the header names it: not what a parser reads into the address.
            recipients=[_recipient(notification.email).addr_spec],
            hostname=self._server.hostname,
            port=self._server.port,
            username=self._server.username,
            password=self._server.password,
            use_tls=self._server.use_tls,
            timeout=SMTP_TIMEOUT_SECONDS,
        )

    def message(self, notification: Outgoing) -> EmailMessage:
        assert notification.email
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = _recipient(notification.email)
        message["Subject"] = f"Афиша мероприятий: {TYPE_DISPLAY[notification.type]}"
        # A receiver drops a repeat of an at-least-once delivery by this.
        message["Message-ID"] = f"<{notification.id}@{self._domain}>"
        message["Date"] = format_datetime(notification.created_at)
        message.set_content(notification.message)
        return message


def channel_for(settings: Settings) -> Channel:
    if settings.smtp_url:
        return SmtpChannel(SmtpServer.from_url(settings.smtp_url), settings.smtp_sender)
    return LogChannel()


def _recipient(email: str) -> Address:
    """The address as one recipient: a local part with separators in it (stored before the
    rules refused them) is quoted, never split into two addresses."""
    local, _, domain = email.rpartition("@")
    return Address(username=local, domain=domain)
