"""Prometheus metrics of the gateway: requests and latency per route template."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from time import perf_counter

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.application.commits import Committer

UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One registry per app, so several gateways in one process (tests) do not collide."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self._requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            registry=self.registry,
            buckets=_BUCKETS,
        )

    def watch_commits(self, committer: Callable[[], Committer | None]) -> None:
        """Report the write side's group commits (the committer exists once the app started)."""
        self.registry.register(_CommitCollector(committer))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def observe(
        self, app: ASGIApp, route: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = perf_counter()
        try:
            await app(scope, receive, recording_send)
        finally:
            self._latency.labels(method, route).observe(perf_counter() - started)
            self._requests.labels(method, route, str(status)).inc()


class _CommitCollector:
    def __init__(self, committer: Callable[[], Committer | None]) -> None:
        self._committer = committer

    def collect(self) -> Iterator[Metric]:
        committer = self._committer()
        if committer is None:
            return
        stats = committer.stats
        yield CounterMetricFamily(
            "board_commands", "Commands the write side answered.", value=stats.commands
        )
        yield CounterMetricFamily(
            "board_commit_groups", "Groups of commands saved together.", value=stats.groups
        )
        yield CounterMetricFamily(
            "board_conflict_retries",
            "Groups run again because another writer changed their aggregates.",
            value=stats.conflict_retries,
        )
        yield CounterMetricFamily(
            "board_retried_commands",
            "Commands run again in those groups.",
            value=stats.retried_commands,
        )
        yield GaugeMetricFamily(
            "board_commands_waiting", "Commands queued for the next group.", value=committer.waiting
        )
