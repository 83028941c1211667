"""A faust transport whose consumer's fetch wait is a setting.

faust-streaming 0.15.3 builds its aiokafka consumer with `fetch_max_wait_ms=1500`.
The embedded broker (Tansu) sits out much of that wait even when data arrives, so an
unmodified worker lags by about half a second. This transport is the stock aiokafka
one with the wait taken from the app; it is registered under `SCHEME` in faust's
transport registry.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "board-kafka"


class TunedApp(faust.App):
    """A faust app that carries the consumer fetch wait for `Transport`."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **options: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(*args, **options)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        if not hasattr(consumer, "_fetch_max_wait_ms"):
            raise RuntimeError("this aiokafka keeps its fetch wait elsewhere; update the transport")
        # Read by the consumer's fetcher when it starts, which happens after this returns.
        consumer._fetch_max_wait_ms = self._fetch_max_wait_ms()
        return consumer

    def _fetch_max_wait_ms(self) -> int:
        app = self.app
        if not isinstance(app, TunedApp):
            raise TypeError(f"the {SCHEME} transport needs a TunedApp, not {type(app).__name__}")
        return app.fetch_max_wait_ms


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


def register_transport() -> None:
    """Make `SCHEME://host:port` broker URLs resolve to `Transport`."""
    drivers.TRANSPORTS[SCHEME] = f"{__name__}:Transport"
