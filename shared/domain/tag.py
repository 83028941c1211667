"""The `Tag` aggregate: a name events are labelled with, unique case-insensitively.

Its id derives from the case-folded name, so a second tag of the same name in other
letter case is a second aggregate with an id that already exists: the event store's
uniqueness refuses it, even when two creations race. A tag never changes once created.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


def tag_id_for(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"eventboard:tag:{name.casefold()}")


class Tag(Aggregate):
    INTEGRATION_NAME: ClassVar[str] = "tag"

    class Created(Aggregate.Created):
        name: str
        occurred_at: datetime

    def __init__(self, name: str, occurred_at: datetime) -> None:
        self.name = name

    @classmethod
    def create(cls, *, name: str, now: datetime) -> Tag:
        return cls._create(cls.Created, id=tag_id_for(name), name=name, occurred_at=now)
