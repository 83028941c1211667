"""Dependencies of the write endpoints, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from shared.application import Board
from shared.http.auth import current_caller, optional_caller
from shared.http.events import event_id_in_path
from shared.identity import Caller


async def board_app(request: Request) -> Board:
    board: Board = request.app.state.board
    return board


CurrentUser = Annotated[Caller, Depends(current_caller)]
OptionalUser = Annotated[Caller | None, Depends(optional_caller)]
BoardApp = Annotated[Board, Depends(board_app)]
EventId = Annotated[UUID, Depends(event_id_in_path)]
