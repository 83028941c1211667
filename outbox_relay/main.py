"""The relay process's composition root."""

from __future__ import annotations

import signal
from types import FrameType

from outbox_relay.relay import OutboxRelay
from shared.settings import Settings

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_relay(settings: Settings) -> None:
    """Run the relay in this (main) thread until SIGTERM or SIGINT."""
    relay = OutboxRelay(settings)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        relay.stop()

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        relay.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
