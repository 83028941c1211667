"""A stream's inbox: what the hub offers it, once each, and a client that falls behind."""

from __future__ import annotations

from query_api.notification_stream import INBOX_LIMIT, Inbox


def test_an_inbox_takes_only_what_comes_after_its_cursor_once() -> None:
    inbox = Inbox(cursor=5)

    for seq in (4, 5, 6, 6, 7):
        inbox.offer(seq, b"%d" % seq)

    assert list(inbox.pending) == [b"6", b"7"]
    assert inbox.cursor == 7
    assert inbox.woken.is_set()


def test_an_inbox_a_client_does_not_empty_overflows_instead_of_growing() -> None:
    inbox = Inbox(cursor=0)

    for seq in range(1, INBOX_LIMIT + 10):
        inbox.offer(seq, b"x")

    assert inbox.overflowed
    assert len(inbox.pending) == INBOX_LIMIT
