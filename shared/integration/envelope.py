"""An integration event as it travels: encoded by the outbox, decoded by every consumer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

SCHEMA_VERSION = 1


def format_datetime(moment: datetime) -> str:
    """UTC with a `Z`, as the API returns it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def encode_message(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Envelope:
    """A message with its bookkeeping parsed: type, aggregate, version, position, time."""

    message: Mapping[str, Any]
    type: str
    aggregate_id: UUID
    version: int
    position: int
    occurred_at: datetime

    @classmethod
    def of(cls, message: Mapping[str, Any]) -> Envelope:
        return cls(
            message=message,
            type=message["type"],
            aggregate_id=UUID(message["aggregate_id"]),
            version=int(message["version"]),
            position=int(message["position"]),
            occurred_at=datetime.fromisoformat(message["occurred_at"]),
        )

    @classmethod
    def decode(cls, payload: bytes) -> Envelope:
        return cls.of(json.loads(payload))

    @property
    def id(self) -> UUID:
        """The id of the domain event it carries."""
        return UUID(self.message["id"])

    @property
    def data(self) -> Mapping[str, Any]:
        data: Mapping[str, Any] = self.message["data"]
        return data

    def encode(self) -> bytes:
        return encode_message(self.message)
