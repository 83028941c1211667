"""Serving the gateway: one uvicorn server on the configured host and port."""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn

from gateway.app import create_app
from shared.settings import Section, Settings

GRACEFUL_SHUTDOWN_SECONDS = 10
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _already_handled(_signal: int, _frame: FrameType | None) -> None:
    """uvicorn has shut down gracefully by the time it re-raises the signal that stopped it."""


def serve(settings: Settings, forwarded_allow_ips: str | None = None) -> None:
    """Serve until SIGINT or SIGTERM, finish the requests in flight, then return.

    `forwarded_allow_ips`: the proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` name
    the real client (Compose's nginx), so login throttling counts clients, not the proxy.
    """
    settings.check_for(Section.TOKENS)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=settings.access_log,
        # Facing the clients, an X-Forwarded-For they send names no one: trusted only from
        # the proxies named.
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        # Logging is configured by the process that calls us (the `board` CLI).
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    # uvicorn installs its own handlers while it runs and restores these afterwards.
    previous = {sig: signal.signal(sig, _already_handled) for sig in _STOP_SIGNALS}
    try:
        uvicorn.Server(config).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
