"""Calendar feeds and the live notification stream.

- `events.calendar_sequence`: how often an event's fields or status changed, the `SEQUENCE`
  of its calendar entry (rows projected before this migration start at 0; a replay counts
  them from the history).
- `calendar_feeds`: the generation of each user's secret feed URL, which the command API
  raises to rotate it (a user without a row is at generation 0).
- `notifications.seq`: the order in which notifications became visible, the cursor of the
  stream. A deferred trigger numbers a transaction's notifications at its commit, under a
  transaction lock, and notifies `eventboard_notifications` with each recipient, so a
  higher number is never seen before a lower one, whichever code inserted them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = "read_model"
# The transaction lock that orders the numbering (`pg_advisory_xact_lock`): "ntfseq".
SEQUENCE_LOCK_KEY = 0x6E74_6673_6571

_NUMBER_AT_COMMIT = f"""
CREATE FUNCTION {SCHEMA}.number_notification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Numbers are taken under a lock held until this transaction's commit is visible, so
    -- a reader that sees number n has every number below n that will ever be visible.
    PERFORM pg_advisory_xact_lock({SEQUENCE_LOCK_KEY});
    UPDATE {SCHEMA}.notifications SET seq = nextval('{SCHEMA}.notification_seq')
    WHERE id = NEW.id;
    PERFORM pg_notify('eventboard_notifications', NEW.user_id::text);
    RETURN NULL;
END
$$
"""

_TRIGGER = f"""
CREATE CONSTRAINT TRIGGER number_notification AFTER INSERT ON {SCHEMA}.notifications
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.number_notification()
"""


def upgrade() -> None:
    op.add_column(
        "events",
        sa.Column("calendar_sequence", sa.Integer(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        schema=SCHEMA,
    )
    op.execute(f"CREATE SEQUENCE {SCHEMA}.notification_seq")
    op.add_column("notifications", sa.Column("seq", sa.BigInteger(), nullable=True), schema=SCHEMA)
    op.execute(
        f"UPDATE {SCHEMA}.notifications n SET seq = numbered.seq"
        f" FROM (SELECT id, nextval('{SCHEMA}.notification_seq') AS seq FROM"
        f" (SELECT id FROM {SCHEMA}.notifications ORDER BY created_at, id) o) numbered"
        " WHERE n.id = numbered.id"
    )
    op.create_index("notifications_user_seq", "notifications", ["user_id", "seq"], schema=SCHEMA)
    op.execute(_NUMBER_AT_COMMIT)
    op.execute(_TRIGGER)


def downgrade() -> None:
    op.execute(f"DROP TRIGGER number_notification ON {SCHEMA}.notifications")
    op.execute(f"DROP FUNCTION {SCHEMA}.number_notification()")
    op.drop_index("notifications_user_seq", "notifications", schema=SCHEMA)
    op.drop_column("notifications", "seq", schema=SCHEMA)
    op.execute(f"DROP SEQUENCE {SCHEMA}.notification_seq")
    op.drop_table("calendar_feeds", schema=SCHEMA)
    op.drop_column("events", "calendar_sequence", schema=SCHEMA)
