"""Tables of the read side (schema `read_model`), described once with SQLAlchemy Core."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import TSVECTOR

from shared.settings import READ_SCHEMA

metadata = MetaData(schema=READ_SCHEMA)

# The `status` of a deleted event's row: kept so redelivered messages cannot bring the event
# back, and never shown.
DELETED_STATUS = "deleted"

# Title, description and tags, stemmed as Russian and as English (the `search` filter asks
# both). Only immutable functions may compute a stored column, hence `tags_text`, not `tags`.
_SEARCHED_TEXT = "title || ' ' || description || ' ' || replace(tags_text, E'\\x1f', ' ')"
SEARCH_VECTOR_SQL = (
    f"to_tsvector('russian'::regconfig, {_SEARCHED_TEXT})"
    f" || to_tsvector('english'::regconfig, {_SEARCHED_TEXT})"
)


def _aggregate_columns() -> list[Column[Any]]:
    """The columns of a row folded from one aggregate's messages (`projections.folding`): the
    aggregate's id, and the aggregate version and global position of the last integration
    event the row reflects. New objects on each call, as a column belongs to one table."""
    return [
        Column("id", Uuid, primary_key=True),
        Column("version", Integer, nullable=False),
        Column("position", BigInteger, nullable=False),
    ]


def _user_columns() -> list[Column[Any]]:
    """What the read model's and the notifier's views of a user both keep."""
    return [
        *_aggregate_columns(),
        Column("username", Text, nullable=False),
        Column("email", Text, nullable=False),
    ]


events = Table(
    "events",
    metadata,
    *_aggregate_columns(),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("timezone", Text, nullable=False),
    Column("location", Text, nullable=False),
    # Case-folded in Python, so matching works for Cyrillic whatever the database locale.
    Column("location_folded", Text, nullable=False),
    Column("seats", Integer, nullable=False),
    Column("booked_count", Integer, nullable=False, server_default="0"),
    Column("status", Text, nullable=False),
    Column("organizer_id", Uuid, nullable=False),
    Column("organizer_username", Text, nullable=False),
    Column("tags", ARRAY(Text), nullable=False, server_default="{}"),
    # Folded forms of the tags for the `tags` (all of) and `tag` (substring) filters.
    Column("tags_folded", postgresql.ARRAY(Text), nullable=False, server_default="{}"),
    Column("tags_text", Text, nullable=False, server_default=""),
    # The default order as one number: upcoming soonest first, then the rest most recent first.
    Column("listing_key", BigInteger, nullable=False, server_default="0"),
    Column("rating_sum", Integer, nullable=False, server_default="0"),
    Column("rating_count", Integer, nullable=False, server_default="0"),
    Column("avg_rating", Numeric(4, 2), nullable=True),
    Column("waitlist_length", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Changes of the fields or the status: the `SEQUENCE` of the event's calendar entry.
    Column("calendar_sequence", Integer, nullable=False, server_default="0"),
    Column("free_seats", Integer, Computed("seats - booked_count", persisted=True)),
    Column("search_vector", TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True)),
    Index("events_start_time_id", "start_time", "id"),
    Index("events_tags_folded", "tags_folded", postgresql_using="gin"),
    Index(
        "events_tags_text",
        "tags_text",
        postgresql_using="gin",
        postgresql_ops={"tags_text": "gin_trgm_ops"},
    ),
    Index("events_search_vector", "search_vector", postgresql_using="gin"),
    Index("events_listing_key", "listing_key"),
    # Counting a filtered listing reads only the index (rows are wide: text, search vector).
    Index("events_avg_rating", "avg_rating", postgresql_include=["status"]),
    Index(
        "events_location_counted", "location_folded", postgresql_include=["free_seats", "status"]
    ),
)

# `ordering=-avg_rating`: rows come out of the index in order, so a page reads ten of them
# instead of sorting every rated event (the ascending order walks `events_avg_rating`).
Index("events_avg_rating_desc", events.c.avg_rating.desc().nulls_last(), events.c.id)

users = Table(
    "users",
    metadata,
    *_user_columns(),
    Column("is_staff", Boolean, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("date_joined", DateTime(timezone=True), nullable=False),
)

# Children of `events`, written by its projection in the row's transaction.
bookings = Table(
    "bookings",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("booking_id", Uuid, nullable=False),
    Column("booked_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("event_id", "user_id"),
    # The active bookings of one user, for `my_upcoming_events`.
    Index("bookings_user_id", "user_id"),
)

# Who waits for a seat of each event; `joined_version` (the event's version when they
# joined) orders the line.
waitlist = Table(
    "waitlist",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("joined_version", Integer, nullable=False),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("event_id", "user_id"),
    Index("waitlist_event_order", "event_id", "joined_version"),
)

ratings = Table(
    "ratings",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("score", Integer, nullable=False),
    Column("rated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("event_id", "user_id"),
)

# How many events have each status, so an unfiltered listing need not count rows.
event_counts = Table(
    "event_counts",
    metadata,
    Column("status", Text, primary_key=True),
    Column("events", Integer, nullable=False),
)

# Every rating of every (not deleted) event of an organizer, for `min_organizer_rating`.
organizer_ratings = Table(
    "organizer_ratings",
    metadata,
    Column("organizer_id", Uuid, primary_key=True),
    Column("rating_sum", Integer, nullable=False),
    Column("rating_count", Integer, nullable=False),
)

# Every tag with the number of events (not deleted) that carry it.
tags = Table(
    "tags",
    metadata,
    Column("name_folded", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("events_count", Integer, nullable=False),
)

# The highest position each projection applied in each partition of its streams, written
# with the rows it applied; `watermarks` follow from them and from the relay's progress.
projection_partitions = Table(
    "projection_partitions",
    metadata,
    Column("projection", Text, nullable=False),
    Column("stream", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
    PrimaryKeyConstraint("projection", "stream", "partition"),
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("projection", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# Messages a projection could not apply, and the later messages of the same aggregate.
parked_messages = Table(
    "parked_messages",
    metadata,
    Column("projection", Text, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("aggregate_id", Uuid, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("error", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("projection", "position"),
    Index("parked_messages_aggregate", "projection", "aggregate_id"),
)

# --- The notifier's own tables: its view of events, participants and users, and what it made. ---

# The events as the notifier needs them: texts, reminder moments and the status sweep.
notifier_events = Table(
    "notifier_events",
    metadata,
    *_aggregate_columns(),
    Column("title", Text, nullable=False),
    Column("location", Text, nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("timezone", Text, nullable=False),
    Column("status", Text, nullable=False),
    # When the start time was last set: a reminder whose moment had passed by then is not sent.
    Column("start_time_set_at", DateTime(timezone=True), nullable=False),
    Index("notifier_events_start_time", "start_time"),
)

# Active bookings, children of `notifier_events`. Each is due for a reminder at its event's
# start time minus the lead, unless `reminded_for` already holds that start time.
notifier_participants = Table(
    "notifier_participants",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("booking_id", Uuid, nullable=False),
    Column("booked_at", DateTime(timezone=True), nullable=False),
    Column("reminded_for", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("event_id", "user_id"),
)

# Notices to every participant of an event, written with the event's row and expanded into
# notifications in the same transaction: empty outside one.
notifier_fanouts = Table(
    "notifier_fanouts",
    metadata,
    Column("cause_id", Uuid, primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("type", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Where to send a user's e-mail.
notifier_users = Table(
    "notifier_users",
    metadata,
    *_user_columns(),
)

# Every notification, created once: `key` is (cause, recipient, type), or for a reminder
# (booking, start time); `id` derives from it.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("key", Text, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("type", Text, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The order notifications became visible in (the stream's cursor): numbered at the
    # commit of the transaction that inserts them, by a trigger (migration 0009).
    Column("seq", BigInteger, nullable=True),
    UniqueConstraint("key", name="notifications_key"),
    Index("notifications_user_newest", "user_id", "created_at", "id"),
    Index("notifications_user_seq", "user_id", "seq"),
)

# Read marks: the users' own state, written by the command API, never by a projection.
notification_reads = Table(
    "notification_reads",
    metadata,
    Column("notification_id", Uuid, primary_key=True),
    Column("read_at", DateTime(timezone=True), nullable=False),
)

# The generation of each user's secret calendar feed URL, raised by the command API to
# rotate it: the users' own state, like read marks. No row: generation 0.
calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("generation", Integer, nullable=False),
)

# Notifications not delivered yet, each due for its next attempt at `due_at`.
notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("notification_id", Uuid, primary_key=True),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Index("notification_deliveries_due_at", "due_at"),
)
