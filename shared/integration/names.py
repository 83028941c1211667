"""Names that cross processes: streams, projections, HTTP headers and database channels.

Each is spelled once, here; a process that publishes, consumes, waits for or answers with
one of them takes it from this module.
"""

from __future__ import annotations

# Logical streams of integration events; each is published to the topic `<prefix>.<stream>`.
EVENTS_STREAM = "events"
USERS_STREAM = "users"

# Projections, by the name their watermark and parked messages are kept under.
EVENTS_PROJECTION = "events"
USERS_PROJECTION = "users"
# The notifier's own view of events (the notification endpoints wait for it) and of users.
NOTIFIER_PROJECTION = "notifier"
NOTIFIER_USERS_PROJECTION = "notifier_users"
# What the read API reads; `/readyz` watches their lag.
READ_PROJECTIONS = (EVENTS_PROJECTION, USERS_PROJECTION, NOTIFIER_PROJECTION)

# A write answers with the position of its last domain event; a read waits for one.
POSITION_HEADER = "X-Event-Position"
MIN_POSITION_HEADER = "X-Min-Position"
# Positions are PostgreSQL `bigint`s: a larger one names no event that can ever exist.
MAX_POSITION = 2**63 - 1


def header_position(value: str) -> int | None:
    """The position a header's plain ASCII digits name, or None for anything else.

    Read without `int` on text of any length: Python refuses to convert more than 4 300
    digits (an error, not a number), and a position past `MAX_POSITION` is no position.
    """
    digits = value.lstrip("0")
    if not (value.isascii() and value.isdigit()) or len(digits) > len(str(MAX_POSITION)):
        return None
    position = int(digits or "0")
    return position if position <= MAX_POSITION else None


# PostgreSQL channels: a commit that wrote outbox rows wakes the relay; the relay's
# acknowledged batch wakes the consumers (payload: a `PublishedNotice`); a consumer that
# lacks messages the broker lost asks the relay to send them again; a watermark that moved
# wakes waiting readers (payload `<projection>:<position>`).
OUTBOX_CHANNEL = "eventboard_outbox"
PUBLISHED_CHANNEL = "eventboard_published"
RESEND_CHANNEL = "eventboard_resend"
WATERMARK_CHANNEL = "eventboard_watermark"
# A user's rights changed (payload: the user id): the APIs forget what they cached.
ACCESS_CHANNEL = "eventboard_access"
# Notifications became visible (payload: the recipient's id): their open streams read them.
# Spelled again in the read side's migration 0009, whose trigger notifies it.
NOTIFICATIONS_CHANNEL = "eventboard_notifications"
# The Kafka record header that carries a message's position, readable even when its value
# is not.
POSITION_KAFKA_HEADER = "position"
