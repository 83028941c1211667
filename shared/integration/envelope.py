"""An integration event as it travels: encoded by the outbox, decoded by every consumer.

Decoding is on every consumer's hot path, so the message is parsed straight into a
`msgspec` struct (UUIDs and times included) instead of a dict walked in Python.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

SCHEMA_VERSION = 1


def format_datetime(moment: datetime) -> str:
    """UTC with a `Z`, as the API returns it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def encode_message(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


class Envelope(msgspec.Struct, frozen=True):
    """A message with its bookkeeping parsed: type, aggregate, version, position, time."""

    id: UUID
    type: str
    aggregate_type: str
    aggregate_id: UUID
    version: int
    position: int
    occurred_at: datetime
    data: dict[str, Any]
    schema: int = SCHEMA_VERSION

    @classmethod
    def of(cls, message: Mapping[str, Any]) -> Envelope:
        return msgspec.convert(message, cls, strict=False)

    @classmethod
    def decode(cls, payload: bytes) -> Envelope:
        return _DECODER.decode(payload)

    def encode(self) -> bytes:
        return msgspec.json.encode(self)

    def uuid(self, name: str) -> UUID:
        """The UUID in the payload's field `name`."""
        return as_uuid(self.data[name])


def as_uuid(text: str) -> UUID:
    """A UUID from its text, parsed in C: `UUID(text)` cost a projector a sixth of its
    time folding bookings (three times as long per id)."""
    return msgspec.convert(text, UUID)


_DECODER = msgspec.json.Decoder(Envelope)
