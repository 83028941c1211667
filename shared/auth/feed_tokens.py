"""The secret of a user's calendar feed URL, derived rather than stored.

A feed token is the user's id and a MAC of (user id, generation) under a key derived from
the signing secret. The database keeps only each user's generation (`calendar_feeds`);
rotating raises it, so every earlier token stops verifying at once, and nothing stored
there would let anyone read a feed. Changing the signing secret rotates every feed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

_MAC_BYTES = 16
_KEY_PURPOSE = b"eventboard calendar feed"


@dataclass(frozen=True)
class FeedTokens:
    key: bytes

    @classmethod
    def of(cls, secret_key: str) -> FeedTokens:
        # A key of its own: a feed token can never pass for anything else signed here.
        return cls(hmac.digest(secret_key.encode(), _KEY_PURPOSE, hashlib.sha256))

    def token(self, user_id: UUID, generation: int) -> str:
        raw = user_id.bytes + self._mac(user_id, generation)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def claimed_user(self, token: str) -> tuple[UUID, bytes] | None:
        """The user a token names and its MAC, unverified; None if it is malformed."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != 16 + _MAC_BYTES:
            return None
        return UUID(bytes=raw[:16]), raw[16:]

    def verifies(self, user_id: UUID, mac: bytes, generation: int) -> bool:
        return hmac.compare_digest(mac, self._mac(user_id, generation))

    def _mac(self, user_id: UUID, generation: int) -> bytes:
        message = user_id.bytes + generation.to_bytes(8, "big")
        return hmac.digest(self.key, message, hashlib.sha256)[:_MAC_BYTES]
