"""What the admin's pages use, kept on the admin app's state by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from admin.replay import ReplayRunner
from shared.application.board import Board
from shared.settings import Settings


@dataclass(frozen=True)
class AdminServices:
    settings: Settings
    # The gateway's own board (the command API's), opened when it starts.
    board_of: Callable[[], Board]
    replay: ReplayRunner


def services_of(request: Request) -> AdminServices:
    services: AdminServices = request.app.state.services
    return services
