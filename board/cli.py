"""The `board` command line: one entry point for every process and operation."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from board import commands
from board.logs import configure_logging
from shared.settings import Settings, SettingsError

Command = Callable[[Settings, argparse.Namespace], int]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _add_address_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default: BOARD_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: BOARD_PORT or 8000)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="board", description="Event Board: run the processes and operate the stores."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="run the whole backend here (embedded PostgreSQL and broker unless configured)",
    )
    _add_address_options(up)
    up.add_argument(
        "--workers", type=_positive_int, default=1, help="projection worker processes (default 1)"
    )
    up.set_defaults(command_fn=commands.up)

    sub.add_parser("setup", help="create schemas, tables and topics, then exit").set_defaults(
        command_fn=commands.setup
    )

    serve = sub.add_parser("serve", help="serve the command and query APIs from one process")
    _add_address_options(serve)
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="proxies trusted to name the client in X-Forwarded-For (comma list; default none)",
    )
    serve.set_defaults(command_fn=commands.serve)

    relay = sub.add_parser("relay", help="the outbox relay").add_subparsers(
        dest="relay_command", required=True, metavar="COMMAND"
    )
    relay.add_parser("run", help="move outbox rows to the broker").set_defaults(
        command_fn=commands.relay_run
    )
    republish = relay.add_parser(
        "republish", help="send integration events again from the event store"
    )
    republish.add_argument(
        "--from", dest="from_position", type=int, required=True, metavar="N", help="first position"
    )
    republish.set_defaults(command_fn=commands.relay_republish)

    projections = sub.add_parser("projections", help="the read-model projections").add_subparsers(
        dest="projections_command", required=True, metavar="COMMAND"
    )
    projections.add_parser("run", help="run a projection worker").set_defaults(
        command_fn=commands.projections_run
    )
    replay = projections.add_parser(
        "replay", help="rebuild the read models from the event store and swap them in"
    )
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")
    replay.set_defaults(command_fn=commands.projections_replay)
    projections.add_parser(
        "status", help="watermark, lag and parked messages of each projection"
    ).set_defaults(command_fn=commands.projections_status)
    retry = projections.add_parser(
        "retry-parked",
        help="apply a projection's parked messages again (once what parked them is fixed)",
    )
    retry.add_argument("projection", help="the projection's name, as `status` lists it")
    retry.set_defaults(command_fn=commands.projections_retry_parked)

    notifier = sub.add_parser(
        "notifier", help="notifications, reminders and the status sweep"
    ).add_subparsers(dest="notifier_command", required=True, metavar="COMMAND")
    notifier.add_parser("run", help="run a notifier worker").set_defaults(
        command_fn=commands.notifier_run
    )

    demo = sub.add_parser(
        "demo", help="fill the board with generated events, bookings and ratings (bulk path)"
    )
    demo.add_argument("--events", type=int, default=100_000, help="default 100 000")
    demo.add_argument("--bookings", type=int, default=1_000_000, help="default 1 000 000")
    demo.add_argument("--ratings", type=int, default=200_000, help="default 200 000")
    demo.set_defaults(command_fn=commands.demo)

    superuser = sub.add_parser(
        "createsuperuser", help="create a staff superuser, or update it when run again"
    )
    superuser.add_argument("--username", help="default: BOARD_SUPERUSER_USERNAME")
    superuser.add_argument("--email", help="default: BOARD_SUPERUSER_EMAIL, or none")
    superuser.add_argument(
        "--password", help="default: BOARD_SUPERUSER_PASSWORD (preferred: flags are visible)"
    )
    superuser.set_defaults(command_fn=commands.createsuperuser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        configure_logging("board").error("invalid settings:\n%s", error)
        return 2
    configure_logging("board", settings.log_level)
    command: Command = args.command_fn
    try:
        return command(settings, args)
    except SettingsError as error:
        logging.getLogger("board").error("invalid settings: %s", error)
        return 2


if __name__ == "__main__":
    sys.exit(main())
