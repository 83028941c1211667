"""What each `board` sub-command does.

Each command imports only what its own process needs, so `board relay run` never
loads the web stack and `board serve` never loads faust.
"""

from __future__ import annotations

import asyncio
import logging
from argparse import Namespace
from typing import Any

from rich.console import Console

from board.environment import replace_settings
from shared.settings import Section, Settings

logger = logging.getLogger(__name__)


def _with_address(settings: Settings, args: Namespace) -> Settings:
    changes: dict[str, Any] = {
        name: value for name in ("host", "port") if (value := getattr(args, name)) is not None
    }
    return replace_settings(settings, **changes) if changes else settings


def up(settings: Settings, args: Namespace) -> int:
    from board.secret import with_secret
    from board.up import run_up

    ready = with_secret(_with_address(settings, args)).check_for(Section.TOKENS, Section.DELIVERY)
    return run_up(ready, workers=args.workers)


def setup(settings: Settings, args: Namespace) -> int:
    from board.setup import set_up

    set_up(settings)
    return 0


def serve(settings: Settings, args: Namespace) -> int:
    from board.secret import with_secret
    from gateway.main import serve as serve_gateway

    serve_gateway(with_secret(_with_address(settings, args)), args.forwarded_allow_ips)
    return 0


def relay_run(settings: Settings, args: Namespace) -> int:
    from outbox_relay.main import run_relay

    run_relay(settings)
    return 0


def relay_republish(settings: Settings, args: Namespace) -> int:
    from outbox_relay.republish import republish

    count = republish(settings, from_position=args.from_position)
    logger.info("republished %d integration events from position %d", count, args.from_position)
    return 0


def projections_run(settings: Settings, args: Namespace) -> int:
    from projections.read_models.main import run_worker

    run_worker(settings)
    return 0


def notifier_run(settings: Settings, args: Namespace) -> int:
    from projections.notifier.main import run_notifier

    run_notifier(settings)
    return 0


def projections_replay(settings: Settings, args: Namespace) -> int:
    from projections.read_models.replay import replay

    count = replay(settings, progress=not args.no_progress)
    logger.info("replayed %d events into fresh read models", count)
    return 0


def projections_status(settings: Settings, args: Namespace) -> int:
    from board.projection_status import render_status
    from shared.read_model.projection_status import read_status

    render_status(read_status(settings.database_url), Console())
    return 0


def projections_retry_parked(settings: Settings, args: Namespace) -> int:
    from projections.parked import UnknownProjection, retry_parked

    try:
        retried = asyncio.run(retry_parked(settings, args.projection))
    except UnknownProjection:
        logger.error("no projection is named %r", args.projection)
        return 2
    logger.info(
        "%s: %d parked messages applied, %d parked again",
        args.projection,
        retried.applied,
        retried.parked_again,
    )
    return 1 if retried.parked_again else 0


def createsuperuser(settings: Settings, args: Namespace) -> int:
    from board.superuser import create_superuser

    return create_superuser(
        settings, username=args.username, email=args.email, password=args.password
    )


def demo(settings: Settings, args: Namespace) -> int:
    from board.demo import fill_with_progress

    fill_with_progress(settings, events=args.events, bookings=args.bookings, ratings=args.ratings)
    return 0
