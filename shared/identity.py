"""Who is calling: what the APIs hand to the application once a token is verified."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Caller:
    id: UUID
    username: str
    is_staff: bool = False
