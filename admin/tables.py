"""The read-model tables mapped as ORM classes, which the admin library lists.

Mapped onto the very `Table` objects the projections write, so a column added there shows
here; the admin only ever reads them (its engine opens read-only transactions). The class
names make the admin's paths: `/admin/events/list`, `/admin/users/details/<id>`.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.read_model import schema


class ReadModel(DeclarativeBase):
    pass


class Events(ReadModel):
    __table__ = schema.events


class Users(ReadModel):
    __table__ = schema.users


class Bookings(ReadModel):
    __table__ = schema.bookings


class Ratings(ReadModel):
    __table__ = schema.ratings


class Tags(ReadModel):
    __table__ = schema.tags


class Notifications(ReadModel):
    __table__ = schema.notifications
