"""A faust transport whose consumer fetches only what it knows is there.

faust-streaming 0.15.3 builds its aiokafka consumer with `fetch_max_wait_ms=1500`. The
embedded broker (Tansu) sits out most of a fetch's wait even when data arrives, so the
wait is a setting here (`TunedApp.fetch_max_wait_ms`). And a consumer that keeps asking
an idle broker costs both of them CPU for nothing (measured: an idle stack at 25% of a
core, most of it fetches every 10 ms), so a partition whose messages have all been read is
paused at the consumer; it is resumed when the relay says it sent more there (`wake`,
from `PUBLISHED_CHANNEL`), or by a slow safety round (`wake()` with no offsets). A worker
whose batches fill for a while anyway (the notifier) resumes at most once per
`TunedApp.fetch_interval`: every fetch that finds messages costs the embedded broker a
listing of all the batches the partition holds, and the worker a trip through faust.
faust asks for records at most once a second when none come, so a partition woken with
nothing new for it (the safety round wakes them all) is paused again as soon as a fetch
answered after the wake shows it read to the end, not at faust's next ask: until then
the consumer fetched it over and over (an idle stack's broker at 2–3% of a core).
This is the stock aiokafka transport with those changes, registered under `SCHEME`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import aiokafka
import faust
from aiokafka.structs import TopicPartition
from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "board-kafka"

# The least time between two looks at resumed partitions to pause them again.
MIN_SETTLE_SECONDS = 0.005

# (topic, partition) → the offset after the last message the relay sent there.
Ends = Mapping[tuple[str, int], int]


class TunedApp(faust.App):
    """A faust app that carries the consumer's fetch wait and the least time between two
    resumes of its paused partitions (seconds) for `Transport`."""

    def __init__(
        self, *args: Any, fetch_max_wait_ms: int, fetch_interval: float = 0.0, **options: Any
    ) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_interval = fetch_interval
        super().__init__(*args, **options)


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's aiokafka consumer thread, pausing partitions it has read to their end."""

    _known_ends: dict[TopicPartition, int]
    # Woken partitions waiting for the next resume, when it is due, and its timer.
    _to_resume: set[TopicPartition]
    _next_resume: float
    _resume_timer: asyncio.TimerHandle | None
    # Resumed partitions (→ when, in ms since the epoch, as aiokafka stamps a fetch's
    # answer) not yet paused again, and the timer that looks at them.
    _settling: dict[TopicPartition, float]
    _settle_timer: asyncio.TimerHandle | None

    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        if not hasattr(consumer, "_fetch_max_wait_ms"):
            raise RuntimeError("this aiokafka keeps its fetch wait elsewhere; update the transport")
        # Read by the consumer's fetcher when it starts, which happens after this returns.
        consumer._fetch_max_wait_ms = self._tuned_app().fetch_max_wait_ms
        self._known_ends = {}
        self._to_resume = set()
        self._next_resume = 0.0
        self._resume_timer = None
        self._settling = {}
        self._settle_timer = None
        return consumer

    def _tuned_app(self) -> TunedApp:
        app = self.app
        if not isinstance(app, TunedApp):
            raise TypeError(f"the {SCHEME} transport needs a TunedApp, not {type(app).__name__}")
        return app

    async def _fetch_records(
        self,
        consumer: aiokafka.AIOKafkaConsumer,
        active_partitions: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (faust's own signature, which it calls)
        max_records: int | None = None,
    ) -> Any:
        records = await super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=max_records
        )
        idle = [
            tp
            for tp in consumer.assignment() - consumer.paused()
            if self._read_to_end(consumer, tp)
        ]
        if idle:
            consumer.pause(*idle)
        return records

    def wake(self, ends: Ends | None = None) -> None:
        """Fetch again from the partitions the relay sent past what was read (from any
        thread); with no `ends`, from every paused partition."""
        self.thread_loop.call_soon_threadsafe(self._resume, dict(ends) if ends else None)

    async def read_to_end(self) -> set[tuple[str, int]]:
        """The assigned partitions whose every message the broker holds has been read (run
        through `call_thread`)."""
        consumer = self._consumer
        if consumer is None:
            return set()
        return {
            (tp.topic, tp.partition)
            for tp in consumer.assignment()
            if self._read_to_end(consumer, tp, known=False)
        }

    def _resume(self, ends: dict[tuple[str, int], int] | None) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        paused = consumer.paused()
        if ends is None:
            woken = paused
        else:
            woken = set()
            for (topic, partition), end in ends.items():
                tp = TopicPartition(topic, partition)
                self._known_ends[tp] = end
                if tp in paused and _position(consumer, tp) < end:
                    woken.add(tp)
        if woken:
            self._resume_spaced(woken)

    def _resume_spaced(self, woken: set[TopicPartition]) -> None:
        """Resume `woken` now, or with what else is woken meanwhile once `fetch_interval`
        has passed since the last resume."""
        self._to_resume |= woken
        if self._resume_timer is not None:
            return
        wait = self._next_resume - self.thread_loop.time()
        if wait > 0:
            self._resume_timer = self.thread_loop.call_later(wait, self._resume_now)
        else:
            self._resume_now()

    def _resume_now(self) -> None:
        self._resume_timer = None
        woken, self._to_resume = self._to_resume, set()
        consumer = self._consumer
        if consumer is None:
            return
        # Only what is still assigned and paused: a rebalance may have come in between.
        woken &= consumer.paused()
        if woken:
            consumer.resume(*woken)
            resumed_at = time.time() * 1000
            self._settling.update(dict.fromkeys(woken, resumed_at))
            self._settle_later()
        self._next_resume = self.thread_loop.time() + self._tuned_app().fetch_interval

    def _settle_later(self) -> None:
        if self._settle_timer is None:
            wait = max(self._tuned_app().fetch_max_wait_ms / 1000, MIN_SETTLE_SECONDS)
            self._settle_timer = self.thread_loop.call_later(wait, self._pause_settled)

    def _pause_settled(self) -> None:
        """Pause the resumed partitions a fetch answered since shows read to the end; those
        with messages are paused by `_fetch_records` once faust has taken them."""
        self._settle_timer = None
        consumer = self._consumer
        if consumer is None:
            self._settling.clear()
            return
        paused, assigned = consumer.paused(), consumer.assignment()
        settled = []
        for tp, resumed_at in self._settling.items():
            if tp in paused or tp not in assigned:
                settled.append(tp)
            elif _answered_since(consumer, tp, resumed_at) and self._read_to_end(consumer, tp):
                consumer.pause(tp)
                settled.append(tp)
        for tp in settled:
            del self._settling[tp]
        if self._settling:
            self._settle_later()

    def _read_to_end(
        self, consumer: aiokafka.AIOKafkaConsumer, tp: TopicPartition, known: bool = True
    ) -> bool:
        """Whether `tp` has nothing left to fetch: its position is at the broker's high
        watermark and (with `known`) at the end the relay last said it sent to."""
        position = _position(consumer, tp)
        highwater = consumer.highwater(tp)
        if position < 0 or highwater is None or position < highwater:
            return False
        return not known or position >= self._known_ends.get(tp, 0)


def _state(consumer: aiokafka.AIOKafkaConsumer, tp: TopicPartition) -> Any:
    """aiokafka's state of `tp` at the consumer; None while it has no assignment."""
    assignment = consumer._subscription.subscription
    if assignment is None or assignment.assignment is None:
        return None
    return assignment.assignment.state_value(tp)


def _answered_since(consumer: aiokafka.AIOKafkaConsumer, tp: TopicPartition, since: float) -> bool:
    """Whether a fetch answer for `tp` came at or after `since` (ms since the epoch)."""
    state = _state(consumer, tp)
    return state is not None and state.timestamp is not None and bool(state.timestamp >= since)


def _position(consumer: aiokafka.AIOKafkaConsumer, tp: TopicPartition) -> int:
    """The next offset the consumer reads in `tp`; -1 while it has none yet."""
    state = _state(consumer, tp)
    if state is None or not state.has_valid_position:
        return -1
    position: int = state.position
    return position


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


def register_transport() -> None:
    """Make `SCHEME://host:port` broker URLs resolve to `Transport`."""
    drivers.TRANSPORTS[SCHEME] = f"{__name__}:Transport"


def consumer_thread(app: faust.App) -> ConsumerThread | None:
    """The app's consumer thread once its worker runs (None before)."""
    thread = getattr(app.consumer, "_thread", None)
    return thread if isinstance(thread, ConsumerThread) else None
